"""The live loop of a loaded model: decode, feed, analyse, close events, until the stream ends,
stalls or Ctrl-C (``LoadedModel.stream``; ``avlocate run --live`` prints what it yields)."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ...features.base import Features
from ...results import Event
from .feed import LiveConfig, SnippetFeed
from .locator import ClosedEvent, LiveLocator, window_snippets


class Locator(Protocol):
    """Steps 2 and 3: features in, closed events out (LiveLocator; SegmentLiveLocator)."""

    def add(self, feats: Features) -> None: ...

    def step_closed(self) -> list[ClosedEvent]: ...

    def flush(self, end: float | None) -> list[ClosedEvent]: ...


def model_analyzer(loaded: Any, threshold: float | None) -> Callable[[Features], list[Event]]:
    """A window's events: the loaded model's own decoding (dense heads, zero-shot scoring)."""
    return lambda feats: loaded.predict(feats, threshold=threshold)[0]


def model_locator(loaded: Any, config: LiveConfig) -> Locator:
    """What turns a loaded model's features into closed events: a head that decides clip by
    clip (``live_by_clips``: zero-shot AV²A) runs the file run's clips; segment heads decide each
    second once (segments.py); every other model is analysed over a sliding window."""
    threshold = loaded.options.threshold
    if getattr(loaded.head, "live_by_clips", False):  # AV²A: the file run's clips, as they complete (av2a.py)
        from .av2a import Av2aLiveLocator

        return Av2aLiveLocator(loaded.head, threshold)
    if loaded.card.decode.get("kind") == "segments":
        from .segments import SegmentLiveLocator

        return SegmentLiveLocator(loaded, threshold)
    tl = loaded.extractor.timeline
    step = float(tl.stride) / float(tl.fps)
    return LiveLocator(model_analyzer(loaded, threshold), step, window_snippets(loaded, step, config), config)


class LiveStream:
    """An opened stream and the loop over it: iterate for the events as they close.

    ``on_chunk(seconds_received)`` is called after each decoded chunk (a printer's clock and
    progress). After the iteration: ``seconds_received``, ``interrupted`` (Ctrl-C), and
    ``ended_early`` (the warning when a network stream stalled or dropped, else None)."""

    def __init__(self, clip: Any, extractor: Any, locator: Locator, config: LiveConfig | None = None,
                 on_chunk: Callable[[float], None] | None = None) -> None:
        self.clip, self.extractor, self.locator = clip, extractor, locator
        self.config = config or LiveConfig()
        self.on_chunk = on_chunk
        self.seconds_received = 0.0
        self.interrupted = False

    @property
    def warnings(self) -> dict[str, str]:
        return self.clip.warnings

    @property
    def ended_early(self) -> str | None:
        return self.clip.warnings.get("stream")

    def __iter__(self) -> Iterator[ClosedEvent]:
        cfg, clip, extractor, locator = self.config, self.clip, self.extractor, self.locator
        tl = extractor.timeline
        step = float(tl.stride) / float(tl.fps)
        block = max(1, round(cfg.hop_seconds / step))
        lead = cfg.lead_snippets if cfg.lead_snippets is not None else int(getattr(extractor, "live_lead_snippets", 1))
        feed = self._feed = SnippetFeed(extractor, clip, block, lead)
        fps = clip.video.fps if clip.video is not None else tl.fps
        chunks = clip.chunks(frames_per_chunk=max(1, round(float(fps) * cfg.chunk_seconds)),
                             audio_chunk_seconds=cfg.chunk_seconds)
        try:
            for chunk in chunks:
                feats = feed.push(chunk)
                self.seconds_received = feed.seconds_received
                if self.on_chunk is not None:
                    self.on_chunk(feed.seconds_received)
                if feats is not None:
                    locator.add(feats)
                    yield from locator.step_closed()
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        yield from self._close_out()

    def interrupt(self) -> list[ClosedEvent]:
        """Ctrl-C while the caller held an event (the loop was paused at it): after closing the
        iteration, the events still open, from what was received."""
        self.interrupted = True
        return self._close_out()

    def _close_out(self) -> list[ClosedEvent]:
        """The last analysis, once: on the whole stream when it ended, else on what was received."""
        feed = getattr(self, "_feed", None)
        if feed is None or getattr(self, "_closed_out", False):
            return []
        self._closed_out = True
        clip = self.clip
        end = float(clip.duration) if not self.interrupted and math.isfinite(float(clip.duration)) else None
        tail = feed.finish(end)
        self.seconds_received = feed.seconds_received
        if tail is not None:
            self.locator.add(tail)
        return list(self.locator.flush(end))


def open_stream(loaded: Any, source: str, config: LiveConfig | None = None,
                on_chunk: Callable[[float], None] | None = None) -> LiveStream:
    """``loaded.stream(source)``: open the file, URL or ``-`` once and make its loop."""
    from ...media.onepass import StreamOptions
    from ...media.source import open_input_clip

    cfg = config or LiveConfig()
    locator = model_locator(loaded, cfg)
    clip = open_input_clip(source, loaded.extractor.media_request,
                           StreamOptions(stall_timeout=loaded.options.stall_timeout))
    return LiveStream(clip, loaded.extractor, locator, cfg, on_chunk)
