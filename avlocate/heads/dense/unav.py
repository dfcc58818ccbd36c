"""UnAV baseline head (Geng et al., "Dense-Localizing Audio-Visual Events in Untrimmed Videos", CVPR 2023).

visual/audio -> per-stream encoders -> full-resolution cross-modal blocks -> 5 strided cross-modal
blocks per stream (6-level pyramid) -> per level concat(V, A) -> dependency fusion -> shared
classification / class-aware regression heads. Matches the official code numerically (see
tests/heads/test_dense_unav.py); the one deliberate difference is the per-video fusion mask
(see fusion.py; ``UnavConfig.official_batch_mask`` restores the official behaviour).

Any input length runs: inputs are padded to max_seq_len (or to the next multiple of 32 beyond it)
and the absolute position table is linearly re-interpolated to the padded length, which is what
the official inference does once its point-buffer limit is lifted.
"""
from __future__ import annotations

import torch
from torch import nn

from ...registry import HEADS
from .attention import TransformerBlock
from .backbone import StreamEncoder
from .config import UnavConfig
from .fusion import DependencyFusion
from .heads import ClassificationHead, DenseOutput, RegressionHead
from .layers import pad_inputs, padded_length


class UnavBackbone(nn.Module):
    def __init__(self, cfg: UnavConfig) -> None:
        super().__init__()
        c, h = cfg.embed_dim, cfg.num_heads

        def encoder(in_ch: int) -> StreamEncoder:
            return StreamEncoder(in_ch, c, h, cfg.stem_convs, cfg.self_blocks, cfg.embed_kernel, cfg.max_seq_len,
                                 cfg.with_ln, cfg.use_abs_pe, cfg.drop_path)

        self.visual = encoder(cfg.input_dim_visual)
        self.audio = encoder(cfg.input_dim_audio)
        # "visual_*" blocks produce the visual pyramid: keys/values/skip from visual, queries from audio.
        self.visual_cross = TransformerBlock(c, h, drop_path=cfg.drop_path)
        self.audio_cross = TransformerBlock(c, h, drop_path=cfg.drop_path)
        self.visual_down = nn.ModuleList(TransformerBlock(c, h, stride=2, drop_path=cfg.drop_path)
                                         for _ in range(cfg.num_downsample))
        self.audio_down = nn.ModuleList(TransformerBlock(c, h, stride=2, drop_path=cfg.drop_path)
                                        for _ in range(cfg.num_downsample))

    def forward(self, visual: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor
                ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        v = self.visual(visual, mask)
        a = self.audio(audio, mask)
        v0, _ = self.visual_cross(v, a, mask)
        a0, _ = self.audio_cross(a, v, mask)
        vs, as_, masks = [v0], [a0], [mask]
        for vblock, ablock in zip(self.visual_down, self.audio_down):
            v_next, m_next = vblock(vs[-1], as_[-1], masks[-1])
            a_next, _ = ablock(as_[-1], vs[-1], masks[-1])
            vs.append(v_next)
            as_.append(a_next)
            masks.append(m_next)
        return vs, as_, masks


@HEADS.register("unav")
class UnavHead(nn.Module):
    config_class = UnavConfig
    #: True when layers are sized by max_seq_len (longer videos run in windows)
    fixed_length = False

    def __init__(self, cfg: UnavConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or UnavConfig()
        self.cfg = cfg
        width = 2 * cfg.embed_dim
        self.backbone = UnavBackbone(cfg)
        self.fusion = DependencyFusion(width, cfg.num_classes, cfg.embed_kernel, drop_path=cfg.drop_path) \
            if cfg.use_dependency else None
        if self.fusion is not None:
            self.fusion.official_batch_mask = cfg.official_batch_mask
        self.cls_head = ClassificationHead(width, cfg.head_dim, cfg.num_classes, cfg.head_layers, cfg.head_kernel,
                                           cfg.with_ln, cfg.prior_prob)
        self.reg_head = RegressionHead(width, cfg.head_dim, cfg.num_classes, cfg.num_levels, cfg.head_layers,
                                       cfg.head_kernel, cfg.with_ln)

    def padded_length(self, length: int) -> int:
        return padded_length(length, self.cfg.max_seq_len, self.cfg.max_stride)

    def forward(self, visual: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor | None = None) -> DenseOutput:
        """visual (B, Cv, T), audio (B, Ca, T), mask (B, 1, T) bool (None = all valid)."""
        if mask is None:
            mask = torch.ones(visual.shape[0], 1, visual.shape[-1], dtype=torch.bool, device=visual.device)
        visual, audio, mask = pad_inputs(visual, audio, mask, self.padded_length(visual.shape[-1]))
        vs, as_, masks = self.backbone(visual, audio, mask)
        fused = []
        for v, a, m in zip(vs, as_, masks):
            f = torch.cat([v, a], dim=1)
            fused.append(self.fusion(f, m) if self.fusion is not None else f)
        return DenseOutput(
            logits=self.cls_head(fused, masks), offsets=self.reg_head(fused, masks),
            masks=[m[:, 0] for m in masks], strides=[2 ** i for i in range(len(masks))],
            visual=vs, audio=as_, fused=fused,
        )
