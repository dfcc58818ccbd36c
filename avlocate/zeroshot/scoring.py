"""Zero-shot scoring and decoding: embeddings + text bank -> per-snippet scores -> events.

Pure torch, no encoder library, vectorised (no Python loop over snippets or labels).

1. Per modality: cosine similarity of each snippet embedding to each label's prompt ensemble and
   to the background ensemble, divided by a temperature, softmax over the K labels + background.
   Default temperature 0.01: CLIP's trained logit scale is 100 (its clamp value); CLAP's learned
   scale depends on the checkpoint and is not known here, so the same value is the default.
   These probabilities are "calibrated" only in the sense the encoders' own contrastive
   training gives; nothing here was fitted to event data.
   Chance correction (default on): ``p' = max(0, (p - c) / (1 - c))`` with chance level
   ``c = 1/(K+1)``, so an uninformative modality scores 0 for any vocabulary size (with one
   label, a shrugging softmax gives 0.5; with 100 labels, 0.01).
2. Audio-visual score, high only when both modalities agree. Default: the **minimum** of the
   two — an event needs each modality on its own to reach the threshold. We tried the geometric
   mean ``sqrt(p_a * p_v)`` first (a smooth AND that ranks a confident pair above a lukewarm one)
   but it lets ONE confident modality carry an uninformative one: sqrt(1.0 * 0.2) = 0.45 for 4
   labels at chance, above any useful threshold — exactly the single-modality distractor the
   model must reject. ``fusion="geometric"`` remains an option (better ranking when both
   encoders are informative, e.g. for mAP).
3. Temporal smoothing of the fused score: a centred moving average over ``smoothing_seconds``
   (edge-normalised, so the first and last snippets are not pulled towards 0). Fusing before
   smoothing keeps the boundaries where both modalities hold: smoothed per-modality
   probabilities would let one confident modality pull the fused edges outward.
4. Hysteresis thresholding per label: a run of snippets with score >= ``low_threshold`` becomes
   an event when its peak reaches ``threshold`` (the low level keeps an event from breaking up
   at a brief dip, the high level keeps noise from starting one). The run's ends are then
   trimmed to where the score is at least ``edge_fraction`` (0.5) of the run's peak: smoothing
   spreads a step over its neighbours and the low level would follow that spread outwards,
   while a symmetric filter's half-height crossing stays at the step. Events shorter than
   ``min_duration`` are dropped. Event score = the mean score over the trimmed run.
5. Per-modality reports (``--per-modality``): "heard, not seen" = fuse(p_audio, 1 - p_visual)
   and "seen, not heard" = fuse(p_visual, 1 - p_audio), decoded the same way and marked
   ``Event.modality = "audio"`` / ``"visual"``.

Seconds come only from the extractor's Timeline: a run of snippets spans
``Timeline.run_to_seconds`` (one hop around each snippet centre); a run touching the first or
last snippet is extended to that window's edge (``Timeline.spans``) so events at the very
start/end of a video start at 0 / end at the last window's end.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..results import Event
from ..timeline import Timeline
from .prompts import TextBank

FUSIONS = ("geometric", "min")


@dataclass
class ZeroShotConfig:
    # Untuned defaults: no real CLIP/CLAP weights were available to fit them (see README).
    visual_temperature: float = 0.01
    audio_temperature: float = 0.01
    fusion: str = "min"  # "min" | "geometric" (see the module docstring for the choice)
    chance_correction: bool = True  # rescale p so that chance level 1/(K+1) -> 0 and 1 -> 1
    threshold: float = 0.35  # hysteresis high level (peak an event must reach)
    low_threshold: float | None = None  # hysteresis low level; None -> 0.6 * threshold
    smoothing_seconds: float = 1.0  # moving-average width; <= one hop disables smoothing
    min_duration: float = 1.0  # seconds; shorter events are dropped
    edge_fraction: float = 0.5  # event ends = where the score falls below this share of its peak

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if not (0.0 <= self.threshold <= 1.0):
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.low_threshold is not None and not (0.0 <= self.low_threshold <= self.threshold):
            raise ValueError(f"low_threshold must be in [0, threshold], got {self.low_threshold}")
        if self.visual_temperature <= 0 or self.audio_temperature <= 0:
            raise ValueError("temperatures must be > 0")
        if not 0.0 <= self.edge_fraction <= 1.0:
            raise ValueError(f"edge_fraction must be in [0, 1], got {self.edge_fraction}")
        if self.smoothing_seconds < 0 or self.min_duration < 0:
            raise ValueError("smoothing_seconds and min_duration must be >= 0")

    @property
    def low(self) -> float:
        return 0.6 * self.threshold if self.low_threshold is None else self.low_threshold


@dataclass(frozen=True)
class ZeroShotScores:
    """(T, K) per-snippet scores in [0, 1], after smoothing."""

    labels: tuple[str, ...]
    audio: torch.Tensor  # P(label | audio window)
    visual: torch.Tensor  # P(label | frames)
    av: torch.Tensor  # both agree (fused)
    audio_only: torch.Tensor  # heard, not seen
    visual_only: torch.Tensor  # seen, not heard


def class_probs(emb: torch.Tensor, text: torch.Tensor, temperature: float) -> torch.Tensor:
    """(T, D) snippet embeddings x (K+1, D) text rows -> (T, K+1) softmax of cosine / temperature."""
    sims = F.normalize(emb.float(), dim=-1) @ F.normalize(text.float(), dim=-1).T
    return torch.softmax(sims / temperature, dim=-1)


def smooth(x: torch.Tensor, width: int) -> torch.Tensor:
    """Centred moving average of (T, K) over ``width`` snippets (odd), edge-normalised."""
    if width <= 1 or x.shape[0] == 0:
        return x
    k = x.shape[1]
    kernel = torch.ones(k, 1, width, dtype=x.dtype)
    pad = width // 2
    sums = F.conv1d(x.T.unsqueeze(0), kernel, padding=pad, groups=k)[0].T
    counts = F.conv1d(torch.ones(1, 1, x.shape[0], dtype=x.dtype), kernel[:1], padding=pad)[0, 0]
    return sums / counts[:, None]


def above_chance(p: torch.Tensor, num_labels: int) -> torch.Tensor:
    """``(p - c) / (1 - c)`` clipped at 0, with chance level ``c = 1 / (K + 1)``: a modality that
    knows nothing (uniform softmax) scores 0 whatever the vocabulary size, so one threshold means
    the same for ``--labels "dog barking"`` (c = 0.5) and ``--vocab unav100`` (c ~ 0.01)."""
    chance = 1.0 / (num_labels + 1)
    return ((p - chance) / (1.0 - chance)).clamp(min=0.0)


def fuse(a: torch.Tensor, b: torch.Tensor, how: str = "geometric") -> torch.Tensor:
    if how == "geometric":
        return torch.sqrt((a * b).clamp(min=0.0))
    if how == "min":
        return torch.minimum(a, b)
    raise ValueError(f"fusion must be one of {FUSIONS}, got {how!r}")


def smoothing_width(seconds: float, step_seconds: float) -> int:
    """Odd number of snippets covering about ``seconds`` (1 = no smoothing)."""
    n = int(round(seconds / step_seconds))
    return max(1, n + 1 - n % 2) if n > 1 else 1


def score_snippets(visual: torch.Tensor, audio: torch.Tensor, bank: TextBank, step_seconds: float,
                   config: ZeroShotConfig | None = None) -> ZeroShotScores:
    """Per-snippet zero-shot scores of one video's (T, Dv) / (T, Da) embeddings."""
    c = config or ZeroShotConfig()
    if visual.shape[0] != audio.shape[0]:
        raise ValueError(f"visual has {visual.shape[0]} snippets but audio {audio.shape[0]}")
    k = len(bank.labels)
    width = smoothing_width(c.smoothing_seconds, step_seconds)
    pv = class_probs(visual, bank.visual, c.visual_temperature)[:, :k]
    pa = class_probs(audio, bank.audio, c.audio_temperature)[:, :k]
    if c.chance_correction:
        pv, pa = above_chance(pv, k), above_chance(pa, k)
    # Fuse first, smooth after: smoothing each modality first would let a confident modality
    # drag the fused score's edges outward (sqrt(1 * p/3) is already 0.58), shifting boundaries.
    return ZeroShotScores(bank.labels, smooth(pa, width), smooth(pv, width), smooth(fuse(pa, pv, c.fusion), width),
                          smooth(fuse(pa, 1.0 - pv, c.fusion), width), smooth(fuse(pv, 1.0 - pa, c.fusion), width))


