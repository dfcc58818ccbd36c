"""Positive Sample Propagation (PSP, Zhou et al., CVPR 2021) between an audio and a visual stream.

Each segment of one modality gathers "messages" from the segments of the other modality that
are similar enough to it: a ReLU'd scaled dot-product affinity is row-normalised, entries at or
below ``threshold`` (0.099) are pruned, and (in VSCG-fully only) the rows are normalised again.

Names are by the modality each weight *sees*. The official code names them by argument position
(``a_*`` / ``v_*``), and the fully-supervised VSCG passes the visual stream as ``a``; the
converter (:mod:`avlocate.weights.convert_vscg`) maps official keys by data, not by name.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn


@dataclass
class PSPConfig:
    dim: int = 256
    threshold: float = 0.099  # PSP paper / official value
    renormalize: bool = True  # VSCG-fully re-normalises pruned rows; VSCG-weakly does not
    branch_dropout: float = 0.2  # fully 0.2, weakly 0.1 (official)
    out_dropout: float = 0.2
    norm_eps: float = 1e-8  # added to row sums before dividing
    layer_norm_eps: float = 1e-6
    # Which stream indexes the rows of the affinity matrix. Mathematically irrelevant (one
    # matrix is the transpose of the other); kept so that float32 summation order matches the
    # official code bit for bit: the pruning threshold sits within ~2e-6 of real affinities.
    rows: Literal["audio", "visual"] = "visual"


class PositiveSamplePropagation(nn.Module):
    """(B, T, D) audio, (B, T, D) visual -> updated (audio, visual), each (B, T, D).

    The LayerNorm is shared by both streams, as in the official code.
    """

    def __init__(self, config: PSPConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or PSPConfig()
        d = c.dim
        self.audio_affinity = nn.Linear(d, d, bias=False)
        self.audio_message = nn.Linear(d, d, bias=False)
        self.audio_fc = nn.Linear(d, d, bias=False)
        self.visual_affinity = nn.Linear(d, d, bias=False)
        self.visual_message = nn.Linear(d, d, bias=False)
        self.visual_fc = nn.Linear(d, d, bias=False)
        self.norm = nn.LayerNorm(d, eps=c.layer_norm_eps)
        self.branch_dropout = nn.Dropout(c.branch_dropout)
        self.out_dropout = nn.Dropout(c.out_dropout)
        for lin in (self.audio_affinity, self.audio_message, self.audio_fc,
                    self.visual_affinity, self.visual_message, self.visual_fc):
            nn.init.xavier_uniform_(lin.weight)

    def _row_normalize(self, s: torch.Tensor) -> torch.Tensor:
        return s / (s.sum(dim=-1, keepdim=True) + self.config.norm_eps)

    def _gate(self, s: torch.Tensor) -> torch.Tensor:
        """Row-normalise, prune entries <= threshold, optionally re-normalise."""
        s = self._row_normalize(s)
        s = s * (s > self.config.threshold).to(s.dtype)
        return self._row_normalize(s) if self.config.renormalize else s

    def forward(
        self, audio: torch.Tensor, visual: torch.Tensor, trace: dict[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        branch = lambda lin, x: self.branch_dropout(torch.relu(lin(x)))  # noqa: E731
        a_aff, a_msg = branch(self.audio_affinity, audio), branch(self.audio_message, audio)
        v_aff, v_msg = branch(self.visual_affinity, visual), branch(self.visual_message, visual)
        scale = math.sqrt(c.dim)
        if c.rows == "audio":
            audio_rows = torch.relu(torch.bmm(a_aff, v_aff.transpose(1, 2)) / scale)  # (B, Ta, Tv)
            visual_rows = audio_rows.transpose(1, 2)
        else:
            visual_rows = torch.relu(torch.bmm(v_aff, a_aff.transpose(1, 2)) / scale)  # (B, Tv, Ta)
            audio_rows = visual_rows.transpose(1, 2)
        audio_from_visual = self._gate(audio_rows)  # row t: weights of visual segments for audio t
        visual_from_audio = self._gate(visual_rows)
        audio_new = audio + torch.bmm(audio_from_visual, v_msg)
        visual_new = visual + torch.bmm(visual_from_audio, a_msg)
        audio_out = self.norm(self.out_dropout(torch.relu(self.audio_fc(audio_new))))
        visual_out = self.norm(self.out_dropout(torch.relu(self.visual_fc(visual_new))))
        if trace is not None:
            trace["psp_audio_from_visual"] = audio_from_visual
            trace["psp_visual_from_audio"] = visual_from_audio
            trace["psp_audio"] = audio_out
            trace["psp_visual"] = visual_out
        return audio_out, visual_out
