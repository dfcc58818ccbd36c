"""VSCG training objectives, inference rules and the AVE segment accuracy.

Labels follow the AVE layout: one-hot (B, T, C) per segment, C = 29 with background last.

Fully (paper Eq. 17-18, official ``fully_supervised_main.py``):
``BCEWithLogits(relevance, is_event) + CE(class_logits, video_class) + AVPS``, weights 1.
The AVPS soft target puts 1/k on the k segments of the clip's *lowest-index* labelled class
(the event, or background for an all-background clip), as the official data loader does (we
rebuild it per batch; the official buffer keeps stale entries across batches, a bug we do not
copy). An all-background clip gets video class 0, as in the official code.

Weakly (paper Eq. 19-21): ``2 * BCE(out_avg, p) + BCE(hout_avg, p)`` with the video-level label
``p`` (B, C) (the official ``prob_label.h5``; :func:`video_level_target` builds the time-average
of one-hot labels, the definition assumed by the reference data).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional as F


class FullyTargets(NamedTuple):
    is_event: torch.Tensor  # (B, T) float 0/1
    video_class: torch.Tensor  # (B,) long in [0, C-2]
    avps: torch.Tensor  # (B, T) float, rows sum to 1


def fully_targets(labels: torch.Tensor) -> FullyTargets:
    """One-hot (B, T, C) segment labels -> the three fully-supervised targets."""
    fg = labels[..., :-1]
    is_event = fg.max(dim=-1).values.float()
    video_class = fg.argmax(dim=-1).max(dim=1).values  # background segments count as class 0
    present = labels.amax(dim=1) > 0  # (B, C): classes occurring in the clip
    first = present.float().argmax(dim=-1)  # lowest-index present class
    on = labels.gather(2, first[:, None, None].expand(-1, labels.shape[1], 1)).squeeze(-1) > 0
    on = on.float()
    avps = on / on.sum(dim=1, keepdim=True).clamp(min=1.0)
    return FullyTargets(is_event, video_class, avps)


def avps_loss(similarity: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Audio-visual pair similarity loss (PSP): MSE between the L1-normalised ReLU'd similarity and target."""
    pos = torch.relu(similarity)
    return F.mse_loss(pos / (pos.sum(dim=-1, keepdim=True) + eps), target)


def fully_loss(relevance: torch.Tensor, class_logits: torch.Tensor, similarity: torch.Tensor,
               labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Fully-supervised objective; returns each term and ``total`` (all mean-reduced, weight 1)."""
    tg = fully_targets(labels)
    terms = {
        "is_event": F.binary_cross_entropy_with_logits(relevance, tg.is_event),
        "event_class": F.cross_entropy(class_logits, tg.video_class),
        "avps": avps_loss(similarity, tg.avps),
    }
    terms["total"] = terms["is_event"] + terms["event_class"] + terms["avps"]
    return terms


def fully_predict(relevance: torch.Tensor, class_logits: torch.Tensor, threshold: float = 0.7) -> torch.Tensor:
    """Official rule: the clip's argmax class where sigmoid(relevance) > threshold, else background.

    Works for any batch size (the official function fails for a batch of one).
    """
    background = class_logits.shape[-1]
    cls = class_logits.argmax(dim=-1, keepdim=True).expand_as(relevance)
    return torch.where(torch.sigmoid(relevance) > threshold, cls, torch.full_like(cls, background))


def fully_segment_probs(relevance: torch.Tensor, class_logits: torch.Tensor) -> torch.Tensor:
    """(B, T, C) probabilities: P[c] = sigmoid(rel) * softmax(class)[c], P[bg] = 1 - sigmoid(rel).

    Averaging these over overlapping windows and applying :func:`fully_labels_from_probs` gives,
    for a single window, the official decision (up to one float32 rounding of 1 - (1 - s)).
    """
    fg = torch.sigmoid(relevance).unsqueeze(-1)
    cls = torch.softmax(class_logits, dim=-1).unsqueeze(1)
    return torch.cat([fg * cls, 1.0 - fg], dim=-1)


def fully_labels_from_probs(probs: torch.Tensor, threshold: float = 0.7) -> torch.Tensor:
    background = probs.shape[-1] - 1
    cls = probs[..., :-1].argmax(dim=-1)
    return torch.where(1.0 - probs[..., -1] > threshold, cls, torch.full_like(cls, background))


def video_level_target(labels: torch.Tensor) -> torch.Tensor:
    """(B, T, C) one-hot -> (B, C) time-averaged label (assumed definition of ``prob_label``)."""
    return labels.float().mean(dim=1)


def weakly_loss(out_avg: torch.Tensor, hout_avg: torch.Tensor, video_target: torch.Tensor,
                weight: float = 2.0) -> dict[str, torch.Tensor]:
    """Weakly objective (lambda = 2): ``weight * BCE(out_avg, p) + BCE(softmax(out_avg), p)``."""
    terms = {
        "cls_prob": F.binary_cross_entropy(out_avg, video_target),
        "smooth": F.binary_cross_entropy(hout_avg, video_target),
    }
    terms["total"] = weight * terms["cls_prob"] + terms["smooth"]
    return terms


def weakly_predict(score: torch.Tensor) -> torch.Tensor:
    """Official rule: argmax over all C classes (background included) of softmax(score)."""
    return torch.softmax(score, dim=-1).argmax(dim=-1)


def segment_accuracy(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Percent of segments whose prediction equals the argmax of the one-hot label (both settings)."""
    target = labels.argmax(dim=-1) if labels.dim() == pred.dim() + 1 else labels
    correct = int((pred == target).sum())
    return correct * 100.0 / pred.numel()
