"""``lite-av``: the small head of the offline demo model.

Two temporal convolution branches score each class per snippet from one modality each
(audio evidence ``a``, visual evidence ``v``); the audio-visual logit is their soft minimum
``-log(exp(-a) + exp(-v))``. That builds the task's definition into the architecture: an event is
audio-visual only when it is both heard and seen, so a distractor that is strong in one modality
alone stays below threshold. The per-modality logits come for free and are reported by
``--per-modality`` style consumers.

Input normalisation statistics are buffers, saved with the weights, so a card + safetensors file
is the whole model. Layout as every avlocate head: features (B, C, T), mask (B, 1, T) bool.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..registry import HEADS


@dataclass
class LiteHeadConfig:
    visual_dim: int = 56
    audio_dim: int = 81
    num_classes: int = 4
    hidden: int = 64
    kernel: int = 5  # 5 snippets = 1.25 s of context at the lite extractor's 0.25 s step
    dropout: float = 0.1


class _Branch(nn.Module):
    def __init__(self, in_dim: int, cfg: LiteHeadConfig) -> None:
        super().__init__()
        pad = cfg.kernel // 2
        self.register_buffer("mean", torch.zeros(1, in_dim, 1))
        self.register_buffer("std", torch.ones(1, in_dim, 1))
        self.net = nn.Sequential(
            nn.Conv1d(in_dim, cfg.hidden, cfg.kernel, padding=pad),
            nn.GELU(),
            nn.Dropout(cfg.dropout),
            nn.Conv1d(cfg.hidden, cfg.hidden, cfg.kernel, padding=pad),
            nn.GELU(),
            nn.Conv1d(cfg.hidden, cfg.num_classes, 1),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std * mask  # padded steps stay exactly 0
        return self.net(x)


@HEADS.register("lite-av")
class LiteAVHead(nn.Module):
    config_class = LiteHeadConfig

    def __init__(self, config: LiteHeadConfig | None = None) -> None:
        super().__init__()
        self.config = config or LiteHeadConfig()
        self.visual = _Branch(self.config.visual_dim, self.config)
        self.audio = _Branch(self.config.audio_dim, self.config)

    def set_normalisation(self, visual: torch.Tensor, audio: torch.Tensor) -> None:
        """Per-channel mean/std from training features (T, C) of each modality."""
        for branch, feats in ((self.visual, visual), (self.audio, audio)):
            branch.mean.copy_(feats.mean(0).view(1, -1, 1))
            branch.std.copy_(feats.std(0).clamp(min=1e-4).view(1, -1, 1))

    def forward(self, visual: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        maskf = mask.to(visual.dtype)
        v = self.visual(visual, maskf)
        a = self.audio(audio, maskf)
        av = -torch.logaddexp(-a, -v)
        # time-major (B, T, K) like the dense heads' outputs
        return {"logits": av.transpose(1, 2), "audio_logits": a.transpose(1, 2), "visual_logits": v.transpose(1, 2)}
