"""Steps 2 and 3 of ``--live``: analysis over a sliding window, and when an event counts as closed
(see :mod:`avlocate.pipeline.live`)."""
from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ...features.base import Features
from ...results import Event
from .feed import LiveConfig


def _iou(a: Event, b: Event) -> float:
    inter = min(a.end, b.end) - max(a.start, b.start)
    union = max(a.end, b.end) - min(a.start, b.start)
    return inter / union if inter > 0 and union > 0 else 0.0


@dataclass
class ClosedEvent:
    event: Event
    stream_time: float  # stream seconds analysed when it was printed
    final: bool  # printed by the last analysis (end of stream, Ctrl-C, stall)


class LiveLocator:
    """Features in, closed events out (module doc, steps 2 and 3). ``analyze(features)`` gives the
    events of a window of features in that window's own seconds."""

    def __init__(self, analyze: Callable[[Features], list[Event]], step_seconds: float, window_snippets: int,
                 config: LiveConfig) -> None:
        self.analyze, self.step, self.window, self.cfg = analyze, step_seconds, max(1, window_snippets), config
        self.visual: deque[torch.Tensor] = deque()
        self.audio: deque[torch.Tensor] = deque()
        self.count = 0  # snippets received so far
        self.held = 0  # snippets held (<= window)
        self.printed: list[Event] = []  # recent printed events (pruned: flat memory)
        self.previous: list[Event] = []  # events of the previous analysis
        self.template: Features | None = None

    def add(self, feats: Features) -> None:
        self.template = feats
        for i in range(feats.num_snippets):
            self.visual.append(feats.visual[i])
            self.audio.append(feats.audio[i])
            self.count += 1
        while len(self.visual) > self.window:
            self.visual.popleft()
            self.audio.popleft()

    @property
    def analysed_seconds(self) -> float:
        """Stream time covered by the snippets received (end of the newest snippet's window)."""
        if self.template is None or self.count == 0:
            return 0.0
        tl = self.template.timeline
        return ((self.count - 1) * tl.stride + tl.window) / tl.fps

    def _events(self, end: float | None) -> tuple[list[Event], float]:
        if not self.visual or self.template is None:
            return [], 0.0
        first = self.count - len(self.visual)
        offset = first * self.step
        tl = self.template.timeline
        feats = Features(torch.stack(list(self.visual)), torch.stack(list(self.audio)), tl.with_duration(None),
                         self.template.extractor, {}, self.template.visual_shape)
        out = []
        for e in self.analyze(feats):
            start, stop = e.start + offset, e.end + offset
            if end is not None:
                start, stop = min(start, end), min(stop, end)
            out.append(dataclasses.replace(e, start=round(start, 3), end=round(stop, 3)))
        return out, offset

    def _stitch(self, events: list[Event], offset: float) -> list[Event]:
        """Events cut by the window's start (starting within one step of it) take the start of the
        event of the previous analysis that they continue (same label, overlapping); one
        continuing nothing is dropped. The cut start itself is not trusted: it is the window's
        edge, or a step off it where the edge-normalised smoothing lifted the first snippet.
        So an event longer than the window is printed whole, as the file run finds it, instead
        of being lost once its start leaves the window, and one printed already is recognised."""
        if offset <= 0:
            return events
        out = []
        for e in events:
            if e.start <= offset + self.step:
                before = [p.start for p in self.previous if p.label == e.label and p.start <= e.end and p.end >= e.start]
                if not before:
                    continue
                e = dataclasses.replace(e, start=min(before))
            out.append(e)
        return out

    def _is_printed(self, e: Event) -> bool:
        return any(p.label == e.label and _iou(p, e) >= self.cfg.duplicate_iou for p in self.printed)

    def _stable(self, e: Event) -> bool:
        tol = self.cfg.stable_tolerance
        return any(p.label == e.label and abs(p.start - e.start) <= tol and abs(p.end - e.end) <= tol
                   for p in self.previous)

    def step_closed(self) -> list[ClosedEvent]:
        """Analyse the current window; the events closed by it."""
        now = self.analysed_seconds
        events, offset = self._events(None)
        events = self._stitch(events, offset)
        closed = []
        for e in sorted(events, key=lambda e: (e.end, e.start)):
            if self._is_printed(e):
                continue
            waited = now - self.cfg.guard_seconds - e.end
            # Last chance: the next window (one hop on) will not hold guard_seconds before its end
            # (the margin trusted at the newest edge, mirrored at the oldest); only a window
            # shorter than the delay bound gets here before the other two rules.
            leaving = e.end < offset + self.cfg.hop_seconds + self.cfg.guard_seconds
            if waited >= 0 and (self._stable(e) or waited >= self.cfg.max_wait_seconds or leaving):
                closed.append(ClosedEvent(e, now, False))
                self.printed.append(e)
        self.previous = events
        # Events ending well before the window can never be matched again: flat memory over hours.
        self.printed = [p for p in self.printed if p.end >= offset - 60.0]
        return closed

    def flush(self, end: float | None) -> list[ClosedEvent]:
        """The last analysis (end of stream, Ctrl-C, stall): every event not printed yet."""
        events, offset = self._events(end)
        events = self._stitch(events, offset)
        now = end if end is not None else self.analysed_seconds
        out = []
        for e in sorted(events, key=lambda e: (e.end, e.start)):
            if not self._is_printed(e):
                out.append(ClosedEvent(e, now, True))
                self.printed.append(e)
        return out


def window_snippets(loaded: Any, step_seconds: float, config: LiveConfig) -> int:
    if config.window_seconds is not None:
        return max(1, round(config.window_seconds / step_seconds))
    max_len = getattr(getattr(getattr(loaded, "head", None), "cfg", None), "max_seq_len", None)
    if max_len:
        return int(max_len)
    return max(1, round(30.0 / step_seconds))
