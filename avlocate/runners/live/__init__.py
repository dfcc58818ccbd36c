"""``avlocate run --live``: a stream that never ends, events printed as soon as they are closed.

Three steps, each with bounded memory, for as long as the stream runs:

1. **Snippets, block by block** (:class:`SnippetFeed`). Decoded chunks (small: ~0.5 s) go into
   a buffer; every ``hop_seconds`` of new complete snippets, the extractor runs on a short
   sub-clip holding just those snippets' frames and audio, starting ``lead`` snippets early so
   that the first kept snippet sees its preceding frame (motion features) as in the file run.
   Extractors whose snippets depend only on their own window (lite, I3D, VGGish, CLIP/CLAP per
   window) give the same features as the whole-file run; frames before the next block go away.
2. **Analysis over a sliding window** (:class:`LiveLocator`). Every hop, the model runs on the
   newest ``window`` snippets (a dense head's ``max_seq_len``, as long files are cut; 30 s
   otherwise; segment heads decide per second inside it) and its events are shifted to stream
   time.
3. **Closing** an event: it is printed once it ends ``guard_seconds`` before the newest snippet
   AND two analyses in a row agree on it (same label, ends within ``stable_tolerance``); one
   still changing is printed anyway ``max_wait_seconds`` later. Events cut by the window's start
   are the ones already printed. An event matching a printed one (same label, overlap IoU >=
   ``duplicate_iou``) is not printed again.

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

__all__ = ["ClosedEvent", "LiveConfig", "LiveLocator", "LiveOutcome", "LivePrinter", "SnippetFeed", "model_analyzer",
           "run_live", "run_live_cli", "window_snippets", "zeroshot_analyzer"]
