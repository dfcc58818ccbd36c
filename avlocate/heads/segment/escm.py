"""Event Semantic Consistency Modelling (ESCM, VSCG paper Sec. III-D).

CERE (cross-modal event representation extractor): one Conv1d/ReLU/MaxPool stack, **shared** by
both modalities, pools a (B, T, 256) stream over time to 2 positions = a video-level summary.
ISCE: that summary initialises two bidirectional GRUs (position 0 -> forward direction,
position 1 -> backward direction), one per modality.

The two training settings of the official code differ here, so there are two modules:
* :class:`ESCM` (fully): both GRUs start from the mean of the two summaries, then
  Linear + ReLU + dropout(0.1) + shared LayerNorm per stream, as in the paper (Eq. 9-13).
* :class:`ESCMCrossInit` (weakly): each GRU starts from a bias-free projection of the *other*
  modality's summary; GRU outputs get dropout(0.5) and the shared LayerNorm, no Linear.
Both return the fused feature ``0.5 * (audio + visual)`` and the two normalised streams.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ESCMConfig:
    dim: int = 256  # PSP output width = GRU input width
    hidden: int = 128  # CERE channels = GRU hidden size (bidirectional -> 256 out)
    kernel: int = 5
    dropout: float = 0.1  # r_i: 0.1 in the official fully code, 0.5 weakly (paper text: 0.2 / 0.5)
    layer_norm_eps: float = 1e-6


class CERE(nn.Module):
    """(B, T, D) -> (L, B, H) video-level summary, L = T // 4 (= 2 for the 10-segment AVE clips)."""

    def __init__(self, dim: int = 256, hidden: int = 128, kernel: int = 5) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(dim, hidden, kernel, stride=1, padding=kernel // 2)
        self.conv2 = nn.Conv1d(hidden, hidden, kernel, stride=1, padding=kernel // 2)
        self.pool = nn.MaxPool1d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(torch.relu(self.conv1(x.transpose(1, 2))))
        y = self.pool(torch.relu(self.conv2(y)))  # floor: T=10 -> 5 -> 2 (5th position dropped)
        return y.permute(2, 0, 1).contiguous()


def _bigru(dim: int, hidden: int) -> nn.GRU:
    return nn.GRU(dim, hidden, num_layers=1, batch_first=True, bidirectional=True)


def _check_summary(h0: torch.Tensor, t: int) -> None:
    # A 1-layer BiGRU needs exactly 2 initial states; CERE gives T // 4 positions.
    if h0.shape[0] != 2:
        raise ValueError(f"VSCG's ESCM needs windows of 8 to 11 segments (AVE: 10); got {t}")


class ESCM(nn.Module):
    """Fully-supervised ESCM. Official names: cere [conv1.0/conv2.0], audio_gru [v_gru],
    visual_gru [a_gru], audio_fc [a_fc], visual_fc [v_fc], norm [layer_norm] (fully wiring)."""

    def __init__(self, config: ESCMConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ESCMConfig()
        self.cere = CERE(c.dim, c.hidden, c.kernel)
        self.audio_gru = _bigru(c.dim, c.hidden)
        self.visual_gru = _bigru(c.dim, c.hidden)
        self.audio_fc = nn.Linear(2 * c.hidden, 2 * c.hidden, bias=False)
        self.visual_fc = nn.Linear(2 * c.hidden, 2 * c.hidden, bias=False)
        nn.init.xavier_uniform_(self.audio_fc.weight)
        nn.init.xavier_uniform_(self.visual_fc.weight)
        self.norm = nn.LayerNorm(2 * c.hidden, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.dropout)

    def forward(
        self, audio: torch.Tensor, visual: torch.Tensor, trace: dict[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h0 = 0.5 * (self.cere(visual) + self.cere(audio))  # E^av, Eq. 9
        _check_summary(h0, audio.shape[1])
        audio_seq, _ = self.audio_gru(audio, h0)
        visual_seq, _ = self.visual_gru(visual, h0)
        audio_norm = self.norm(self.dropout(torch.relu(self.audio_fc(audio_seq))))
        visual_norm = self.norm(self.dropout(torch.relu(self.visual_fc(visual_seq))))
        fusion = 0.5 * (audio_norm + visual_norm)
        if trace is not None:
            trace.update(audio_gru_h0=h0, visual_gru_h0=h0, audio_gru=audio_seq, visual_gru=visual_seq,
                         audio_norm=audio_norm, visual_norm=visual_norm, fusion=fusion)
        return fusion, audio_norm, visual_norm


class ESCMCrossInit(nn.Module):
    """Weakly-supervised ESCM (official wiring). Official names: cere [conv1.0/conv2.0],
    audio_gru [a_gru], visual_gru [v_gru], audio_summary_to_visual_h0 [L1],
    visual_summary_to_audio_h0 [L2], norm [layer_norm]."""

    def __init__(self, config: ESCMConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ESCMConfig(dropout=0.5)
        self.cere = CERE(c.dim, c.hidden, c.kernel)
        self.audio_gru = _bigru(c.dim, c.hidden)
        self.visual_gru = _bigru(c.dim, c.hidden)
        self.audio_summary_to_visual_h0 = nn.Linear(c.hidden, c.hidden, bias=False)
        self.visual_summary_to_audio_h0 = nn.Linear(c.hidden, c.hidden, bias=False)
        self.norm = nn.LayerNorm(2 * c.hidden, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.dropout)

    def forward(
        self, audio: torch.Tensor, visual: torch.Tensor, trace: dict[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        audio_h0 = self.visual_summary_to_audio_h0(self.cere(visual))
        visual_h0 = self.audio_summary_to_visual_h0(self.cere(audio))
        _check_summary(audio_h0, audio.shape[1])
        audio_seq, _ = self.audio_gru(audio, audio_h0)
        visual_seq, _ = self.visual_gru(visual, visual_h0)
        audio_norm = self.norm(self.dropout(audio_seq))
        visual_norm = self.norm(self.dropout(visual_seq))
        fusion = 0.5 * (visual_norm + audio_norm)
        if trace is not None:
            trace.update(audio_gru_h0=audio_h0, visual_gru_h0=visual_h0, audio_gru=audio_seq,
                         visual_gru=visual_seq, audio_norm=audio_norm, visual_norm=visual_norm, fusion=fusion)
        return fusion, audio_norm, visual_norm
