"""Masked multi-head convolutional attention and the blocks built from it.

* :class:`ConvAttention` - q from one sequence, k/v from another, each through a depthwise masked
  conv (kernel 3, stride 1 or 2) + channel LayerNorm + 1x1 projection (the ActionFormer-style
  attention that UnAV and CCNet use).
* :class:`TransformerBlock` - pre-norm block: attention + max-pool skip + MLP, each branch with a
  per-channel :class:`LayerScale`.
* :class:`TemporalGate` - CCNet's temporal-consistency gate: attention -> 1x1 conv -> sigmoid.

A mask is either ``(B, 1, T)`` (per step) or ``(B, 1, 1)`` (one flag for a whole sequence, used
when attention runs along the class axis). With a per-sequence flag no key is set to -inf; padded
sequences are zeroed by the flag instead, exactly as the official fusion block behaves.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ChannelLayerNorm, LayerScale, MaskedConv1d


class ConvAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, stride: int = 1, mask_keys: bool = True) -> None:
        super().__init__()
        self.mask_keys = mask_keys
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = 1.0 / (self.head_dim ** 0.5)
        # Kernel 3 for stride 1 and stride+1 (=3) for stride 2, padding 1: as the official code.
        kernel = stride + 1 if stride > 1 else 3
        self.q_conv = MaskedConv1d(dim, dim, kernel, stride=stride, groups=dim, bias=False)
        self.q_norm = ChannelLayerNorm(dim)
        self.k_conv = MaskedConv1d(dim, dim, kernel, stride=stride, groups=dim, bias=False)
        self.k_norm = ChannelLayerNorm(dim)
        self.v_conv = MaskedConv1d(dim, dim, kernel, stride=stride, groups=dim, bias=False)
        self.v_norm = ChannelLayerNorm(dim)
        self.q_proj = nn.Conv1d(dim, dim, 1)
        self.k_proj = nn.Conv1d(dim, dim, 1)
        self.v_proj = nn.Conv1d(dim, dim, 1)
        self.out_proj = nn.Conv1d(dim, dim, 1)

    def forward(self, x_kv: torch.Tensor, x_q: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x_kv`` gives keys and values, ``x_q`` the queries (same length). Returns (out, q-mask)."""
        q, q_mask = self.q_conv(x_q, mask)
        k, kv_mask = self.k_conv(x_kv, mask)
        v, _ = self.v_conv(x_kv, mask)
        q = self.q_proj(self.q_norm(q))
        k = self.k_proj(self.k_norm(k))
        v = self.v_proj(self.v_norm(v))
        b, c, t_q = q.shape
        t_k = k.shape[-1]
        # (B, heads, T, head_dim); channel h*head_dim + d belongs to head h.
        q = q.view(b, self.num_heads, self.head_dim, t_q).transpose(2, 3)
        k = k.view(b, self.num_heads, self.head_dim, t_k).transpose(2, 3)
        v = v.view(b, self.num_heads, self.head_dim, t_k).transpose(2, 3)
        att = (q * self.scale) @ k.transpose(-2, -1)
        if self.mask_keys and kv_mask.shape[-1] == t_k:  # per-step mask: padded keys get no weight
            att = att.masked_fill(~kv_mask[:, :, None, :], float("-inf"))
        att = F.softmax(att, dim=-1)
        out = att @ (v * kv_mask[:, :, :, None].to(v.dtype))
        out = out.transpose(2, 3).reshape(b, c, t_q)
        return self.out_proj(out) * q_mask.to(out.dtype), q_mask


class Mlp(nn.Module):
    """1x1 conv -> exact GELU -> 1x1 conv (dropout 0 in every paper config, so none here)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv1d(dim, hidden, 1)
        self.fc2 = nn.Conv1d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class TransformerBlock(nn.Module):
    """Pre-norm (cross-)attention block; ``stride`` 2 halves the length (max-pool skip)."""

    def __init__(self, dim: int, num_heads: int, hidden: int | None = None, stride: int = 1,
                 drop_path: float = 0.1) -> None:
        super().__init__()
        self.norm_kv = ChannelLayerNorm(dim)  # official ln11: the key/value (and skip) source
        self.norm_q = ChannelLayerNorm(dim)  # official ln12: the query source
        self.norm_mlp = ChannelLayerNorm(dim)
        self.attn = ConvAttention(dim, num_heads, stride)
        self.mlp = Mlp(dim, hidden if hidden is not None else 4 * dim)
        self.skip = nn.MaxPool1d(3, stride=stride, padding=1) if stride > 1 else nn.Identity()
        self.scale_attn: nn.Module = LayerScale(dim, drop_path) if drop_path > 0 else nn.Identity()
        self.scale_mlp: nn.Module = LayerScale(dim, drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x_kv: torch.Tensor, x_q: torch.Tensor | None,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Self-attention when ``x_q`` is None. The skip path uses the raw ``x_kv`` (as official)."""
        q_src = x_kv if x_q is None else x_q
        a, q_mask = self.attn(self.norm_kv(x_kv), self.norm_q(q_src), mask)
        m = q_mask.to(a.dtype)
        y = self.skip(x_kv) * m + self.scale_attn(a)
        y = y + self.scale_mlp(self.mlp(self.norm_mlp(y)) * m)
        return y, q_mask


class TemporalGate(nn.Module):
    """CCNet's temporal consistency gate (TCG): a (B, 1, T') sigmoid gate from self-attention.

    Kept as in the official code because the published weights were trained with it: the strided
    gates receive the already-downsampled mask there, which switches their attention to the
    branch without -inf key masking, so padded keys take part in the softmax (their values are
    zero). Their output therefore depends on the padded length, which CCNet always fixes to
    max_seq_len, so a video's result still does not depend on its batch.
    """

    def __init__(self, dim: int, num_heads: int, stride: int = 1) -> None:
        super().__init__()
        self.norm_kv = ChannelLayerNorm(dim)
        self.norm_q = ChannelLayerNorm(dim)
        self.attn = ConvAttention(dim, num_heads, stride, mask_keys=stride == 1)
        self.gate = MaskedConv1d(dim, 1, 1)

    def forward(self, x_kv: torch.Tensor, x_q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        a, q_mask = self.attn(self.norm_kv(x_kv), self.norm_q(x_q), mask)
        g, _ = self.gate(a, q_mask)
        return torch.sigmoid(g)
