"""ESG-Net building blocks: the aligner's channel attention and the mixture of dependency experts.

Paper: "ESG-Net: event-aware semantic guided network for dense audio-visual event localization"
(../shared/papers/esgnet_dave_unav100.txt, Sec. III-C/D). No official code exists; choices for
what the paper leaves open are listed in esgnet.py's docstring.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import TransformerBlock
from .layers import MaskedConv1d


class ChannelAttention(nn.Module):
    """Eq. (4): self-attention whose tokens are the D channels and whose features are the T_m steps.

    ``W_q, W_k, W_v`` are T_m x T_m (the paper's sizes), so the block fixes the sequence length
    to ``max_len``. Single head, no output projection and no residual (Eq. (4) has none).
    """

    def __init__(self, max_len: int) -> None:
        super().__init__()
        self.q = nn.Linear(max_len, max_len)
        self.k = nn.Linear(max_len, max_len)
        self.v = nn.Linear(max_len, max_len)
        self.scale = 1.0 / max_len ** 0.5

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.to(x.dtype)
        x = x * m  # padded steps must not leak into the time-feature vectors
        att = torch.softmax((self.q(x) * self.scale) @ self.k(x).transpose(1, 2), dim=-1)  # (B, D, D)
        return (att @ self.v(x)) * m


class Expert(nn.Module):
    """Eq. (12): LeakyReLU(A x Conv(Z)), A a learnable C x C adjacency over the class channels."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = MaskedConv1d(channels, channels, kernel_size)
        # Start as "no inter-class mixing" (identity): the experts learn dependencies from there.
        self.adjacency = nn.Parameter(torch.eye(channels))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y, _ = self.conv(x, mask)
        return F.leaky_relu(torch.einsum("ij,bjt->bit", self.adjacency, y))


class MoELayer(nn.Module):
    """Eqs. (10)-(11): n experts, a Gumbel-Softmax gate that picks exactly one per video."""

    def __init__(self, channels: int, num_experts: int, kernel_size: int, tau: float = 1.0) -> None:
        super().__init__()
        self.tau = tau
        self.experts = nn.ModuleList(Expert(channels, kernel_size) for _ in range(num_experts))
        self.gate = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(), nn.Linear(channels, num_experts))

    def choose(self, pooled: torch.Tensor) -> torch.Tensor:
        """One-hot (B, n) expert choice: Gumbel-Softmax straight-through when training, argmax at eval."""
        logits = self.gate(pooled)
        if self.training:
            return F.gumbel_softmax(logits, tau=self.tau, hard=True)
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)

    def forward(self, levels: list[torch.Tensor], masks: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
        gate = self.choose(pooled_mean(levels, masks))
        outs = []
        for x, m in zip(levels, masks):
            stacked = torch.stack([e(x, m) for e in self.experts], dim=1)  # (B, n, C, T)
            outs.append(torch.einsum("bn,bnct->bct", gate, stacked) * m.to(x.dtype))
        return outs, gate


def pooled_mean(levels: list[torch.Tensor], masks: list[torch.Tensor]) -> torch.Tensor:
    """(B, C) mean over the valid steps of all pyramid levels (the paper's concatenated T_l axis)."""
    total = sum((x * m.to(x.dtype)).sum(-1) for x, m in zip(levels, masks))
    count = sum(m.to(levels[0].dtype).sum(-1) for m in masks)
    return total / count.clamp(min=1.0)


class MoDE(nn.Module):
    """Mixture of dependency experts: Z -> Z' (C = classes) -> temporal branch + expert chain.

    Returns Z_hat = Z_t + Z_e per level (B, C, T_l), with the experts chosen per layer (B, m, n).
    """

    def __init__(self, in_ch: int, num_classes: int, num_heads: int, n1: int = 2, n2: int = 1, layers: int = 4,
                 experts: int = 2, kernel_size: int = 3, drop_path: float = 0.1, tau: float = 1.0) -> None:
        super().__init__()
        c = num_classes
        self.project = MaskedConv1d(in_ch, c, 1)
        self.temporal = nn.ModuleList(TransformerBlock(c, num_heads, drop_path=drop_path) for _ in range(n1 + n2))
        self.n1 = n1
        self.moe = nn.ModuleList(MoELayer(c, experts, kernel_size, tau) for _ in range(layers))

    def forward(self, feats: list[torch.Tensor], masks: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
        z = [self.project(x, m)[0] for x, m in zip(feats, masks)]
        mid = z
        for i, block in enumerate(self.temporal):
            z = [block(x, None, m)[0] for x, m in zip(z, masks)]
            if i + 1 == self.n1:
                mid = z  # Z~: input of the expert chain
        e, gates = mid, []
        for layer in self.moe:
            e, gate = layer(e, masks)
            gates.append(gate)
        return [zt + ze for zt, ze in zip(z, e)], torch.stack(gates, dim=1)
