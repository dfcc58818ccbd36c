"""CCNet head (Zhou et al., AAAI 2025): CMCC backbone + MTGC fusion + the UnAV heads.

CMCC: per-stream encoders, cross-modal interaction blocks (visual keys/values + audio queries and
vice versa) gated by temporal-consistency gates of the *other* modality (``V = x + x * g_audio``),
at full resolution and at 5 strided levels. MTGC: see mtgc.py. Heads as UnAV.

Inputs are padded to max_seq_len like the official loader. Longer inputs cannot run in one pass
(the MTGC's time-axis Linear layers fix the length, the official code fails there too):
:meth:`CcnetHead.forward` raises :class:`~avlocate.errors.ModelError` saying so; callers split
long videos into windows of at most ``max_seq_len`` steps (see ``windows``) and merge.
"""
from __future__ import annotations

import torch
from torch import nn

from ...errors import ModelError
from ...registry import HEADS
from .attention import TemporalGate, TransformerBlock
from .backbone import StreamEncoder
from .config import CcnetConfig
from .heads import ClassificationHead, DenseOutput, RegressionHead
from .layers import pad_inputs
from .mtgc import MTGC


class CcnetBackbone(nn.Module):
    def __init__(self, cfg: CcnetConfig) -> None:
        super().__init__()
        c, h, dp = cfg.embed_dim, cfg.num_heads, cfg.drop_path

        def encoder(in_ch: int) -> StreamEncoder:
            return StreamEncoder(in_ch, c, h, cfg.stem_convs, cfg.self_blocks, cfg.embed_kernel, cfg.max_seq_len,
                                 cfg.with_ln, True, dp)

        self.visual = encoder(cfg.input_dim_visual)
        self.audio = encoder(cfg.input_dim_audio)
        self.visual_cross = TransformerBlock(c, h, drop_path=dp)
        self.audio_cross = TransformerBlock(c, h, drop_path=dp)
        self.visual_down = nn.ModuleList(TransformerBlock(c, h, stride=2, drop_path=dp)
                                         for _ in range(cfg.num_downsample))
        self.audio_down = nn.ModuleList(TransformerBlock(c, h, stride=2, drop_path=dp)
                                        for _ in range(cfg.num_downsample))
        # visual_gate[l] is computed from the visual stream and gates the audio stream (and vice versa).
        self.visual_gate = nn.ModuleList(TemporalGate(c, h, stride=1 if i == 0 else 2)
                                         for i in range(cfg.num_downsample + 1))
        self.audio_gate = nn.ModuleList(TemporalGate(c, h, stride=1 if i == 0 else 2)
                                        for i in range(cfg.num_downsample + 1))

    def forward(self, visual: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor
                ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        v = self.visual(visual, mask)
        a = self.audio(audio, mask)
        x, _ = self.visual_cross(v, a, mask)
        y, _ = self.audio_cross(a, v, mask)
        g, hg = self.audio_gate[0](a, a, mask), self.visual_gate[0](v, v, mask)
        vs, as_, masks = [x + x * g], [y + y * hg], [mask]
        for i in range(len(self.visual_down)):
            vi, ai, mi = vs[-1], as_[-1], masks[-1]
            x, m_next = self.visual_down[i](vi, ai, mi)
            y, _ = self.audio_down[i](ai, vi, mi)
            g, hg = self.audio_gate[i + 1](ai, ai, mi), self.visual_gate[i + 1](vi, vi, mi)
            vs.append(x + x * g)
            as_.append(y + y * hg)
            masks.append(m_next)
        return vs, as_, masks


@HEADS.register("ccnet")
class CcnetHead(nn.Module):
    config_class = CcnetConfig
    #: True when layers are sized by max_seq_len (longer videos run in windows)
    fixed_length = True

    def __init__(self, cfg: CcnetConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or CcnetConfig()
        self.cfg = cfg
        width = 2 * cfg.embed_dim
        self.backbone = CcnetBackbone(cfg)
        self.mtgc = MTGC(width, cfg.num_classes, cfg.max_seq_len, cfg.num_levels, cfg.embed_kernel,
                         cfg.drop_path)
        self.mtgc.fusion.official_batch_mask = cfg.official_batch_mask
        self.cls_head = ClassificationHead(width, cfg.head_dim, cfg.num_classes, cfg.head_layers, cfg.head_kernel,
                                           cfg.with_ln, cfg.prior_prob)
        self.reg_head = RegressionHead(width, cfg.head_dim, cfg.num_classes, cfg.num_levels, cfg.head_layers,
                                       cfg.head_kernel, cfg.with_ln)

    def padded_length(self, length: int) -> int:
        if length > self.cfg.max_seq_len:
            raise ModelError(
                f"CCNet runs on at most max_seq_len={self.cfg.max_seq_len} feature steps at once (its MTGC "
                f"block has time-axis Linear layers), got {length}; split the video into windows"
            )
        return self.cfg.max_seq_len

    def forward(self, visual: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor | None = None) -> DenseOutput:
        """visual (B, Cv, T), audio (B, Ca, T), mask (B, 1, T) bool; T <= max_seq_len."""
        if mask is None:
            mask = torch.ones(visual.shape[0], 1, visual.shape[-1], dtype=torch.bool, device=visual.device)
        visual, audio, mask = pad_inputs(visual, audio, mask, self.padded_length(visual.shape[-1]))
        vs, as_, masks = self.backbone(visual, audio, mask)
        fused = self.mtgc([torch.cat([v, a], dim=1) for v, a in zip(vs, as_)], masks)
        return DenseOutput(
            logits=self.cls_head(fused, masks), offsets=self.reg_head(fused, masks),
            masks=[m[:, 0] for m in masks], strides=[2 ** i for i in range(len(masks))],
            visual=vs, audio=as_, fused=fused,
        )
