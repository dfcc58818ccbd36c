"""VSCG, weakly-supervised (video-level labels only; same paper as :mod:`.vscg`).

Pipeline: audio-guided visual attention on the *raw* audio -> Linear(512->128) -> one BiLSTM per
modality -> PSP (pruned rows not re-normalised) -> ESCM with cross-modal GRU initialisation ->
per-segment 29-way logits, each multiplied by a temporal weight sigmoid(ReLU(w . s)) in [0.5, 1).
Outputs:
* ``score`` (B, T, C): weighted segment logits; the official test rule labels each segment with
  argmax softmax(score), background competing as an ordinary class;
* ``video_probs`` (B, C): softmax of the time-mean of ``score`` (official ``out_avg``);
* ``smooth_probs`` (B, C): softmax of ``video_probs`` (official ``hout_avg``; the paper's
  "smooth" output, Eq. 21).

Official modules that the forward never uses (``W1``, ``W2``, ``L3``, ``escm.layer_norm1``,
``escm.v_fc``, ``escm.a_fc``) are left out: 2,257,166 parameters here vs 2,397,006 counted
officially.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import nn

from ...registry import HEADS
from .attention import AudioGuidedVisualAttention
from .escm import ESCMConfig, ESCMCrossInit
from .psp import PositiveSamplePropagation, PSPConfig
from .vscg import _bilstm, _check_inputs, _nested_from_dicts
from ...weights.convert_vscg import OFFICIAL_UNUSED_WEAKLY  # noqa: F401



# Weakly PSP keeps the pruned rows un-normalised and uses branch dropout 0.1 (official).
_WEAKLY_PSP = PSPConfig(renormalize=False, branch_dropout=0.1, rows="visual")
_WEAKLY_ESCM = ESCMConfig(dropout=0.5)  # r_i = 0.5 (paper and official)


@dataclass
class VSCGWeaklyConfig:
    audio_dim: int = 128
    visual_dim: int = 512
    num_cells: int = 49
    hidden_dim: int = 128
    num_classes: int = 29  # background last
    num_segments: int = 10
    smooth_loss_weight: float = 2.0  # lambda in Eq. 19 (applies to the plain BCE term)
    psp: PSPConfig = field(default_factory=lambda: dataclasses.replace(_WEAKLY_PSP))
    escm: ESCMConfig = field(default_factory=lambda: dataclasses.replace(_WEAKLY_ESCM))

    def __post_init__(self) -> None:
        _nested_from_dicts(self, _WEAKLY_PSP, _WEAKLY_ESCM)

    @property
    def background(self) -> int:
        return self.num_classes - 1


class VSCGWeaklyOutput(NamedTuple):
    video_probs: torch.Tensor  # (B, C)    [official out_avg]
    score: torch.Tensor  # (B, T, C)       [official score]
    smooth_probs: torch.Tensor  # (B, C)   [official hout_avg]


@HEADS.register("vscg-weakly")
class VSCGWeakly(nn.Module):
    """Weakly-supervised VSCG head: audio (B, 10, 128) + visual (B, 10, 7, 7, 512) -> VSCGWeaklyOutput."""

    config_class = VSCGWeaklyConfig

    def __init__(self, config: VSCGWeaklyConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or VSCGWeaklyConfig()
        h = c.hidden_dim
        self.attention = AudioGuidedVisualAttention(c.audio_dim, c.visual_dim, c.visual_dim, c.num_cells)
        self.visual_proj = nn.Linear(c.visual_dim, h)
        self.audio_lstm = _bilstm(c.audio_dim, h)
        self.visual_lstm = _bilstm(h, h)
        self.psp = PositiveSamplePropagation(c.psp)
        self.escm = ESCMCrossInit(c.escm)
        d = 2 * c.escm.hidden
        self.segment_head = nn.Sequential(
            nn.Linear(d, 64, bias=False), nn.ReLU(), nn.Linear(64, c.num_classes, bias=False)
        )
        nn.init.xavier_uniform_(self.segment_head[0].weight)
        nn.init.xavier_uniform_(self.segment_head[2].weight)
        self.temporal_weight = nn.Linear(c.num_classes, 1, bias=False)  # PyTorch-default init (official)

    def forward(
        self, audio: torch.Tensor, visual: torch.Tensor, trace: dict[str, torch.Tensor] | None = None
    ) -> VSCGWeaklyOutput:
        _check_inputs(audio, visual)
        v = self.visual_proj(self.attention(audio, visual, trace))
        a_seq, _ = self.audio_lstm(audio)
        v_seq, _ = self.visual_lstm(v)
        a_psp, v_psp = self.psp(a_seq, v_seq, trace)
        fusion, _, _ = self.escm(a_psp, v_psp, trace)
        raw = self.segment_head(fusion)
        weight_logit = self.temporal_weight(raw)
        score = raw * torch.sigmoid(torch.relu(weight_logit))
        video_probs = torch.softmax(score.mean(dim=1), dim=-1)
        smooth_probs = torch.softmax(video_probs, dim=-1)
        if trace is not None:
            trace.update(visual_proj=v, audio_lstm=a_seq, visual_lstm=v_seq, raw_segment_logits=raw,
                         temporal_weight_logit=weight_logit)
        return VSCGWeaklyOutput(video_probs, score, smooth_probs)

    def segment_probs(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        """(B, T, C) softmax of the weighted segment scores (what the official test argmaxes)."""
        return torch.softmax(self(audio, visual).score, dim=-1)

    def labels_from_probs(self, probs: torch.Tensor) -> torch.Tensor:
        return probs.argmax(dim=-1)
