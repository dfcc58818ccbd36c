"""Two-stream Inception-v1 I3D (Carreira & Zisserman, CVPR 2017), PyTorch port layout.

Module names are those of the public converted Kinetics-400 checkpoints used by video_features
(``i3d_rgb.pt`` / ``i3d_flow.pt``): ``conv3d_1a_7x7.conv3d.weight``, ``...batch3d.*``,
``mixed_3b.branch_1.0.conv3d.weight``, ..., ``conv3d_0c_1x1.conv3d.{weight,bias}``, so those
files load with ``strict=True``. The numerics follow that port, including where it differs from
the TF original:
* "SAME" padding is computed from kernel and stride only: total ``max(k - s, 0)`` per axis,
  ``floor(total/2)`` before and the rest after, zeros (also for max pools, whose inputs are
  post-ReLU so zero padding is harmless); pools use ``ceil_mode=True``.
* BatchNorm eps is PyTorch's 1e-5 (TF used 1e-3): the converted weights were used that way.
* Features: AvgPool3d((2, 7, 7), stride 1) on mixed_5c, then the mean over the remaining time
  steps (2 for a 24-frame input), i.e. a (1/4, 1/2, 1/4) temporal weighting; no dropout.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["I3DConfig", "I3D", "Unit3D", "same_padding"]

Triple = tuple[int, int, int]


@dataclass(frozen=True)
class I3DConfig:
    modality: str = "rgb"  # "rgb" (3 input channels) or "flow" (2)
    num_classes: int = 400  # Kinetics-400 logits head, kept so the public checkpoints load strictly
    bn_eps: float = 1e-5
    # 1 = the published network (the only size with public weights). N > 1 divides every inner
    # width by N (at least 1 channel) and keeps the 1024-d feature (mixed_5c's outputs): the same
    # structure, windows and feature size at ~1/N^2 of the cost, so tests of the extractor's
    # plumbing can run seeded random weights of a few hundred kB instead of 2 x 50 MB.
    width_divisor: int = 1

    @property
    def in_channels(self) -> int:
        return {"rgb": 3, "flow": 2}[self.modality]


def same_padding(kernel: Triple, stride: Triple) -> tuple[int, ...]:
    """``F.pad`` argument (last axis first) for TF-style SAME padding from kernel/stride only."""
    pads: list[int] = []
    for k, s in zip(reversed(kernel), reversed(stride)):
        total = max(k - s, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


class Unit3D(nn.Module):
    """Conv3d (no bias) -> BatchNorm3d -> ReLU, or a plain biased conv for the logits."""

    def __init__(self, in_ch: int, out_ch: int, kernel: Triple = (1, 1, 1), stride: Triple = (1, 1, 1),
                 logits: bool = False, bn_eps: float = 1e-5) -> None:
        super().__init__()
        self.pad = same_padding(kernel, stride)
        self.conv3d = nn.Conv3d(in_ch, out_ch, kernel, stride=stride, bias=logits)
        self.batch3d = None if logits else nn.BatchNorm3d(out_ch, eps=bn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad)
        x = self.conv3d(x)
        if self.batch3d is None:
            return x
        return F.relu(self.batch3d(x))


class MaxPool3dSame(nn.Module):
    def __init__(self, kernel: Triple, stride: Triple) -> None:
        super().__init__()
        self.pad = same_padding(kernel, stride)
        self.pool = nn.MaxPool3d(kernel, stride, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.pad(x, self.pad) if any(self.pad) else x)


class Mixed(nn.Module):
    """Inception block: 1x1 | 1x1->3x3 | 1x1->3x3 | maxpool3->1x1, concatenated on channels."""

    def __init__(self, in_ch: int, out: tuple[int, int, int, int, int, int], bn_eps: float) -> None:
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3 = out
        self.branch_0 = Unit3D(in_ch, b0, bn_eps=bn_eps)
        self.branch_1 = nn.Sequential(Unit3D(in_ch, b1a, bn_eps=bn_eps), Unit3D(b1a, b1b, (3, 3, 3), bn_eps=bn_eps))
        self.branch_2 = nn.Sequential(Unit3D(in_ch, b2a, bn_eps=bn_eps), Unit3D(b2a, b2b, (3, 3, 3), bn_eps=bn_eps))
        self.branch_3 = nn.Sequential(MaxPool3dSame((3, 3, 3), (1, 1, 1)), Unit3D(in_ch, b3, bn_eps=bn_eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch_0(x), self.branch_1(x), self.branch_2(x), self.branch_3(x)], dim=1)


# Inception-v1 block widths: (1x1, 3x3 reduce, 3x3, 3x3 reduce, 3x3 (TF's "5x5"), pool proj).
_MIXED = {
    "mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}


def _mixed_widths(divisor: int) -> dict[str, tuple[int, tuple[int, int, int, int, int, int]]]:
    """Input and branch widths of every Inception block, inner widths divided by ``divisor``."""
    if divisor == 1:
        return dict(_MIXED)
    out: dict[str, tuple[int, tuple[int, int, int, int, int, int]]] = {}
    in_ch = max(192 // divisor, 1)  # conv3d_2c_3x3's output
    for name, (_, widths) in _MIXED.items():
        small = tuple(max(w // divisor, 1) for w in widths)
        if name == "mixed_5c":  # the feature layer: its four outputs keep 384 + 384 + 128 + 128 = 1024
            small = (widths[0], small[1], widths[2], small[3], widths[4], widths[5])
        out[name] = (in_ch, small)  # type: ignore[assignment]
        in_ch = small[0] + small[2] + small[4] + small[5]  # the concatenated branch outputs
    return out


class I3D(nn.Module):
    """(N, C, T, 224, 224) in [-1, 1] -> (N, 1024) features (or (N, num_classes) logits)."""

    def __init__(self, config: I3DConfig = I3DConfig()) -> None:
        super().__init__()
        self.config = config
        eps, d = config.bn_eps, config.width_divisor
        if d < 1:
            raise ValueError(f"width_divisor must be >= 1, got {d}")
        c64, c192 = max(64 // d, 1), max(192 // d, 1)
        self.conv3d_1a_7x7 = Unit3D(config.in_channels, c64, (7, 7, 7), (2, 2, 2), bn_eps=eps)
        self.maxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.conv3d_2b_1x1 = Unit3D(c64, c64, bn_eps=eps)
        self.conv3d_2c_3x3 = Unit3D(c64, c192, (3, 3, 3), bn_eps=eps)
        self.maxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        mixed = _mixed_widths(d)
        self.mixed_3b = Mixed(*mixed["mixed_3b"], eps)
        self.mixed_3c = Mixed(*mixed["mixed_3c"], eps)
        self.maxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.mixed_4b = Mixed(*mixed["mixed_4b"], eps)
        self.mixed_4c = Mixed(*mixed["mixed_4c"], eps)
        self.mixed_4d = Mixed(*mixed["mixed_4d"], eps)
        self.mixed_4e = Mixed(*mixed["mixed_4e"], eps)
        self.mixed_4f = Mixed(*mixed["mixed_4f"], eps)
        self.maxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.mixed_5b = Mixed(*mixed["mixed_5b"], eps)
        self.mixed_5c = Mixed(*mixed["mixed_5c"], eps)
        self.avg_pool = nn.AvgPool3d((2, 7, 7), (1, 1, 1))
        self.conv3d_0c_1x1 = Unit3D(1024, config.num_classes, logits=True)

    _TRUNK = (
        "conv3d_1a_7x7", "maxPool3d_2a_3x3", "conv3d_2b_1x1", "conv3d_2c_3x3", "maxPool3d_3a_3x3",
        "mixed_3b", "mixed_3c", "maxPool3d_4a_3x3", "mixed_4b", "mixed_4c", "mixed_4d", "mixed_4e",
        "mixed_4f", "maxPool3d_5a_2x2", "mixed_5b", "mixed_5c", "avg_pool",
    )

    def blocks(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every block output by name (for debugging and layer-by-layer parity checks)."""
        out: dict[str, torch.Tensor] = {}
        for name in self._TRUNK:
            x = getattr(self, name)(x)
            out[name] = x
        return out

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        for name in self._TRUNK:
            x = getattr(self, name)(x)
        return x  # (N, 1024, T', 1, 1)

    def forward(self, x: torch.Tensor, features: bool = True) -> torch.Tensor:
        pooled = self.pooled(x)
        if features:
            return pooled.flatten(2).mean(dim=2)  # (N, 1024): mean over the remaining time steps
        # Logits as in the port: 1x1x1 conv on the pooled map, then the mean over time.
        return self.conv3d_0c_1x1(pooled).flatten(2).mean(dim=2)
