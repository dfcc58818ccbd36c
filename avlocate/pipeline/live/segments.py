"""Steps 2 and 3 of ``--live`` for 1-second segment heads (VSCG, AVSGN): each second decided once.

A segment head sees ``size`` (10) segments at a time. The file run
(:func:`avlocate.heads.segment.windows.sliding_segment_probs`) slides windows starting at 0,
``hop``, 2*``hop``, ... and, when they do not end exactly at the video's end, one last window
aligned to the end; each second's probabilities are the mean over the windows covering it, and
its label is decided from that mean alone (``labels_from_probs`` works row by row).

Live runs the very same windows: a regular window as soon as its ``size`` seconds have arrived,
and the end-aligned one (or, for a stream shorter than one window, the padded window) only when
the stream ends. So each second's label equals the file run's. A second is *decided* once no
window still to come can cover it:

* no regular window: the next one starts after it (``second < next_start``);
* not the end window, whatever the stream's length: that window starts at ``total - size`` with
  ``total >= received``, so seconds before ``received - size`` are out of its reach.

An event (a run of one label) is printed when the second after it is decided with another label.
Delay bound: ``size + 1`` seconds of stream past the event's end (11 s for the AVE models), plus
the block the features arrive in. Memory: the features of at most ``size + hop`` seconds, the
probability sums of the undecided seconds, and the open run (its label, first second and score
sum), however long the stream.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import torch

from ...features.base import Features
from ...heads.segment.windows import sliding_segment_probs, window_starts
from ...results import Event
from ...timeline import Timeline
from .locator import ClosedEvent


@dataclass
class _Run:
    label: int
    first: int  # first second
    last: int  # last second
    score_sum: float


class SegmentLiveLocator:
    """Per-second decisions of a segment head, equal to the file run's (module doc)."""

    def __init__(self, loaded: Any, threshold: float | None, hop: int = 5) -> None:
        from ..models import ready_segment_head

        self.loaded, self.threshold, self.hop = loaded, threshold, hop
        self.head = ready_segment_head(loaded)
        self.size = int(getattr(getattr(self.head, "config", None), "num_segments", 10))
        self.classes: list[str] = list(loaded.card.classes)
        self.background = len(self.classes)
        self.audio: deque[torch.Tensor] = deque()  # segments first_held.. received-1
        self.visual: deque[torch.Tensor] = deque()
        self.first_held = 0
        self.received = 0
        self.next_start = 0  # start of the next regular window
        self.sums: dict[int, torch.Tensor] = {}  # undecided second -> probability sum
        self.counts: dict[int, int] = {}
        self.decided = 0  # seconds decided so far
        self.run: _Run | None = None
        self.timeline: Timeline | None = None

    @property
    def analysed_seconds(self) -> float:
        return float(self.received) * (self.timeline.step_seconds if self.timeline is not None else 1.0)

    def add(self, feats: Features) -> None:
        self.timeline = feats.timeline.with_duration(None)
        visual = feats.visual_segments()
        for i in range(feats.num_snippets):
            self.audio.append(feats.audio[i])
            self.visual.append(visual[i])
            self.received += 1

    def _window(self, start: int, stop: int) -> None:
        """Run the head on seconds start..stop-1 (padded when shorter than a window) and add
        the probabilities to those seconds' sums."""
        a = torch.stack([self.audio[i - self.first_held] for i in range(start, stop)])
        v = torch.stack([self.visual[i - self.first_held] for i in range(start, stop)])
        probs = sliding_segment_probs(self.head, a, v, size=self.size, hop=self.hop, device=self.loaded.device)
        for k, second in enumerate(range(start, stop)):
            self.sums[second] = self.sums[second] + probs[k] if second in self.sums else probs[k].clone()
            self.counts[second] = self.counts.get(second, 0) + 1

    def _decide(self, upto: int, now: float, final: bool) -> list[ClosedEvent]:
        """Decide seconds ``decided..upto-1``; the events their labels close."""
        closed: list[ClosedEvent] = []
        for second in range(self.decided, upto):
            probs = self.sums.pop(second) / self.counts.pop(second)
            label = int(self.head.labels_from_probs(probs[None])[0])
            score = float(probs[label])
            if self.run is not None and self.run.label == label:
                self.run.last, self.run.score_sum = second, self.run.score_sum + score
                continue
            closed += self._close(now, final, None)
            self.run = _Run(label, second, second, score)
        self.decided = max(self.decided, upto)
        return closed

    def _close(self, now: float, final: bool, end: float | None) -> list[ClosedEvent]:
        run, self.run = self.run, None
        if run is None or run.label == self.background or self.timeline is None:
            return []
        start, stop = self.timeline.with_duration(end).run_to_seconds(torch.tensor(run.first), torch.tensor(run.last))
        score = run.score_sum / (run.last - run.first + 1)
        if self.threshold is not None and score < self.threshold:
            return []
        event = Event(self.classes[run.label], round(float(start), 3), round(float(stop), 3), score)
        return [ClosedEvent(event, now, final)]

    def _forget(self) -> None:
        """Drop the features no window still to come reads (module doc: memory)."""
        keep_from = max(0, min(self.next_start, self.received - self.size))
        while self.first_held < keep_from:
            self.audio.popleft()
            self.visual.popleft()
            self.first_held += 1

    def _regular_windows(self) -> None:
        while self.next_start + self.size <= self.received:
            self._window(self.next_start, self.next_start + self.size)
            self.next_start += self.hop

    def step_closed(self) -> list[ClosedEvent]:
        self._regular_windows()
        closed = self._decide(max(0, min(self.next_start, self.received - self.size)), self.analysed_seconds, False)
        self._forget()
        return closed

    def flush(self, end: float | None) -> list[ClosedEvent]:
        """The end of the stream: the window only the end reveals (as the file run), then every
        second is decided and the open run printed."""
        now = end if end is not None else self.analysed_seconds
        total = self.received
        if total == 0:
            return []
        self._regular_windows()
        last = window_starts(total, self.size, self.hop)[-1]
        if self.next_start == 0:
            self._window(0, total)  # shorter than one window: the padded window, as the file run
        elif last > self.next_start - self.hop:
            self._window(last, total)  # the window aligned to the end
        return self._decide(total, now, True) + self._close(now, True, end)
