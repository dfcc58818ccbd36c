"""CCNet's multi-temporal granularity consistency (MTGC) fusion block.

Per pyramid level l (length T_l), on the fused features F(l) (B, 2C, T_l):

1. coarse-to-fine: ``G(l) = attn(kv = F(l), q = ReLU(Linear_time(F(l+1))))`` for l < L-1, G(L-1) = F(L-1);
   the Linear maps the time axis T_(l+1) -> T_l (it reads the block input of level l+1);
2. class-aware dependency: ``ReLU(press(G))`` (2C -> 128) goes through a transformer whose
   "channels" are the T_l time steps (``channel_att``), a Linear T_l -> T_l*K and ReLU; the result,
   re-read in memory order as (B, K, 128, T_l), is added to the class expansion of G and mixed by
   the temporal / co-occurrence transformers of :class:`DependencyFusion` -> O(l);
3. fine-to-coarse: ``out(0) = O(0)``; ``u = attn(kv = maxpool(out(l)), q = O(l+1))``,
   ``out(l+1) = O(l+1) + u``.

The time-axis Linear layers fix every level's length: the block only runs on inputs padded to
exactly ``max_seq_len`` (as the official code; see :class:`~.ccnet.CcnetHead` for longer inputs).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import TransformerBlock
from .fusion import CLASS_WIDTH, DependencyFusion
from .layers import MaskedConv1d


C2F_HEADS = 4


class MTGC(nn.Module):
    def __init__(self, in_ch: int, num_classes: int, max_seq_len: int, num_levels: int,
                 kernel_size: int = 3, drop_path: float = 0.1, width: int = CLASS_WIDTH) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.width = width
        lengths = [max_seq_len // 2 ** lv for lv in range(num_levels)]
        self.lengths = lengths
        self.fusion = DependencyFusion(in_ch, num_classes, kernel_size, width, drop_path)
        # 4 heads hard-coded in the official block, whatever the model's n_head
        self.c2f_attn = TransformerBlock(in_ch, C2F_HEADS, hidden=4 * in_ch, drop_path=drop_path)
        self.f2c_blocks = nn.ModuleList(TransformerBlock(in_ch, 1, hidden=4 * in_ch, drop_path=drop_path)
                                        for _ in range(num_levels - 1))
        self.c2f_upsample = nn.ModuleList(nn.Linear(lengths[lv + 1], lengths[lv]) for lv in range(num_levels - 1))
        self.press = MaskedConv1d(in_ch, width, kernel_size, bias=False)
        self.class_expand = nn.ModuleList(nn.Linear(t, t * num_classes) for t in lengths)
        self.channel_att = nn.ModuleList(TransformerBlock(t, 1, hidden=width, drop_path=drop_path) for t in lengths)
        self.pool = nn.MaxPool1d(3, stride=2, padding=1)

    def class_prior(self, g: torch.Tensor, mask: torch.Tensor, level: int) -> torch.Tensor:
        """Step 2's time-mixed class features (B, K, H, T_l) of one level."""
        p, _ = self.press(g, mask)
        p = F.relu(p).transpose(1, 2)  # (B, T_l, H): time steps act as channels
        b, t, h = p.shape
        ones = torch.ones(b, 1, h, dtype=torch.bool, device=p.device)
        p, _ = self.channel_att[level](p, None, ones)
        rows = p.transpose(1, 2).reshape(b * h, t)
        e = F.relu(self.class_expand[level](rows))  # (B*H, T_l*K)
        # The official code re-reads this buffer in memory order (a reshape, not a transpose).
        return e.reshape(b, self.num_classes, h, t)

    def forward(self, feats: list[torch.Tensor], masks: list[torch.Tensor]) -> list[torch.Tensor]:
        for f, t in zip(feats, self.lengths):
            if f.shape[-1] != t:
                raise ValueError(f"MTGC needs level lengths {self.lengths}, got {[x.shape[-1] for x in feats]}")
        guided = []
        for lv in range(len(feats) - 1):
            up = F.relu(self.c2f_upsample[lv](feats[lv + 1]))
            g, _ = self.c2f_attn(feats[lv], up, masks[lv])
            guided.append(g)
        guided.append(feats[-1])
        mixed = []
        for lv, (g, m) in enumerate(zip(guided, masks)):
            e = self.fusion.expand_classes(g, m) + self.class_prior(g, m, lv)
            mixed.append(self.fusion.mix(e, m))
        outs = [mixed[0]]
        for lv in range(len(mixed) - 1):
            u, _ = self.f2c_blocks[lv](self.pool(outs[-1]), mixed[lv + 1], masks[lv + 1])
            outs.append(mixed[lv + 1] + u)
        return outs
