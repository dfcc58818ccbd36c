"""AVSGN objectives (paper Sec. 3.5): fully ``L_r + L_c + L_g + lambda * L_s``, weakly ``L_MIL + L_g``.

Labels follow the AVE layout used by every segment head here: one-hot (B, T, C) per segment,
C = K events + background (last). Choices where the paper is silent or garbled (AVSGN_NOTES.md):

* L_r (Eq. 13) is printed as ``BCE(y^r, 1(s^r > tau))``; an indicator has no gradient, so we read
  it as ``BCE(s^r, y^r)`` on the relevance logits and use tau only at inference.
* L_c (Eq. 12) and L_g (Eq. 14) are cross-entropies against the clip's event class: the most
  frequent non-background class of its segments (ties: lowest index; AVE clips have one class).
  Clips without any event segment have no event class and are left out of these two terms.
* L_g: W_g maps the T gate products g_a * g_v of a clip to K class logits (one reading of the
  garbled "W_g in R^{? x C}"; a 1 x C map of a per-segment scalar could not separate classes).
  CMBS, which the paper cites for its gates, instead fits g_a * g_v to y^r with a BCE: not done here.
* L_s (Eq. 15): Euclidean (not squared) distance between V* and A* at each segment, summed over
  the T segments (``L_s = sum_t L_s^t``) and averaged over the batch; margin m = 1.0 (not given).
* Reductions: BCE averaged over all B*T segments, cross-entropies over the clips (PyTorch means).
* Weakly (Eq. 17): the joint score is ``s[t, c] = s^r_t * s^c_c`` for the K events and
  ``1 - s^r_t`` for background (the same rows as :func:`fully_segment_probs`: a distribution per
  segment); MIL pooling is the mean over the T segments (the AVE convention since Tian et al.
  2018); the cross-entropy compares it with the video-level target, by default the
  time-averaged one-hot labels (the convention of the AVE weakly data, ``prob_label``, also used by
  VSCG here). L_g then uses that target's most probable event class.
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from .avsgn import AVSGNOutput
from .vscg_losses import video_level_target


def event_targets(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One-hot (B, T, C) -> is_event (B, T) float, video_class (B,) long, has_event (B,) bool."""
    fg = labels[..., :-1].float()
    is_event = fg.sum(dim=-1).clamp(max=1.0)
    counts = fg.sum(dim=1)  # (B, K)
    return is_event, counts.argmax(dim=-1), counts.sum(dim=-1) > 0


def _class_ce(logits: torch.Tensor, video_class: torch.Tensor, has_event: torch.Tensor) -> torch.Tensor:
    if not bool(has_event.any()):
        return logits.sum() * 0.0  # keeps the graph (and the dtype/device) for an all-background batch
    return F.cross_entropy(logits[has_event], video_class[has_event])


def consistency_loss(visual: torch.Tensor, audio: torch.Tensor, is_event: torch.Tensor,
                     margin: float = 1.0) -> torch.Tensor:
    """Eq. 15: pull event segments' V*/A* together, push background ones at least ``margin`` apart."""
    dist = (visual - audio).norm(dim=-1)  # (B, T)
    per_segment = is_event * dist + (1.0 - is_event) * torch.relu(margin - dist)
    return per_segment.sum(dim=1).mean()


def fully_loss(out: AVSGNOutput, labels: torch.Tensor, consistency_weight: float = 0.01,
               margin: float = 1.0) -> dict[str, torch.Tensor]:
    """Eq. 16. Returns each term and ``total``."""
    is_event, video_class, has_event = event_targets(labels)
    terms = {
        "relevance": F.binary_cross_entropy_with_logits(out.relevance, is_event),
        "category": _class_ce(out.class_logits, video_class, has_event),
        "gate": _class_ce(out.gate_logits, video_class, has_event),
        "consistency": consistency_loss(out.visual, out.audio, is_event, margin),
    }
    terms["total"] = terms["relevance"] + terms["category"] + terms["gate"] + consistency_weight * terms["consistency"]
    return terms


def joint_log_scores(relevance: torch.Tensor, class_logits: torch.Tensor) -> torch.Tensor:
    """(B, T) + (B, K) logits -> (B, T, K+1) log of the joint score (log of :func:`fully_segment_probs`).

    Computed in log space so that a saturated s^r never gives log(0).
    """
    log_fg = F.logsigmoid(relevance).unsqueeze(-1) + F.log_softmax(class_logits, dim=-1).unsqueeze(1)
    return torch.cat([log_fg, F.logsigmoid(-relevance).unsqueeze(-1)], dim=-1)


def mil_pool(log_scores: torch.Tensor) -> torch.Tensor:
    """(B, T, C) per-segment log distributions -> (B, C) log of their mean over the T segments."""
    return torch.logsumexp(log_scores, dim=1) - math.log(log_scores.shape[1])


def weakly_loss(out: AVSGNOutput, video_target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Eq. 18 with a (B, C) video-level target distribution (rows sum to 1, background last)."""
    log_video = mil_pool(joint_log_scores(out.relevance, out.class_logits))  # (B, C)
    target = video_target.float()
    events = target[:, :-1]
    terms = {
        "mil": -(target * log_video).sum(dim=-1).mean(),
        "gate": _class_ce(out.gate_logits, events.argmax(dim=-1), events.sum(dim=-1) > 0),
    }
    terms["total"] = terms["mil"] + terms["gate"]
    return terms


def avsgn_loss(out: AVSGNOutput, labels: torch.Tensor, supervision: str = "fully", *,
               consistency_weight: float = 0.01, margin: float = 1.0,
               video_target: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The objective of one setting. Weakly sees only ``video_target`` (default: time-averaged labels)."""
    if supervision == "fully":
        return fully_loss(out, labels, consistency_weight, margin)
    if supervision == "weakly":
        target = video_level_target(labels) if video_target is None else video_target
        return weakly_loss(out, target)
    raise ValueError(f"supervision must be 'fully' or 'weakly', not {supervision!r}")
