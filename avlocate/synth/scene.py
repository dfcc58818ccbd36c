"""Scene sampling: which class is visible and which is audible when, drawn from a seed.

The data types (and how ground truth follows from them) are in ``occurrences.py``; this module
only decides where occurrences go. Times are drawn in whole milliseconds so that the rounded
ground truth *is* the rendered truth (no 0.9995 s distractor that rounds to 1 s). Positions are
fractions of the frame, so one scene renders at any size; only the aspect ratio enters the
sampling (to keep objects in frame).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .classes import BELL_F0_RANGE, BY_LABEL, GAIN_DB_RANGE, LABELS
from .occurrences import Interval, NeutralObject, NeutralTone, Occurrence, Scene

__all__ = ["Interval", "NeutralObject", "NeutralTone", "Occurrence", "Scene", "SceneConfig", "scene_from_seed"]

# ----------------------------------------------------------------------------------------------
# Sampling. All times below are integer milliseconds.

MARGIN_MS = 300  # nothing starts before 0.3 s or ends after duration - 0.3 s
SAME_CLASS_GAP_MS = 1000  # between two occurrences of one class: keeps the ground truth unambiguous
MIN_DISTRACTOR_MS = 1000
PARTIAL_PROB = 0.3
MAX_TRIES = 80


@dataclass
class SceneConfig:
    """What a video holds. Defaults: the avlocate synthetic-data spec (1-3 AV events, >= 1
    distractor per modality, ~30% partly overlapping events, 12-24 s)."""

    duration_range: tuple[float, float] = (12.0, 24.0)
    av_events: tuple[int, int] = (1, 3)  # inclusive range of audio-visual events per video
    visual_distractors: tuple[int, int] = (1, 2)
    audio_distractors: tuple[int, int] = (1, 2)
    partial_prob: float = PARTIAL_PROB
    neutral_object_prob: float = 0.35
    neutral_tone_prob: float = 0.3
    min_overlap_s: float = 1.5  # for overlap=True


@dataclass
class _Placed:
    label: str
    lo: int
    hi: int
    vis: tuple[int, int] | None
    box: tuple[float, float, float, float] | None  # x0, y0, x1, y1 in frame-height units


@dataclass
class _Sampler:
    rng: np.random.Generator
    dur_ms: int
    aspect: float
    placed: list[_Placed] = field(default_factory=list)
    occs: list[Occurrence] = field(default_factory=list)

    def time_ok(self, label: str, lo: int, hi: int) -> bool:
        if lo < MARGIN_MS or hi > self.dur_ms - MARGIN_MS:
            return False
        others = []
        for p in self.placed:
            if p.label == label:
                if lo < p.hi + SAME_CLASS_GAP_MS and p.lo < hi + SAME_CLASS_GAP_MS:
                    return False
            elif p.lo < hi and lo < p.hi:
                others.append(p)
        # At most two classes at once: no instant of [lo, hi) may see two other classes.
        for i, a in enumerate(others):
            for b in others[i + 1:]:
                if a.label != b.label and max(a.lo, b.lo, lo) < min(a.hi, b.hi, hi):
                    return False
        return True

    def draw_box(self, label: str, size: float, vis: tuple[int, int]) -> tuple[float, float, float, float] | None:
        ex, ey = BY_LABEL[label].extent
        h = size / 2
        hx, hy, pad = ex * h, ey * h, 0.02
        if 2 * (hx + pad) > self.aspect or 2 * (hy + pad) > 1:
            return None
        busy = [p.box for p in self.placed if p.box is not None and p.vis[0] < vis[1] and vis[0] < p.vis[1]]
        for _ in range(20):
            cx = self.rng.uniform(hx + pad, self.aspect - hx - pad)
            cy = self.rng.uniform(hy + pad, 1 - hy - pad)
            box = (cx - hx, cy - hy, cx + hx, cy + hy)
            if all(box[2] + pad <= b[0] or b[2] + pad <= box[0] or box[3] + pad <= b[1] or b[3] + pad <= box[1]
                   for b in busy):
                return box
        return None

    def add(self, label: str, vis: tuple[int, int] | None, aud: tuple[int, int] | None, offset: int) -> bool:
        """Shift the relative intervals by ``offset`` ms and keep them if every rule holds."""
        vis = None if vis is None else (vis[0] + offset, vis[1] + offset)
        aud = None if aud is None else (aud[0] + offset, aud[1] + offset)
        ends = [i for i in (vis, aud) if i is not None]
        lo, hi = min(i[0] for i in ends), max(i[1] for i in ends)
        if not self.time_ok(label, lo, hi):
            return False
        rng, spec = self.rng, BY_LABEL[label]
        size = float(rng.uniform(1 / 6, 1 / 4))
        box = None
        if vis is not None:
            box = self.draw_box(label, size, vis)
            if box is None:
                return False
        cx = (box[0] + box[2]) / 2 / self.aspect if box else float(rng.uniform(0.3, 0.7))
        cy = (box[1] + box[3]) / 2 if box else float(rng.uniform(0.3, 0.7))
        self.placed.append(_Placed(label, lo, hi, vis, box))
        self.occs.append(Occurrence(
            label=label,
            visible=None if vis is None else Interval(vis[0] / 1000, vis[1] / 1000),
            audible=None if aud is None else Interval(aud[0] / 1000, aud[1] / 1000),
            x=float(cx), y=float(cy), size=size,
            rate=float(rng.uniform(*spec.rate_range)),
            phase=float(rng.uniform(0, 1)),
            gain_db=float(rng.uniform(*GAIN_DB_RANGE)),
            pitch_hz=float(rng.uniform(*BELL_F0_RANGE)),
        ))
        return True

    def random_offset(self, span_ms: int) -> int | None:
        hi = self.dur_ms - MARGIN_MS - span_ms
        return None if hi < MARGIN_MS else int(self.rng.integers(MARGIN_MS, hi + 1))


def _ms(rng: np.random.Generator, lo_s: float, hi_s: float) -> int:
    return int(rng.integers(round(lo_s * 1000), max(round(lo_s * 1000), round(hi_s * 1000)) + 1))


def _av_intervals(rng: np.random.Generator, dur_ms: int, partial_prob: float):
    """Relative (visible, audible) intervals of one AV occurrence; the event starts at 0."""
    length = _ms(rng, 2.0, min(6.0, max(2.0, dur_ms / 2000)))
    vis, aud = [0, length], [0, length]
    if rng.random() < partial_prob:
        # One modality starts earlier and/or one ends later; parts under 1 s are trimmed (set to 0)
        # because a sub-second distractor glued to an event is ambiguous to annotate.
        for side in (0, 1):
            lead = vis if rng.random() < 0.5 else aud
            extra = _ms(rng, 0.3, 2.5)
            if extra >= MIN_DISTRACTOR_MS:
                lead[side] += -extra if side == 0 else extra
    return tuple(vis), tuple(aud)


def _try_av(s: _Sampler, cfg: SceneConfig) -> bool:
    for _ in range(MAX_TRIES):
        label = LABELS[int(s.rng.integers(len(LABELS)))]
        vis, aud = _av_intervals(s.rng, s.dur_ms, cfg.partial_prob)
        lo = min(vis[0], aud[0])
        offset = s.random_offset(max(vis[1], aud[1]) - lo)
        if offset is not None and s.add(label, vis, aud, offset - lo):
            return True
    return False


def _try_single(s: _Sampler, modality: str) -> bool:
    for _ in range(MAX_TRIES):
        label = LABELS[int(s.rng.integers(len(LABELS)))]
        length = _ms(s.rng, 1.5, min(4.0, max(1.5, s.dur_ms / 3000)))
        offset = s.random_offset(length)
        iv = (0, length)
        if offset is not None and s.add(label, iv if modality == "visual" else None,
                                        iv if modality == "audio" else None, offset):
            return True
    return False


def _try_overlap_pair(s: _Sampler, min_overlap_ms: int) -> bool:
    for _ in range(MAX_TRIES):
        a, b = (LABELS[int(i)] for i in s.rng.choice(len(LABELS), size=2, replace=False))
        top = min(6.0, max(2.5, s.dur_ms / 2000))
        la, lb = _ms(s.rng, 2.5, top), _ms(s.rng, 2.5, top)
        ov = _ms(s.rng, min_overlap_ms / 1000, min(la, lb) / 1000)
        oa = s.random_offset(la + lb - ov)
        if oa is None:
            continue
        # Either order: b starts inside a, or a starts inside b.
        if s.rng.random() < 0.5:
            oa, ob = oa, oa + la - ov
        else:
            oa, ob = oa + lb - ov, oa
        mark = (len(s.placed), len(s.occs))
        if s.add(a, (0, la), (0, la), oa) and s.add(b, (0, lb), (0, lb), ob):
            return True
        del s.placed[mark[0]:], s.occs[mark[1]:]
    return False


def _neutrals(rng: np.random.Generator, dur_ms: int,
              cfg: SceneConfig) -> tuple[tuple[NeutralObject, ...], tuple[NeutralTone, ...]]:
    objs: list[NeutralObject] = []
    tones: list[NeutralTone] = []
    if rng.random() < cfg.neutral_object_prob:
        length = _ms(rng, 2.0, min(6.0, dur_ms / 1000 - 0.6))
        start = int(rng.integers(MARGIN_MS, max(MARGIN_MS, dur_ms - MARGIN_MS - length) + 1))
        x0, x1 = rng.uniform(0.15, 0.85, size=2)
        grey = float(rng.choice([rng.uniform(0.18, 0.3), rng.uniform(0.72, 0.85)]))
        objs.append(NeutralObject(Interval(start / 1000, (start + length) / 1000), float(x0),
                                  float(rng.uniform(0.2, 0.8)), float(rng.uniform(1 / 6, 1 / 4)),
                                  float((x1 - x0) / (length / 1000)), grey,
                                  "disc" if rng.random() < 0.5 else "square"))
    if rng.random() < cfg.neutral_tone_prob:
        length = _ms(rng, 2.0, min(5.0, dur_ms / 1000 - 0.6))
        start = int(rng.integers(MARGIN_MS, max(MARGIN_MS, dur_ms - MARGIN_MS - length) + 1))
        tones.append(NeutralTone(Interval(start / 1000, (start + length) / 1000),
                                 float(rng.uniform(3000.0, 3400.0)), float(rng.uniform(-30.0, -22.0))))
    return tuple(objs), tuple(tones)


def scene_from_seed(seed: int, duration: float | None = None, overlap: bool = False,
                    aspect: float = 4 / 3, config: SceneConfig | None = None) -> Scene:
    """The scene of ``seed``: same arguments, same scene, on every machine (numpy PCG64)."""
    cfg = config or SceneConfig()
    rng = np.random.default_rng(seed)
    if duration is None:
        duration = float(rng.uniform(*cfg.duration_range))
    dur_ms = int(round(duration * 1000))
    if dur_ms < 6000:
        raise ValueError(f"synthetic videos need at least 6 s (got {duration:.3f} s)")
    for _ in range(200):
        s = _Sampler(rng, dur_ms, aspect)
        n_av = int(rng.integers(cfg.av_events[0], cfg.av_events[1] + 1))
        n_vis = int(rng.integers(cfg.visual_distractors[0], cfg.visual_distractors[1] + 1))
        n_aud = int(rng.integers(cfg.audio_distractors[0], cfg.audio_distractors[1] + 1))
        if overlap:
            if not _try_overlap_pair(s, int(round(cfg.min_overlap_s * 1000))):
                continue
            n_av = max(0, n_av - 2)
        elif not _try_av(s, cfg):
            continue
        else:
            n_av -= 1
        # The first distractor of each modality is required; extra ones are kept when they fit.
        if not (_try_single(s, "visual") and _try_single(s, "audio")):
            continue
        for _ in range(n_av):
            _try_av(s, cfg)
        for _ in range(n_vis - 1):
            _try_single(s, "visual")
        for _ in range(n_aud - 1):
            _try_single(s, "audio")
        objs, tones = _neutrals(rng, dur_ms, cfg)
        occs = tuple(sorted(s.occs, key=lambda o: (o.span.start, o.label)))
        return Scene(int(seed), dur_ms / 1000, occs, objs, tones, aspect)
    raise ValueError(f"could not place a valid scene in {duration:.3f} s (seed {seed})")
