"""Dense head outputs -> detections: candidates per level, Soft-NMS, seconds via the Timeline.

Follows the official inference (README section 6 of the reference): per level, probabilities
``sigmoid(logit) * mask`` flattened time-major, strictly above ``pre_nms_thresh``, the best
``pre_nms_topk`` of them, segment ``[t - d_start * s, t + d_end * s]`` in level-0 feature steps
kept when longer than ``duration_thresh``; levels concatenated (level 0 first). Vectorised over
time steps and classes; the only loop is over the (6) pyramid levels.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..results import Event
from ..timeline import Timeline
from .softnms import soft_nms


@dataclass(frozen=True)
class DenseDecodeConfig:
    """Official test config of UnAV / CCNet (avel_unav100.yaml)."""

    pre_nms_thresh: float = 0.001
    pre_nms_topk: int = 2000
    duration_thresh: float = 0.05  # level-0 feature steps
    nms_sigma: float = 0.4
    min_score: float = 0.001
    max_seg_num: int = 100
    # Kept for config compatibility: Gaussian Soft-NMS never reads it (as in the official code).
    iou_threshold: float = 0.7

    @classmethod
    def from_official(cls, test_cfg: dict[str, Any]) -> "DenseDecodeConfig":
        if test_cfg.get("nms_method", "soft") != "soft" or not test_cfg.get("multiclass_nms", True):
            raise ValueError("only multiclass Gaussian Soft-NMS (the published setting) is implemented")
        return cls(pre_nms_thresh=test_cfg["pre_nms_thresh"], pre_nms_topk=test_cfg["pre_nms_topk"],
                   duration_thresh=test_cfg["duration_thresh"], nms_sigma=test_cfg["nms_sigma"],
                   min_score=test_cfg["min_score"], max_seg_num=test_cfg["max_seg_num"],
                   iou_threshold=test_cfg.get("iou_threshold", 0.7))


@dataclass
class Detections:
    """Segments (N, 2), scores (N,), labels (N,) of one video; units given by the producer."""

    segments: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def level_candidates(logits: torch.Tensor, offsets: torch.Tensor, mask: torch.Tensor, stride: int,
                     cfg: DenseDecodeConfig) -> Detections:
    """One video, one level: logits (T, K), offsets (T, K, 2), mask (T,) -> grid-unit candidates."""
    t, k = logits.shape
    prob = (torch.sigmoid(logits) * mask[:, None].to(logits.dtype)).flatten()
    keep = torch.nonzero(prob > cfg.pre_nms_thresh, as_tuple=True)[0]
    kept = prob[keep]
    sorted_prob, order = kept.sort(descending=True, stable=True)
    top = keep[order[: cfg.pre_nms_topk]]
    score = sorted_prob[: cfg.pre_nms_topk]
    point, label = top // k, top % k
    d = offsets[point, label]  # (N, 2)
    centre = point.to(torch.float32) * stride
    segs = torch.stack([centre - d[:, 0] * stride, centre + d[:, 1] * stride], dim=1)
    ok = (segs[:, 1] - segs[:, 0]) > cfg.duration_thresh
    return Detections(segs[ok], score[ok], label[ok])


def candidates(logits: Sequence[torch.Tensor], offsets: Sequence[torch.Tensor], masks: Sequence[torch.Tensor],
               strides: Sequence[int], video: int, cfg: DenseDecodeConfig) -> Detections:
    """Pre-NMS candidates of batch entry ``video`` over all levels (level 0 first)."""
    parts = [level_candidates(lg[video], off[video], m[video], s, cfg)
             for lg, off, m, s in zip(logits, offsets, masks, strides)]
    return Detections(torch.cat([p.segments for p in parts]), torch.cat([p.scores for p in parts]),
                      torch.cat([p.labels for p in parts]))


def nms(cands: Detections, cfg: DenseDecodeConfig) -> Detections:
    segs, scores, labels = soft_nms(cands.segments.detach().cpu(), cands.scores.detach().cpu(),
                                    cands.labels.detach().cpu(), cfg.nms_sigma, cfg.min_score, cfg.max_seg_num)
    return Detections(segs, scores, labels)


def decode_video(output: Any, video: int, timeline: Timeline, cfg: DenseDecodeConfig | None = None) -> Detections:
    """A :class:`~avlocate.heads.dense.heads.DenseOutput` entry -> detections in seconds.

    ``timeline`` should carry the video's duration so that times are clipped to [0, duration]
    (the official code clips the same way, except that it writes negative starts as -0.0).
    """
    cfg = cfg or DenseDecodeConfig()
    kept = nms(candidates(output.logits, output.offsets, output.masks, output.strides, video, cfg), cfg)
    secs = timeline.to_seconds(kept.segments.to(torch.float64)).to(torch.float32)
    return Detections(secs, kept.scores, kept.labels)


def to_events(dets: Detections, class_names: Sequence[str]) -> list[Event]:
    """Seconds-unit detections -> Events (labels indexed into ``class_names``)."""
    return [Event(class_names[int(c)], float(s), float(e), float(p))
            for (s, e), p, c in zip(dets.segments.tolist(), dets.scores.tolist(), dets.labels.tolist())]
