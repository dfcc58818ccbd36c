"""Per-level classification / regression towers and the output container of every dense head."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvTower, LevelScale, MaskedConv1d


class ClassificationHead(nn.Module):
    """Shared over levels: tower -> masked conv to K logits. Output (B, T_l, K) per level."""

    def __init__(self, in_ch: int, width: int, num_classes: int, num_layers: int = 3, kernel_size: int = 3,
                 with_ln: bool = True, prior_prob: float = 0.01) -> None:
        super().__init__()
        self.tower = ConvTower(in_ch, width, num_layers - 1, kernel_size, with_ln)
        self.out = MaskedConv1d(width, num_classes, kernel_size)
        # Focal-loss prior: start every class at probability prior_prob (official init).
        nn.init.constant_(self.out.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feats: list[torch.Tensor], masks: list[torch.Tensor]) -> list[torch.Tensor]:
        return [self.out(self.tower(x, m), m)[0].transpose(1, 2) for x, m in zip(feats, masks)]


class RegressionHead(nn.Module):
    """Class-aware distances to start/end: (B, T_l, K, 2) per level, in units of the level stride."""

    def __init__(self, in_ch: int, width: int, num_classes: int, num_levels: int, num_layers: int = 3,
                 kernel_size: int = 3, with_ln: bool = True) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.tower = ConvTower(in_ch, width, num_layers - 1, kernel_size, with_ln)
        self.scales = nn.ModuleList(LevelScale() for _ in range(num_levels))
        self.out = MaskedConv1d(width, 2 * num_classes, kernel_size)

    def raw(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unscaled (B, 2K, T) output; channel 2k+j is class k, j=0 start / j=1 end distance."""
        return self.out(self.tower(x, mask), mask)[0]

    def forward(self, feats: list[torch.Tensor], masks: list[torch.Tensor]) -> list[torch.Tensor]:
        outs = []
        for level, (x, m) in enumerate(zip(feats, masks)):
            r = F.relu(self.scales[level](self.raw(x, m)))
            b, _, t = r.shape
            outs.append(r.transpose(1, 2).reshape(b, t, self.num_classes, 2))
        return outs


@dataclass
class DenseOutput:
    """Raw per-level outputs of a dense head (lists indexed by pyramid level, level 0 first)."""

    logits: list[torch.Tensor]  # (B, T_l, K) pre-sigmoid
    offsets: list[torch.Tensor]  # (B, T_l, K, 2) in units of the level stride
    masks: list[torch.Tensor]  # (B, T_l) bool
    strides: list[int]  # level stride in level-0 feature steps
    # intermediates, kept for inspection and parity checks
    visual: list[torch.Tensor] = field(default_factory=list)
    audio: list[torch.Tensor] = field(default_factory=list)
    fused: list[torch.Tensor] = field(default_factory=list)
    aux: dict[str, list[torch.Tensor]] = field(default_factory=dict)  # training-only extras (ESG-Net)

    def points(self, level: int) -> torch.Tensor:
        """Anchor positions of a level in level-0 feature steps: 0, s, 2s, ..."""
        t = self.logits[level].shape[1]
        s = self.strides[level]
        return torch.arange(t, device=self.logits[level].device, dtype=torch.float32) * s
