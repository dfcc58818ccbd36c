"""Class-aware dependency fusion (UnAV's "dependency block", reused inside CCNet's MTGC).

The fused feature ``F`` (B, 2C, T) of one pyramid level is expanded to ``K`` class-specific
features of width ``H`` (B, K, H, T); a temporal transformer runs along time for every class and a
co-occurrence transformer runs along the class axis for every time step; their sum is squeezed
back to 2C channels. The same weights serve every level.

Deliberate difference from the official code (README section 9 of the reference): the official
temporal branch flattens features batch-major (row ``b*K + k``) but tiles the batch mask K times
(row ``i`` gets video ``i % B``'s mask), so with videos of different lengths in one batch a
class row is masked with another video's mask and a video's detections depend on its batch
mates. avlocate pairs row ``b*K + k`` with video b's mask. ``official_batch_mask=True`` reproduces
the official pairing (only for parity checks against the official numbers).

The co-occurrence branch masks whole class sequences with one flag per (video, time step). The
official code broadcasts that flag along the class axis instead when B*T_l happens to equal K
(unreachable with the published configs at batch 1-16); avlocate always uses the per-sequence flag.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import TransformerBlock
from .layers import MaskedConv1d

#: per-class feature width of the fusion block; a constant in the official code.
CLASS_WIDTH = 128


def class_rows_mask(mask: torch.Tensor, num_classes: int, official_batch_mask: bool) -> torch.Tensor:
    """Mask for the (B*K, H, T) class rows of a (B, 1, T) batch mask."""
    if official_batch_mask:
        return mask.repeat(num_classes, 1, 1)  # reproduces the official ordering defect
    return mask.repeat_interleave(num_classes, dim=0)


class DependencyFusion(nn.Module):
    def __init__(self, in_ch: int, num_classes: int, kernel_size: int = 3, width: int = CLASS_WIDTH,
                 drop_path: float = 0.1) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.width = width
        self.expand = MaskedConv1d(in_ch, width * num_classes, kernel_size, bias=False)
        self.temporal = TransformerBlock(width, 1, hidden=width, drop_path=drop_path)
        self.cooccur = TransformerBlock(width, 1, hidden=width, drop_path=drop_path)
        self.squeeze = MaskedConv1d(width * num_classes, in_ch, kernel_size, bias=False)
        self.official_batch_mask = False

    def expand_classes(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ReLU(expand(x)) viewed as (B, K, H, T) (channel k*H + h is class k, feature h)."""
        e, _ = self.expand(x, mask)
        b, _, t = e.shape
        return F.relu(e).view(b, self.num_classes, self.width, t)

    def mix(self, e: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Temporal + co-occurrence branches on (B, K, H, T), then the squeeze conv -> (B, 2C, T)."""
        b, k, h, t = e.shape
        rows = e.reshape(b * k, h, t)
        temporal, _ = self.temporal(rows, None, class_rows_mask(mask, k, self.official_batch_mask))
        # Sequences over classes, one per (video, time step); a padded step zeroes its sequence.
        seq = e.permute(0, 3, 2, 1).reshape(b * t, h, k)
        flags = mask.reshape(b * t, 1, 1)
        cooccur, _ = self.cooccur(seq, None, flags)
        cooccur = cooccur.view(b, t, h, k).permute(0, 3, 2, 1)
        out = temporal.view(b, k, h, t) + cooccur
        y, _ = self.squeeze(out.reshape(b, k * h, t), mask)
        return y

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.mix(self.expand_classes(x, mask), mask)
