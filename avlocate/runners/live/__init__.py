"""``avlocate run --live``: the command's side of following a stream (its one JSON line per event,
progress, exit codes). The loop itself is the loaded model's (:mod:`avlocate.pipeline.live`,
``LoadedModel.stream``); its parts are re-exported here.
"""
from __future__ import annotations

from ...pipeline.live import (ClosedEvent, LiveConfig, LiveLocator, LiveStream, SegmentLiveLocator, SnippetFeed,
                              model_analyzer, window_snippets)
from .printer import LivePrinter
from .run import LiveOutcome, run_live, run_live_cli

__all__ = ["ClosedEvent", "LiveConfig", "LiveLocator", "LiveOutcome", "LivePrinter", "LiveStream", "SegmentLiveLocator",
           "SnippetFeed", "model_analyzer", "run_live", "run_live_cli", "window_snippets"]
