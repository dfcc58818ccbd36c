"""Small masked 1-D building blocks shared by every dense head (UnAV, CCNet, ESG-Net).

Tensors are channel-first ``(B, C, T)``; masks are boolean ``(B, 1, T)`` with True on real
(unpadded) time steps. A strided block subsamples the mask by taking every ``stride``-th entry,
which is what nearest-neighbour interpolation to ``T / stride`` does in the official code.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def downsample_mask(mask: torch.Tensor, stride: int) -> torch.Tensor:
    """Mask of a level ``stride`` times shorter: output step j keeps input entry ``stride * j``."""
    if stride == 1:
        return mask
    if mask.shape[-1] % stride:
        raise ValueError(f"length {mask.shape[-1]} is not divisible by stride {stride}")
    return mask[..., ::stride]


class MaskedConv1d(nn.Conv1d):
    """Conv1d (odd kernel, 'same' padding, optional stride) whose output is zeroed at padded steps."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, groups: int = 1,
                 bias: bool = True) -> None:
        if kernel_size % 2 != 1:
            raise ValueError("kernel_size must be odd")
        super().__init__(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2,
                         groups=groups, bias=bias)

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out_mask = downsample_mask(mask, self.stride[0])
        return super().forward(x) * out_mask.to(x.dtype), out_mask


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of ``(B, C, T)`` (biased variance, eps 1e-5).

    Parameters keep the official ``(1, C, 1)`` shape so that checkpoints map without reshaping.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, channels, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(dim=1, keepdim=True)
        centred = x - mu
        var = (centred * centred).mean(dim=1, keepdim=True)
        return centred / torch.sqrt(var + self.eps) * self.weight + self.bias


class LayerScale(nn.Module):
    """Per-channel branch scale with stochastic depth while training ("AffineDropPath").

    The scale (init 1e-4) multiplies the branch also at inference; with ``drop_prob`` > 0 whole
    samples of the branch are dropped during training (and the rest rescaled by 1/keep).
    """

    def __init__(self, channels: int, drop_prob: float, init_value: float = 1e-4) -> None:
        super().__init__()
        self.drop_prob = drop_prob
        self.scale = nn.Parameter(init_value * torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.scale * x
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return x * torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep) / keep


class LevelScale(nn.Module):
    """One learnable scalar (0-dim) that multiplies the regression output of one pyramid level."""

    def __init__(self, init_value: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(init_value, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def sinusoid_table(length: int, channels: int) -> torch.Tensor:
    """(1, C, length) sinusoidal table / sqrt(C); float64 angles, cast to float32 as the original."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    j = torch.arange(channels, dtype=torch.float64)
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), 2.0 * torch.floor(j / 2) / channels)
    table = torch.where(torch.arange(channels) % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.to(torch.float32).T.unsqueeze(0) / (channels ** 0.5)


class PositionEmbedding(nn.Module):
    """Absolute sinusoidal position embedding added as ``x + pe * mask``.

    The table holds ``max_len`` steps (non-persistent: rebuilt, never loaded). For a sequence of at
    least ``max_len`` steps the table is linearly interpolated to its length (align_corners=False),
    as the official inference does; shorter sequences use the first T rows.
    """

    def __init__(self, channels: int, max_len: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.register_buffer("table", sinusoid_table(max_len, channels), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        pe = self.table.to(x.dtype)
        if length >= self.max_len:
            pe = F.interpolate(pe, size=length, mode="linear", align_corners=False)
        else:
            pe = pe[..., :length]
        return x + pe * mask.to(x.dtype)


class ConvTower(nn.Module):
    """``n`` x [masked conv k (no bias when normed) -> channel LayerNorm -> ReLU]: stems and head towers."""

    def __init__(self, in_ch: int, width: int, num_layers: int, kernel_size: int, with_ln: bool = True) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            MaskedConv1d(in_ch if i == 0 else width, width, kernel_size, bias=not with_ln) for i in range(num_layers)
        )
        self.norms = nn.ModuleList(ChannelLayerNorm(width) if with_ln else nn.Identity() for _ in range(num_layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms):
            x, _ = conv(x, mask)
            x = F.relu(norm(x))
        return x


def padded_length(length: int, max_seq_len: int, max_stride: int) -> int:
    """Official batch length: max_seq_len if the video fits, else the next multiple of max_stride."""
    if length <= max_seq_len:
        return max_seq_len
    return int(math.ceil(length / max_stride) * max_stride)


def pad_inputs(visual: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor,
               length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Zero-pad features (and extend the mask with False) at the end up to ``length`` steps."""
    extra = length - visual.shape[-1]
    if extra < 0:
        raise ValueError("cannot pad to a shorter length")
    if extra == 0:
        return visual, audio, mask
    return F.pad(visual, (0, extra)), F.pad(audio, (0, extra)), F.pad(mask, (0, extra), value=False)
