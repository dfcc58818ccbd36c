"""Per-stream encoder shared by the dense heads: conv embedding, position embedding, self-attention."""
from __future__ import annotations

import torch
from torch import nn

from .attention import TransformerBlock
from .layers import ConvTower, PositionEmbedding


class StreamEncoder(nn.Module):
    """One modality: ``n`` x [conv -> LN -> ReLU], + sinusoidal position (times mask), self-attention blocks."""

    def __init__(self, in_ch: int, dim: int, num_heads: int, num_convs: int, num_blocks: int, kernel_size: int,
                 max_len: int, with_ln: bool = True, use_pe: bool = True, drop_path: float = 0.1) -> None:
        super().__init__()
        self.embed = ConvTower(in_ch, dim, num_convs, kernel_size, with_ln)
        self.pos = PositionEmbedding(dim, max_len) if use_pe else None
        self.blocks = nn.ModuleList(TransformerBlock(dim, num_heads, drop_path=drop_path) for _ in range(num_blocks))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(x, mask)
        if self.pos is not None:
            x = self.pos(x, mask)
        for block in self.blocks:
            x, _ = block(x, None, mask)
        return x
