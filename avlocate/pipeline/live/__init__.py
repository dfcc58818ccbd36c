"""A loaded model following a stream that never ends (``LoadedModel.stream``, ``avlocate run --live``):
events given as soon as they are closed.

Three steps, each with bounded memory, for as long as the stream runs:

1. **Snippets, block by block** (:class:`SnippetFeed`). Decoded chunks (small: ~0.5 s) go into
   a buffer; every ``hop_seconds`` of new complete snippets, the extractor runs on a short
   sub-clip holding just those snippets' frames and audio (counted on the decoded frame grid,
   which need not be the Timeline's: 16 frames per 1-s VGG-19 segment), starting ``lead``
   snippets early so that what the first kept snippet reads before its window (lite's previous
   frame, the 16 kHz resampler's left taps) is there as in the file run. Snippets the extractor
   cannot make yet (an I3D window reads one frame past its 24, a VGGish example 0.975 s) come
   with the next block; the last block, at the end, holds everything received, so the file's
   partial tail snippets are made as in the file run; the resampler continues the file run's
   float time register. So every built-in extractor (lite, i3d-vggish, vgg19-vggish, clip-clap)
   gives the whole-file run's features, to batch-size rounding (tests/cli/test_live.py,
   tests/features/test_live_block_features.py; details in :mod:`.feed`). Frames before the
   next block go away.
2. **Analysis over a sliding window** (:class:`LiveLocator`). Every hop, the model runs on the
   newest ``window`` snippets (a dense head's ``max_seq_len``, as long files are cut; 30 s
   otherwise, or ``window_seconds``; the zero-shot scoring, per snippet with a 1-s moving
   average, likewise) and its events are shifted to stream time. Segment heads (VSCG, AVSGN)
   instead decide each second once, in the file run's own 10-s windows
   (:class:`~.segments.SegmentLiveLocator`, module doc there).
3. **Closing** an event: it is printed once it ends ``guard_seconds`` before the newest snippet
   AND two analyses in a row agree on it (same label, ends within ``stable_tolerance``); one
   still changing is printed anyway ``max_wait_seconds`` later, or when the next window would
   no longer hold ``guard_seconds`` before its end. An event cut by the window's start takes
   the start of the event of the previous analysis that it continues (**stitching**), so an
   event longer than the window is printed whole; one continuing nothing is dropped. An event
   matching a printed one (same label, overlap IoU >= ``duplicate_iou``) is not printed again.

Same events as the file run (labels, times within 0.1 s: tests/cli/test_live.py for the demo
model, tests/zeroshot/test_live_zeroshot.py for ``--model zeroshot``, with a 30-s and a 6-s
window). Differences left on purpose:

* an event's ``score`` is the one of the window that closed it (for a stitched event, the part
  still in that window), not of the whole run;
* windows shorter than the delay bound (``window_seconds`` < guard + wait + hop, 6 s) see an
  event's start or end only at their edges, where a model (or the zero-shot moving average,
  edge-normalised) differs from the file run: times may be off by a snippet or two there;
* an event still changing after ``max_wait_seconds`` is printed as it stood then;
* a stream read through a pipe or URL is as long as its decoded data, a file as its probe says
  (they can differ by a frame; the last snippets and the clamp of the final events follow).

Delay bound (README): an event's line is printed when the processed stream time is at most
``guard + max_wait + hop`` (6 s by default) past the event's end, plus the time decoding and the
models lag behind (shown on a terminal). At the end of the stream, on Ctrl-C, or when a network
stream stalls, the last analysis runs on what was received and the events still open are printed
(``"final": true``).
"""
from __future__ import annotations

from .feed import LiveConfig, SnippetFeed
from .locator import ClosedEvent, LiveLocator, window_snippets
from .segments import SegmentLiveLocator
from .stream import LiveStream, model_analyzer, model_locator, open_stream

__all__ = ["ClosedEvent", "LiveConfig", "LiveLocator", "LiveStream", "SegmentLiveLocator", "SnippetFeed",
           "model_analyzer", "model_locator", "open_stream", "window_snippets"]
