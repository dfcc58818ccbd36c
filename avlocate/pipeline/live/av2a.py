"""Steps 2 and 3 of ``--live`` for the zero-shot AV²A method: the file run's clips, as they complete.

The file run (:func:`avlocate.zeroshot.av2a.locate_segments`) cuts the video into clips of
``clip_seconds`` (10 s) from t = 0, runs AV²A on each on its own, then joins segments of one label
at most one frame apart across a clip boundary. Live does the same: a clip is analysed as soon as
its frames have arrived (the last, shorter one when the stream ends); a segment that ends within
one frame of the clip's end is held until the next clip is known (it may continue there), every
other one is printed at once. So the printed events are the file run's, each at most one clip
(plus the block the features arrive in) after its end, or later for a held one that keeps
continuing. Memory: one clip of features and the held segments.
"""
from __future__ import annotations

from typing import Any

import torch

from ...features.base import Features
from ...timeline import Timeline
from ...zeroshot.av2a import Segment, clip_segments, join, to_events
from .locator import ClosedEvent


class Av2aLiveLocator:
    """Closed events of AV²A over a stream, equal to the file run's (module doc)."""

    def __init__(self, zs: Any, threshold: float | None = None, min_duration: float | None = None) -> None:
        from ...zeroshot.methods import av2a_overrides

        self.cfg = av2a_overrides(zs.config, threshold, min_duration)
        self.text = zs.text_bank()
        self.visual: list[torch.Tensor] = []  # frames of the clip being filled
        self.audio: list[torch.Tensor] = []
        self.clip_start = 0  # first frame of that clip
        self.received = 0
        self.held: list[Segment] = []
        self.timeline: Timeline | None = None
        self.clip_frames = 0

    @property
    def analysed_seconds(self) -> float:
        if self.timeline is None or self.received == 0:
            return 0.0
        return float(self.timeline.spans(self.received)[-1, 1])

    def add(self, feats: Features) -> None:
        self.timeline = feats.timeline.with_duration(None)
        self.clip_frames = self.cfg.clip_frames(self.timeline.step_seconds)
        for i in range(feats.num_snippets):
            self.visual.append(feats.visual[i])
            self.audio.append(feats.audio[i])
            self.received += 1

    def _next_clip(self, frames: int) -> list[Segment]:
        v, a = torch.stack(self.visual[:frames]), torch.stack(self.audio[:frames])
        del self.visual[:frames], self.audio[:frames]
        start = self.clip_start
        self.clip_start += frames
        return [Segment(g.label, g.first + start, g.end + start, g.score) for g in clip_segments(v, a, self.text, self.cfg)]

    def _events(self, segments: list[Segment], end: float | None, now: float, final: bool) -> list[ClosedEvent]:
        assert self.timeline is not None
        events = to_events(segments, self.text.labels, self.timeline.with_duration(end), self.cfg.min_duration)
        return [ClosedEvent(e, now, final) for e in events]

    def step_closed(self) -> list[ClosedEvent]:
        closed: list[ClosedEvent] = []
        while self.clip_frames and len(self.visual) >= self.clip_frames:
            segments = join(self.held + self._next_clip(self.clip_frames))
            # a segment ending within one frame of this clip's end may be joined by the next clip
            self.held = [g for g in segments if g.end + 1 >= self.clip_start]
            done = [g for g in segments if g.end + 1 < self.clip_start]
            closed += self._events(done, None, self.analysed_seconds, False)
        return closed

    def flush(self, end: float | None) -> list[ClosedEvent]:
        """The end of the stream: the last (shorter) clip, then everything held."""
        now = end if end is not None else self.analysed_seconds
        closed = self.step_closed()
        segments = join(self.held + (self._next_clip(len(self.visual)) if self.visual else []))
        self.held = []
        if self.timeline is None:
            return closed
        return closed + [ClosedEvent(c.event, now, True) for c in self._events(segments, end, now, True)]
