"""Training targets and losses of the dense heads (the official UnAV / CCNet recipe).

Targets (class-aware, per point of every level, in level-0 feature steps): a point is positive
for class k when it lies strictly inside a ground-truth event of class k whose larger distance to
the point falls in the level's regression range; its regression target for k is (distance to the
start, distance to the end) / level stride. Losses: sigmoid focal loss (alpha 0.25, gamma 2) over
all valid points and classes, and the 1-D DIoU loss over the (point, class) pairs with a target,
both divided by an EMA of the number of positive points (init 250, momentum 0.9), as the official
code (the UnAV paper says GIoU; its code uses DIoU, which we follow).

When two events of the same class both cover a point (within the level's range), the official
``label_points_single_video`` writes their regression targets into one (point, class) slot in event
order, so the last event in the annotation order wins (PyTorch's CPU ``index_put_`` writes in
order); we do the same, deterministically. Checked against official targets by
``tests/training/test_training_parity.py``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss


def level_points(lengths: Sequence[int], strides: Sequence[int], ranges: Sequence[tuple[float, float]]
                 ) -> torch.Tensor:
    """(P, 4) rows [t, range_low, range_high, stride] of all levels concatenated (level 0 first)."""
    rows = []
    for n, s, (lo, hi) in zip(lengths, strides, ranges):
        t = torch.arange(n, dtype=torch.float32) * s
        rows.append(torch.stack([t, torch.full_like(t, lo), torch.full_like(t, hi), torch.full_like(t, s)], 1))
    return torch.cat(rows)


def point_targets(points: torch.Tensor, segments: torch.Tensor, labels: torch.Tensor, num_classes: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """One video: segments (N, 2) in feature steps, labels (N,) -> cls (P, K), reg (P, K, 2)."""
    p = points.shape[0]
    if segments.numel() == 0:
        return points.new_zeros(p, num_classes), points.new_zeros(p, num_classes, 2)
    t = points[:, :1]
    dist = torch.stack([t - segments[None, :, 0], segments[None, :, 1] - t], -1)  # (P, N, 2)
    far = dist.max(-1).values
    ok = (dist.min(-1).values > 0) & (far >= points[:, 1:2]) & (far <= points[:, 2:3])  # (P, N)
    one_hot = F.one_hot(labels.long(), num_classes).to(points.dtype)  # (N, K)
    cls = (ok.to(points.dtype) @ one_hot).clamp(max=1.0)
    order = torch.arange(segments.shape[0], device=points.device)[None, None, :]  # (1, 1, N)
    of_class = ok[:, None, :] & (one_hot.T.bool()[None])  # (P, K, N)
    best = torch.where(of_class, order, torch.full_like(order, -1)).argmax(-1)  # (P, K): the last event
    # (a class no event covers gets index 0 here; its target is zeroed by ``cls`` below)
    reg = torch.gather(dist, 1, best[..., None].expand(p, num_classes, 2))  # (P, K, 2)
    reg = reg * cls[..., None] / points[:, 3, None, None]
    return cls, reg


def diou_1d(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """1 - IoU + (centre distance / enclosing length)^2 of (start, end) distance pairs (M, 2)."""
    lp, rp, lg, rg = pred[:, 0], pred[:, 1], target[:, 0], target[:, 1]
    inter = torch.minimum(lp, lg) + torch.minimum(rp, rg)
    union = (lp + rp) + (lg + rg) - inter
    enclosing = torch.maximum(lp, lg) + torch.maximum(rp, rg)
    rho = 0.5 * (rp - lp - rg + lg)
    return 1.0 - inter / union.clamp(min=eps) + torch.square(rho / enclosing.clamp(min=eps))


@dataclass
class LossNormalizer:
    """EMA of the number of positive points (official: init 250, momentum 0.9)."""

    value: float = 250.0
    momentum: float = 0.9

    def update(self, num_pos: int) -> float:
        self.value = self.momentum * self.value + (1 - self.momentum) * max(num_pos, 1)
        return self.value


def dense_losses(logits: Sequence[torch.Tensor], offsets: Sequence[torch.Tensor], masks: Sequence[torch.Tensor],
                 cls_targets: torch.Tensor, reg_targets: torch.Tensor, normalizer: LossNormalizer,
                 reg_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = diou_1d) -> dict[str, torch.Tensor]:
    """Per-level outputs of a batch + stacked targets (B, P, K), (B, P, K, 2) -> losses (official
    ``losses()``: the regression pairs are the positive points' classes with a non-zero target)."""
    valid = torch.cat(list(masks), dim=1)  # (B, P)
    pred_cls = torch.cat(list(logits), dim=1)  # (B, P, K)
    pred_reg = torch.cat(list(offsets), dim=1)  # (B, P, K, 2)
    pos = (cls_targets.sum(-1) > 0) & valid
    norm = normalizer.update(int(pos.sum()))
    cls_loss = sigmoid_focal_loss(pred_cls[valid], cls_targets[valid], reduction="sum") / norm
    pairs = pos[..., None] & ((reg_targets[..., 0] > 0) | (reg_targets[..., 1] > 0))  # (B, P, K)
    if bool(pairs.any()):
        reg = reg_loss(pred_reg[pairs], reg_targets[pairs]).sum() / norm
    else:
        reg = 0.0 * pred_reg.sum()
    return {"cls_loss": cls_loss, "reg_loss": reg, "final_loss": cls_loss + reg}
