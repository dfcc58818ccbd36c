"""Detections of a video of any length, also for heads whose layers fix the sequence length.

UnAV runs on any length in one pass (padding + re-interpolated position table). CCNet's MTGC and
ESG-Net's aligner have weights sized by max_seq_len, so a longer video is cut into overlapping
windows of exactly max_seq_len steps (hop = max_seq_len * (1 - overlap), the last window aligned
with the end), the windows run as one batch, every window's candidates are shifted to video
steps, and one multiclass Soft-NMS over all of them merges the duplicates of the overlaps.
"""
from __future__ import annotations

import torch
from torch import nn

from ...decode.dense import DenseDecodeConfig, Detections, candidates, decode_video, nms
from ...timeline import Timeline


def window_starts(length: int, window: int, overlap: float) -> list[int]:
    if length <= window:
        return [0]
    hop = max(1, int(round(window * (1.0 - overlap))))
    starts = list(range(0, length - window, hop))
    starts.append(length - window)
    return starts


def locate_dense(head: nn.Module, visual: torch.Tensor, audio: torch.Tensor, timeline: Timeline,
                 cfg: DenseDecodeConfig | None = None, overlap: float = 0.25, batch_size: int = 16,
                 fixed_length: bool | None = None) -> Detections:
    """One video's detections in seconds. visual (Cv, T), audio (Ca, T).

    ``fixed_length`` (default: the head's ``fixed_length`` attribute) selects the window path.
    """
    cfg = cfg or DenseDecodeConfig()
    length = visual.shape[-1]
    max_len = int(head.cfg.max_seq_len)
    if fixed_length is None:
        fixed_length = bool(getattr(head, "fixed_length", True))
    if length <= max_len or not fixed_length:
        with torch.no_grad():
            return decode_video(head(visual[None], audio[None]), 0, timeline, cfg)
    starts = window_starts(length, max_len, overlap)
    parts: list[Detections] = []
    with torch.no_grad():
        for first in range(0, len(starts), batch_size):
            chunk = starts[first:first + batch_size]
            v = torch.stack([visual[:, s:s + max_len] for s in chunk])
            a = torch.stack([audio[:, s:s + max_len] for s in chunk])
            out = head(v, a)
            for i, s in enumerate(chunk):
                c = candidates(out.logits, out.offsets, out.masks, out.strides, i, cfg)
                parts.append(Detections(c.segments + float(s), c.scores, c.labels))
    merged = Detections(torch.cat([p.segments for p in parts]), torch.cat([p.scores for p in parts]),
                        torch.cat([p.labels for p in parts]))
    kept = nms(merged, cfg)
    secs = timeline.to_seconds(kept.segments.to(torch.float64)).to(torch.float32)
    return Detections(secs, kept.scores, kept.labels)


def dense_score_curve(head: nn.Module, visual: torch.Tensor, audio: torch.Tensor, overlap: float = 0.25,
                      batch_size: int = 16, fixed_length: bool | None = None) -> torch.Tensor:
    """(T, K) per-snippet scores the events of :func:`locate_dense` are drawn from: the head runs
    in the same windows, each window's max over pyramid levels
    (:func:`avlocate.decode.score_curve.pyramid_max`) is shifted to video steps, and where windows
    overlap the higher score is kept (their candidates meet in one Soft-NMS, which keeps either)."""
    from ...decode.score_curve import pyramid_max

    length = visual.shape[-1]
    max_len = int(head.cfg.max_seq_len)
    if fixed_length is None:
        fixed_length = bool(getattr(head, "fixed_length", True))
    with torch.no_grad():
        if length <= max_len or not fixed_length:
            out = head(visual[None], audio[None])
            return pyramid_max(out.logits, out.masks, out.strides, 0, length)
        curve = torch.zeros(length, int(head.cfg.num_classes))
        starts = window_starts(length, max_len, overlap)
        for first in range(0, len(starts), batch_size):
            chunk = starts[first:first + batch_size]
            out = head(torch.stack([visual[:, s:s + max_len] for s in chunk]),
                       torch.stack([audio[:, s:s + max_len] for s in chunk]))
            for i, s in enumerate(chunk):
                part = pyramid_max(out.logits, out.masks, out.strides, i, max_len)
                curve[s:s + max_len] = torch.maximum(curve[s:s + max_len], part)
    return curve