@dataclass(frozen=True)
class Runs:
    label: torch.Tensor  # (n,) label index
    first: torch.Tensor  # (n,) first snippet
    last: torch.Tensor  # (n,) last snippet (inclusive)
    score: torch.Tensor  # (n,) mean score over the run


def hysteresis_runs(score: torch.Tensor, high: float, low: float, edge_fraction: float = 0.0) -> Runs:
    """Runs of ``score >= low`` (per label column of a (T, K) tensor) whose peak is >= ``high``,
    optionally trimmed to where the score is >= ``edge_fraction`` of the run's peak."""
    t, k = score.shape
    empty = torch.zeros(0, dtype=torch.long)
    if t == 0 or k == 0:
        return Runs(empty, empty, empty, torch.zeros(0))
    # Lay the K label columns end to end with one inactive separator each, so runs never span labels.
    s = torch.cat([score.T.float(), torch.zeros(k, 1)], dim=1).reshape(-1)
    active = torch.cat([(score.T >= low), torch.zeros(k, 1, dtype=torch.bool)], dim=1).reshape(-1)
    starts = active & ~torch.cat([torch.zeros(1, dtype=torch.bool), active[:-1]])
    n = int(starts.sum())
    if n == 0:
        return Runs(empty, empty, empty, torch.zeros(0))
    run = (torch.cumsum(starts.long(), 0) - 1)[active]
    pos = torch.nonzero(active)[:, 0]
    vals = s[active]
    peak = torch.full((n,), -1.0).scatter_reduce(0, run, vals, "amax", include_self=False)
    total = torch.zeros(n).index_add(0, run, vals)
    count = torch.bincount(run, minlength=n)
    first = torch.zeros(n, dtype=torch.long).scatter_reduce(0, run, pos, "amin", include_self=False)
    last = torch.zeros(n, dtype=torch.long).scatter_reduce(0, run, pos, "amax", include_self=False)
    keep = peak >= high
    stride = t + 1
    if edge_fraction > 0:
        # Trim each run's ends to its first/last snippet at >= edge_fraction * peak: a smoothed
        # step crosses half its height where the step is, while the low level reaches further out.
        inner = vals >= edge_fraction * peak[run]
        first = first.scatter_reduce(0, run[inner], pos[inner], "amin", include_self=False)
        last = last.scatter_reduce(0, run[inner], pos[inner], "amax", include_self=False)
        in_span = (pos >= first[run]) & (pos <= last[run])
        total = torch.zeros(n).index_add(0, run[in_span], vals[in_span])
        count = torch.bincount(run[in_span], minlength=n)
    return Runs(first[keep] // stride, first[keep] % stride, last[keep] % stride, (total / count)[keep])


def runs_to_events(runs: Runs, labels: tuple[str, ...], timeline: Timeline, num_snippets: int,
                   min_duration: float = 0.0, modality: str | None = None) -> list[Event]:
    if runs.first.numel() == 0:
        return []
    start, end = timeline.run_to_seconds(runs.first, runs.last)
    spans = timeline.spans(num_snippets)
    start = torch.where(runs.first == 0, spans[0, 0], start)
    end = torch.where(runs.last == num_snippets - 1, spans[-1, 1], end)
    keep = (end - start) >= min_duration - 1e-9
    return [Event(labels[int(i)], float(a), float(b), float(min(max(sc, 0.0), 1.0)), modality)
            for i, a, b, sc in zip(runs.label[keep], start[keep], end[keep], runs.score[keep])]


def decode(scores: ZeroShotScores, timeline: Timeline, config: ZeroShotConfig | None = None,
           per_modality: bool = False) -> list[Event]:
    """Events of one video: audio-visual ones, plus audio-only / visual-only when asked for."""
    c = config or ZeroShotConfig()
    t = int(scores.av.shape[0])
    streams: list[tuple[torch.Tensor, str | None]] = [(scores.av, None)]
    if per_modality:
        streams += [(scores.audio_only, "audio"), (scores.visual_only, "visual")]
    events: list[Event] = []
    for values, modality in streams:
        runs = hysteresis_runs(values, c.threshold, c.low, c.edge_fraction)
        events += runs_to_events(runs, scores.labels, timeline, t, c.min_duration, modality)
    return events
