"""AV²A: training-free audio-visual event localization with dynamic thresholds (CVPR 2025).

Shaar, Shaulov, Chechik, Wolf, "Adapting to the Unknown: Training-Free Audio-Visual Event
Perception with Dynamic Thresholds", CVPR 2025, arXiv 2503.13693; public code: github
eitan159/AV2A. Written here from the paper's description and a reading of that code (its
``video_parser_optmizer.py``, ``label_shift.py``, ``backbones.py``/``model.py``, README). The
stored snapshots we could read are from the repository's history; which of them equals commit
b0d6db8 could not be verified here, so where versions differ the choice is said below.

Pure functions on tensors (no encoder library, no media): per-"frame" embeddings in, events out.
A *frame* is one snippet of the clip-clap extractor; for this method 1-s windows every 1 s (AVE's
segment grid, which AV²A's 10-frames-per-10-s-clip sampling approximates).

The recipe, step by step (each a function below):

1. Prompts (:data:`CLIP_TEMPLATE`, :data:`CLAP_TEMPLATE`): "A {label}" for CLIP, "This is a
   sound of {label}" for CLAP; one prompt per label, no background class.
2. :func:`zscore_sigmoid`: per modality, the similarities of one frame to the K labels are
   z-scored over the labels (mean, unbiased std, as ``torch.std``) and put through a sigmoid:
   independent, multi-label scores in (0, 1), 0.5 = this frame's average label.
3. :func:`fuse`: score-level ("early") fusion ``(1 - alpha) * visual + alpha * audio``.
   NOTE the weight: the official code (``calculate_combined_similarity``) weights *audio* by
   alpha, and its CLIP+CLAP command uses alpha 0.45 (visual 0.55, audio 0.45). Summaries that
   read "alpha * visual" disagree with the code; we follow the code that produced the numbers.
4. :func:`class_filter`: a first pass over the whole clip keeps the labels whose clip-level
   fused score is above ``filter_threshold`` (0.5). Every later score is z-scored over the kept
   labels only, as the official code re-computes them with the filtered label list.
5. :func:`dynamic_thresholds`: per label, the threshold starts at ``threshold`` (0.75) and at
   each frame t -> t+1 falls by ``threshold * exp(-gamma * n_k)`` (``n_k``: frames 0..t where
   label k fired, gamma 1 for CLIP+CLAP), times the cosine of the consecutive frames' image
   embeddings (clipped to [0, 1]), times the BBSE label-shift ratio of :func:`bbse_ratio`
   (method "bbse-cosine", the README's). A label fires at a frame when its score is strictly
   above that frame's threshold.
6. :func:`build_runs`: per label, runs of consecutive firing frames; one-frame runs are
   dropped; runs separated by one frame are merged (``start <= previous end + 1``, end
   exclusive).
7. :func:`refine`: each candidate segment is re-scored as a whole (the mean of its frames'
   raw similarities per modality, then 2-3); it is kept when its label's score is above
   ``refine_threshold`` (0.75), or, with ``top_label`` (the official code's AVE branch), when
   its label is the segment's top label. When nothing survives, the single candidate with the
   best score of its own label is kept (the fallback). A single candidate is kept unchecked.

What avlocate does beyond one 10-s AVE clip (AV²A assumes 10-s clips: its class filter is one
pass over the whole clip and its thresholds run over 10 frames):

* :func:`locate_segments` cuts a video of any length into consecutive clips of
  ``clip_seconds`` (10) frames from t = 0 (the last one may be shorter) and runs 4-7 on each on
  its own; a segment of one clip and one of the next with the same label, at most one frame
  apart, are then joined (the same rule as 6). Deliberate: a whole-video class filter over an
  hour would average every event away, and thresholds falling for an hour reach any score.
* ``--live`` runs the same clips as they complete (``pipeline/live/av2a.py``) and holds a
  segment touching a clip's end until the next clip is known, so it prints the file run's
  events, each at most one clip (10 s) plus a block after its end.

Deliberate differences from the official code, each marked ``DIFFERENCE`` where it is made:
segment/clip re-scoring averages the per-second embeddings' similarities instead of re-embedding
the segment's frames and audio (no media is needed: works on stored features and live); CLIP
similarities are cosines (unit text rows), where the official code uses OpenAI CLIP's raw,
unnormalised text embeddings; the frame of each second is the window's centre frame (the official
code spreads 10 frames evenly over the clip, first and last frame included); each second's audio
is embedded on its own (the official CLIP+CLAP code embeds 2-s chunks, ``sample_audio_sec`` 2,
each shared by two frames; a later snapshot embeds the whole clip's audio once for every frame).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import torch
import torch.nn.functional as F

from ..results import Event
from ..timeline import Timeline

CLIP_TEMPLATE = "A {}"  # official: clip.tokenize([f"A {label}" ...]) (one snapshot writes "a {label}")
CLAP_TEMPLATE = "This is a sound of {}"


@dataclass(frozen=True)
class Av2aConfig:
    """AV²A's values for CLIP + CLAP (the official README's command line)."""

    alpha: float = 0.45  # weight of the AUDIO score: (1 - alpha) * visual + alpha * audio (code)
    filter_threshold: float = 0.5  # first pass: labels above this clip-level fused score
    threshold: float = 0.75  # threshold_stage1: every label's threshold at a clip's first frame
    refine_threshold: float = 0.75  # threshold_stage2: a re-scored segment's label must exceed it
    gamma: float = 1.0  # decay of the threshold step with the label's firing count (CLIP+CLAP: 1)
    use_cosine: bool = True  # method "bbse-cosine": step x cosine of consecutive image embeddings
    use_bbse: bool = True  # step x BBSE label-shift ratio
    top_label: bool = False  # refinement keeps a segment only if its label is the top one (AVE)
    clip_seconds: float = 10.0  # length of each independent clip (AVE clips: 10 one-second segments)
    min_duration: float = 0.0  # seconds; shorter events are dropped (runs are >= 2 frames anyway)

    def __post_init__(self) -> None:
        for name in ("alpha", "filter_threshold", "threshold", "refine_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.gamma < 0 or self.clip_seconds <= 0 or self.min_duration < 0:
            raise ValueError("gamma and min_duration must be >= 0, clip_seconds > 0")

    def clip_frames(self, step_seconds: float) -> int:
        """Frames per clip on a grid of ``step_seconds`` (10 for AVE's 1-s segments)."""
        return max(1, int(round(self.clip_seconds / step_seconds)))


class TextEncoder(Protocol):
    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor: ...


@dataclass(frozen=True)
class Av2aText:
    """One prompt embedding per label and encoder (unit rows)."""

    labels: tuple[str, ...]
    visual: torch.Tensor  # (K, Dv)
    audio: torch.Tensor  # (K, Da)


def build_text(visual_encoder: TextEncoder, audio_encoder: TextEncoder, labels: Sequence[str]) -> Av2aText:
    if not labels:
        raise ValueError("no labels to embed")
    v = F.normalize(visual_encoder.encode_text([CLIP_TEMPLATE.format(n) for n in labels]).float(), dim=-1)
    a = F.normalize(audio_encoder.encode_text([CLAP_TEMPLATE.format(n) for n in labels]).float(), dim=-1)
    return Av2aText(tuple(labels), v, a)


# -- steps 2-4 ---------------------------------------------------------------------------------
def zscore_sigmoid(sims: torch.Tensor) -> torch.Tensor:
    """sigmoid((s - mean) / std) over the last dim (the labels), std unbiased as ``torch.std``.
    Fewer than 2 labels, or equal similarities, carry no information: 0.5 (the official code
    would give NaN there)."""
    sims = sims.double()
    if sims.shape[-1] < 2:
        return torch.full_like(sims, 0.5)
    mean = sims.mean(dim=-1, keepdim=True)
    std = sims.std(dim=-1, keepdim=True)
    z = torch.where(std > 0, (sims - mean) / torch.where(std > 0, std, torch.ones_like(std)), torch.zeros_like(sims))
    return torch.sigmoid(z)


def fuse(visual: torch.Tensor, audio: torch.Tensor, alpha: float) -> torch.Tensor:
    """Score-level fusion, audio weighted by ``alpha`` (as the official code; module doc, 3)."""
    return (1.0 - alpha) * visual + alpha * audio


def similarities(emb: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """(T, D) x (K, D) -> (T, K) cosine similarities.
    DIFFERENCE: the official CLIP branch multiplies raw (unnormalised) OpenAI CLIP embeddings;
    z-scoring cancels the image norm but not the text norms. We use unit rows on both sides."""
    return F.normalize(emb.double(), dim=-1) @ F.normalize(text.double(), dim=-1).T


def pooled_scores(visual: torch.Tensor, audio: torch.Tensor, text: Av2aText, alpha: float) -> torch.Tensor:
    """(K,) fused score of a stretch of frames taken as a whole: per modality the mean of its
    frames' similarities (for CLIP this is the official "video" mode, which averages its frames'
    similarities), z-scored, fused.
    DIFFERENCE: for audio the official code embeds the stretch's waveform in one CLAP pass; we
    average the per-second similarities, so stored features and --live need no media."""
    v = zscore_sigmoid(similarities(visual, text.visual).mean(dim=0))
    a = zscore_sigmoid(similarities(audio, text.audio).mean(dim=0))
    return fuse(v, a, alpha)


def frame_scores(visual: torch.Tensor, audio: torch.Tensor, text: Av2aText, alpha: float) -> torch.Tensor:
    """(T, K) per-frame fused scores."""
    return fuse(zscore_sigmoid(similarities(visual, text.visual)), zscore_sigmoid(similarities(audio, text.audio)), alpha)


def class_filter(clip_scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Indices of the labels whose clip-level score is strictly above ``threshold``."""
    return torch.nonzero(clip_scores > threshold).reshape(-1)


# -- step 5 ------------------------------------------------------------------------------------
def consecutive_cosines(emb: torch.Tensor) -> torch.Tensor:
    """(T-1,) cosine of frame t and t+1 embeddings, clipped to [0, 1] (as the official code)."""
    if emb.shape[0] < 2:
        return torch.zeros(0, dtype=torch.float64)
    e = F.normalize(emb.double(), dim=-1)
    return (e[:-1] * e[1:]).sum(dim=-1).clamp(0.0, 1.0)


def bbse_ratio(fired_past: torch.Tensor, scores_past: torch.Tensor, scores_next: torch.Tensor) -> torch.Tensor:
    """Black-box shift estimation over the frames so far (official ``estimate_labelshift_ratio``).

    ``fired_past`` (n, K) 0/1 decisions and ``scores_past`` (n, K) scores of frames 0..t,
    ``scores_next`` (K,) the scores of frame t+1. With the soft confusion matrix
    ``C = scores_past^T fired_past / n`` and the next frame's scores ``mu`` as its label
    marginal, the importance weights solve ``(C^T C + lambda I) w = C^T mu`` (ridge, lambda =
    1 / min(n, 1) = 1, as the official code with one target frame); the ratio is ``w * mu``.
    """
    s = scores_past.double()
    y = fired_past.double()
    mu = scores_next.double()
    n, k = s.shape
    c = s.T @ y / n
    lam = 1.0 / min(n, 1)
    w = torch.linalg.solve(c.T @ c + lam * torch.eye(k, dtype=torch.float64), c.T @ mu)
    return w * mu


def dynamic_thresholds(scores: torch.Tensor, start: float, gamma: float, cosines: torch.Tensor | None = None,
                       use_bbse: bool = True) -> torch.Tensor:
    """(T, K) per-frame, per-label thresholds (module doc, 5). ``cosines`` (T-1,): the
    consecutive-frame factor, or None without it."""
    s = scores.double()
    t_count, k = s.shape
    thr = torch.full((t_count, k), float(start), dtype=torch.float64)
    count = torch.zeros(k, dtype=torch.float64)
    for t in range(t_count - 1):
        count += (s[t] > thr[t]).double()
        step = start * torch.exp(-gamma * count)
        if cosines is not None:
            step = step * cosines[t]
        if use_bbse:
            step = step * bbse_ratio((s[:t + 1] > thr[:t + 1]).double(), s[:t + 1], s[t + 1])
        thr[t + 1] = thr[t] - step
    return thr


# -- steps 6-7 ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    """A candidate or final segment: frames ``first..end-1`` of ``label`` (an index)."""

    label: int
    first: int
    end: int  # exclusive
    score: float = 0.0


def build_runs(fired: torch.Tensor, merge_gap: int = 1) -> list[Segment]:
    """Runs of firing frames per label column of (T, K) ``fired``: one-frame runs dropped, the
    rest merged across gaps of at most ``merge_gap`` frames. Ordered by (first, label)."""
    out: list[Segment] = []
    f = fired.bool()
    for k in range(f.shape[1]):
        col = f[:, k].tolist()
        runs: list[list[int]] = []
        t = 0
        while t < len(col):
            if col[t]:
                s = t
                while t < len(col) and col[t]:
                    t += 1
                if t - s >= 2:  # a one-frame run is dropped before merging (official order)
                    runs.append([s, t])
            else:
                t += 1
        merged: list[list[int]] = []
        for r in runs:
            if merged and r[0] <= merged[-1][1] + merge_gap:
                merged[-1][1] = max(merged[-1][1], r[1])
            else:
                merged.append(r)
        out += [Segment(k, s, e) for s, e in merged]
    return sorted(out, key=lambda g: (g.first, g.label))


def refine(candidates: Sequence[Segment], scores_of: Callable[[int, int], torch.Tensor], threshold: float, top_label: bool = False
           ) -> list[Segment]:
    """Step 7: ``scores_of(first, end)`` -> (K,) fused scores of that stretch taken as a whole.
    Returns the kept segments with their whole-segment score of their own label."""
    scored = []
    for c in candidates:
        s = scores_of(c.first, c.end)
        scored.append((Segment(c.label, c.first, c.end, float(s[c.label])), s))
    if len(scored) <= 1:  # the official code returns a single candidate as it is
        return [g for g, _ in scored]
    if top_label:
        kept = [g for g, s in scored if int(torch.argmax(s)) == g.label]
    else:
        kept = [g for g, _ in scored if g.score > threshold]
    if kept:
        return kept
    best = scored[0][0]
    for g, _ in scored[1:]:
        if g.score > best.score:  # first maximum wins, as the official scan
            best = g
    return [best]


def clip_segments(visual: torch.Tensor, audio: torch.Tensor, text: Av2aText, cfg: Av2aConfig) -> list[Segment]:
    """Steps 2-7 on one clip's (T, Dv) / (T, Da) frame embeddings; label indices into ``text``."""
    if visual.shape[0] == 0:
        return []
    keep = class_filter(pooled_scores(visual, audio, text, cfg.alpha), cfg.filter_threshold)
    if keep.numel() == 0:
        return []
    sub = Av2aText(tuple(text.labels[int(i)] for i in keep), text.visual[keep], text.audio[keep])
    scores = frame_scores(visual, audio, sub, cfg.alpha)
    cos = consecutive_cosines(visual) if cfg.use_cosine else None
    fired = scores > dynamic_thresholds(scores, cfg.threshold, cfg.gamma, cos, cfg.use_bbse)
    candidates = build_runs(fired)

    def scores_of(first: int, end: int) -> torch.Tensor:
        return pooled_scores(visual[first:end], audio[first:end], sub, cfg.alpha)

    kept = refine(candidates, scores_of, cfg.refine_threshold, cfg.top_label)
    return [Segment(int(keep[g.label]), g.first, g.end, g.score) for g in kept]


def join(segments: Sequence[Segment], merge_gap: int = 1) -> list[Segment]:
    """Segments of one label at most ``merge_gap`` frames apart become one (score: the
    length-weighted mean). Within one clip no two such segments remain after step 6, so this
    joins only across clip boundaries."""
    out: list[Segment] = []
    for g in sorted(segments, key=lambda s: (s.label, s.first)):
        last = out[-1] if out else None
        if last is not None and last.label == g.label and g.first <= last.end + merge_gap:
            n1, n2 = last.end - last.first, g.end - g.first
            out[-1] = Segment(g.label, last.first, max(last.end, g.end), (last.score * n1 + g.score * n2) / (n1 + n2))
        else:
            out.append(g)
    return sorted(out, key=lambda s: (s.first, s.label))


def locate_segments(visual: torch.Tensor, audio: torch.Tensor, text: Av2aText, cfg: Av2aConfig,
                    clip_frames: int = 10) -> list[Segment]:
    """The whole video: independent clips of ``clip_frames`` frames from frame 0, joined."""
    if visual.shape[0] != audio.shape[0]:
        raise ValueError(f"visual has {visual.shape[0]} frames but audio {audio.shape[0]}")
    found: list[Segment] = []
    for start in range(0, visual.shape[0], clip_frames):
        stop = start + clip_frames
        found += [Segment(g.label, g.first + start, g.end + start, g.score)
                  for g in clip_segments(visual[start:stop], audio[start:stop], text, cfg)]
    return join(found)


def to_events(segments: Sequence[Segment], labels: Sequence[str], timeline: Timeline, min_duration: float = 0.0
              ) -> list[Event]:
    """Frames -> seconds on the extractor's Timeline: frame i covers its window ``spans(i)``."""
    out = []
    for g in segments:
        spans = timeline.spans(g.end)
        start, end = float(spans[g.first, 0]), float(spans[g.end - 1, 1])
        if end - start >= min_duration - 1e-9 and end > start:
            out.append(Event(labels[g.label], start, end, float(min(max(g.score, 0.0), 1.0))))
    return out


def decode(visual: torch.Tensor, audio: torch.Tensor, text: Av2aText, timeline: Timeline,
           cfg: Av2aConfig | None = None) -> list[Event]:
    """Events of one video's per-second CLIP / CLAP embeddings."""
    c = cfg or Av2aConfig()
    segments = locate_segments(visual, audio, text, c, c.clip_frames(timeline.step_seconds))
    return to_events(segments, text.labels, timeline, c.min_duration)


def check_labels(labels: Sequence[str]) -> None:
    """AV²A scores a label against the others (z-score over the list): one label is no list."""
    from ..errors import UsageError

    if len(labels) < 2:
        raise UsageError("--zs-method av2a scores each label against the others (a z-score over the list): give at "
                         "least 2 labels, or use --zs-method softmax-min")


__all__ = ["Av2aConfig", "Av2aText", "CLAP_TEMPLATE", "CLIP_TEMPLATE", "Segment", "bbse_ratio", "build_runs",
           "build_text", "check_labels", "class_filter", "clip_segments", "consecutive_cosines", "decode",
           "dynamic_thresholds", "frame_scores", "fuse", "join", "locate_segments", "pooled_scores", "refine",
           "similarities", "to_events", "zscore_sigmoid"]
