"""``avlocate run --live``: a stream that never ends, events printed as soon as they are closed.

Three steps, each with bounded memory, for as long as the stream runs:

1. **Snippets, block by block** (:class:`SnippetFeed`). Decoded chunks (small: ~0.5 s) go into
   a buffer; every ``hop_seconds`` of new complete snippets, the extractor runs on a short
   sub-clip holding just those snippets' frames and audio, starting ``lead`` snippets early so
   that the first kept snippet sees its preceding frame (motion features) as in the file run.
   Snippet times are converted to the decoded frame grid, which may be finer than the snippet
   rate (clip-clap decodes 4 frames/s for 0.5-s snippets, VGG19 16 frames/s for 1-s ones).
   Extractors whose snippets depend only on their own window (lite, I3D, VGGish, CLIP/CLAP per
   window) give the same features as the whole-file run; frames before the next block go away.
   At the end of the stream the last block is extracted with the stream's length, so the
   extractor keeps the windows it keeps for a file of that length (clip-clap: one ending up to
   0.1 s past the end, audio zero-padded).
2. **Analysis over a sliding window** (:class:`LiveLocator`). Every hop, the model runs on the
   newest ``window`` snippets (a dense head's ``max_seq_len``, as long files are cut; 30 s
   otherwise, or ``window_seconds``; the zero-shot scoring, per snippet with a 1-s moving
   average, likewise) and its events are shifted to stream time. Segment heads (VSCG, AVSGN) instead decide each second once, in the file
   run's own 10-s windows (:class:`~.segments.SegmentLiveLocator`, module doc there).
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
from .printer import LivePrinter
from .run import LiveOutcome, model_analyzer, run_live, run_live_cli, zeroshot_analyzer
from .segments import SegmentLiveLocator

__all__ = ["ClosedEvent", "LiveConfig", "LiveLocator", "LiveOutcome", "LivePrinter", "SegmentLiveLocator", "SnippetFeed",
           "model_analyzer", "run_live", "run_live_cli", "window_snippets", "zeroshot_analyzer"]
