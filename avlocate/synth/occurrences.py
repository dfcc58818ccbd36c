"""Scene data: intervals, occurrences and the ground truth they imply.

An occurrence is one instance of a class with a visible interval (its object is on screen), an
audible interval (its sound plays), or both. The ground truth follows from the definition "an
event is audio-visual only while its object is visible AND its sound audible":

* the intersection of an occurrence's visible and audible intervals is an audio-visual event;
* the parts of either interval outside that intersection are distractors of that modality.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .classes import LABELS


@dataclass(frozen=True)
class Interval:
    start: float  # seconds
    end: float  # seconds (exclusive)

    @property
    def length(self) -> float:
        return self.end - self.start

    def contains(self, t: float | np.ndarray) -> bool | np.ndarray:
        return (t >= self.start) & (t < self.end)

    def intersect(self, other: "Interval") -> "Interval | None":
        lo, hi = max(self.start, other.start), min(self.end, other.end)
        return Interval(lo, hi) if hi > lo else None


@dataclass(frozen=True)
class Occurrence:
    """One instance of a class. Motion and sound share ``rate``/``phase`` so they are in step."""

    label: str
    visible: Interval | None
    audible: Interval | None
    x: float = 0.5  # object centre, fraction of frame width
    y: float = 0.5  # object centre, fraction of frame height
    size: float = 0.2  # object height, fraction of frame height
    rate: float = 2.0  # Hz: bell strikes, siren sweeps, engine AM, drum clicks
    phase: float = 0.0  # cycles, in [0, 1)
    gain_db: float = -14.0  # RMS of the sound over its active time, dBFS
    pitch_hz: float = 770.0  # bell fundamental (other classes ignore it)

    @property
    def span(self) -> Interval:
        parts = [i for i in (self.visible, self.audible) if i is not None]
        return Interval(min(i.start for i in parts), max(i.end for i in parts))

    @property
    def t0(self) -> float:
        """Time origin of the rhythm, common to picture and sound.

        It is the sound's onset when there is a sound, so that a bell's first strike and a drum's
        first click fall exactly on the start of the audible interval (no silent lead-in that the
        ground truth would count as audible); the picture follows the same clock.
        """
        return self.audible.start if self.audible is not None else self.span.start

    @property
    def event(self) -> Interval | None:
        if self.visible is None or self.audible is None:
            return None
        return self.visible.intersect(self.audible)

    def distractor_parts(self) -> list[tuple[str, Interval]]:
        """(modality, interval) pieces where only one modality is present."""
        out: list[tuple[str, Interval]] = []
        for modality, own, other in (("visual", self.visible, self.audible), ("audio", self.audible, self.visible)):
            if own is None:
                continue
            if other is None or own.intersect(other) is None:
                out.append((modality, own))
                continue
            if own.start < other.start:
                out.append((modality, Interval(own.start, other.start)))
            if own.end > other.end:
                out.append((modality, Interval(other.end, own.end)))
        return out


@dataclass(frozen=True)
class NeutralObject:
    """A grey object of no class (drawn under the class objects): something visible to ignore."""

    interval: Interval
    x: float
    y: float
    size: float
    vx: float  # horizontal drift, frame widths per second
    grey: float  # 0..1
    shape: str  # disc | square


@dataclass(frozen=True)
class NeutralTone:
    """A steady tone of no class, above every class band used for evaluation (3.0-3.4 kHz)."""

    interval: Interval
    freq_hz: float
    gain_db: float


@dataclass(frozen=True)
class Scene:
    seed: int
    duration: float
    occurrences: tuple[Occurrence, ...]
    neutral_objects: tuple[NeutralObject, ...] = ()
    neutral_tones: tuple[NeutralTone, ...] = ()
    aspect: float = 4 / 3  # width / height the positions were drawn for

    def events(self) -> list[dict[str, Any]]:
        evs = [(o.label, o.event) for o in self.occurrences if o.event is not None]
        return [_row(label, iv) for label, iv in sorted(evs, key=lambda e: (e[1].start, e[0]))]

    def distractors(self) -> list[dict[str, Any]]:
        parts = [(o.label, m, iv) for o in self.occurrences for m, iv in o.distractor_parts()]
        parts.sort(key=lambda p: (p[2].start, p[0], p[1]))
        return [{"label": label, "modality": m, **_times(iv)} for label, m, iv in parts]

    def activity(self, times: np.ndarray) -> np.ndarray:
        """Bool array (len(times), len(LABELS), 2): is each class visible / audible at each time.

        Frame- or snippet-level training targets follow directly: audio-visual = both true.
        """
        t = np.asarray(times, dtype=np.float64)
        out = np.zeros((t.size, len(LABELS), 2), dtype=bool)
        for o in self.occurrences:
            k = LABELS.index(o.label)
            for m, iv in enumerate((o.visible, o.audible)):
                if iv is not None:
                    out[:, k, m] |= iv.contains(t)
        return out

    def ground_truth(self, video_name: str) -> dict[str, Any]:
        return {
            "video": video_name,
            "duration": round(self.duration, 3),
            "events": self.events(),
            "distractors": self.distractors(),
        }


def _times(iv: Interval) -> dict[str, float]:
    return {"start": round(iv.start, 3), "end": round(iv.end, 3)}


def _row(label: str, iv: Interval) -> dict[str, Any]:
    return {"label": label, **_times(iv)}
