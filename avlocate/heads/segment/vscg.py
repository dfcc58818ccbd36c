"""VSCG, fully-supervised (Jiang, Yin, Dang, "Leveraging the Video-level Semantic Consistency of
Event for Audio-visual Event Localization", IEEE TMM 2023).

Pipeline per 10-segment clip: audio projection -> audio-guided visual attention -> visual
projection -> one BiLSTM per modality -> PSP -> ESCM -> heads:
* ``relevance`` (B, T): per-segment event-relevance logit (paper o_t, official ``L3``);
* ``class_logits`` (B, 28): one event class per clip from the temporal max of the fused feature
  (paper o_c, official ``L4``);
* ``similarity`` (B, T): cosine of the two ESCM streams per segment (for the AVPS loss);
* ``segment_logits`` (B, T, 29): an auxiliary per-segment head (official ``L1``/``L2``, returned
  by the official forward but used by neither its loss nor its evaluation; kept for parity).

Inference (official ``compute_accuracy_supervised``): a segment is an event when
sigmoid(relevance) > 0.7 (strict), and then gets the clip's argmax class; otherwise background.

Deliberate differences from the official code: modules are named by the modality whose data
they process (the official fully model feeds visual data to modules named for audio from the
LSTM on; see :mod:`avlocate.weights.convert_vscg`), and the official modules the forward never
uses (``linear_v``, ``v_classify``, ``a_classify``, ``audio_gated``, ``video_gated``,
``escm.L1``: 102,620 parameters) are left out, so this module has 2,526,606 parameters where the
official one counts 2,629,226 (the paper's "2.6 M").
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import nn

from ...registry import HEADS
from ...weights.convert_vscg import OFFICIAL_UNUSED_FULLY  # noqa: F401 - the official layout lives with its converter
from .attention import AudioGuidedVisualAttention
from .escm import ESCM, ESCMConfig
from .psp import PositiveSamplePropagation, PSPConfig
from .vscg_losses import fully_labels_from_probs, fully_segment_probs



_FULLY_PSP = PSPConfig(renormalize=True, branch_dropout=0.2, rows="audio")
_FULLY_ESCM = ESCMConfig(dropout=0.1)


@dataclass
class VSCGConfig:
    audio_dim: int = 128  # VGGish
    visual_dim: int = 512  # VGG-19 pool5 channels
    num_cells: int = 49  # 7 x 7 pool5 map
    hidden_dim: int = 128  # LSTM hidden (BiLSTM output 256)
    num_classes: int = 29  # 28 events + background (last index)
    num_segments: int = 10
    event_threshold: float = 0.7  # tau_b (paper and official): sigmoid(relevance) > tau_b
    psp: PSPConfig = field(default_factory=lambda: dataclasses.replace(_FULLY_PSP))
    # ESCM dropout: 0.1 in the official code; the paper's text says r_i = 0.2. Only training differs.
    escm: ESCMConfig = field(default_factory=lambda: dataclasses.replace(_FULLY_ESCM))

    def __post_init__(self) -> None:
        _nested_from_dicts(self, _FULLY_PSP, _FULLY_ESCM)

    @property
    def background(self) -> int:
        return self.num_classes - 1


def _nested_from_dicts(cfg: Any, psp_default: PSPConfig, escm_default: ESCMConfig) -> None:
    """Model cards store configs as JSON: nested sub-configs given as dicts override the
    variant's defaults (fully and weakly PSP/ESCM defaults differ)."""
    if isinstance(cfg.psp, dict):
        cfg.psp = dataclasses.replace(psp_default, **cfg.psp)
    if isinstance(cfg.escm, dict):
        cfg.escm = dataclasses.replace(escm_default, **cfg.escm)


class VSCGOutput(NamedTuple):
    relevance: torch.Tensor  # (B, T) logits  [official is_event_scores, (B, T, 1)]
    class_logits: torch.Tensor  # (B, C-1)    [official event_scores]
    similarity: torch.Tensor  # (B, T)        [official cross_att]
    segment_logits: torch.Tensor  # (B, T, C) [official out]


def _bilstm(dim: int, hidden: int) -> nn.LSTM:
    return nn.LSTM(dim, hidden, num_layers=1, batch_first=True, bidirectional=True)


def _check_inputs(audio: torch.Tensor, visual: torch.Tensor) -> None:
    if audio.dim() != 3 or visual.dim() != 5 or audio.shape[:2] != visual.shape[:2]:
        raise ValueError(f"expected audio (B, T, Da) and visual (B, T, H, W, Dv); got "
                         f"{tuple(audio.shape)} and {tuple(visual.shape)}")


@HEADS.register("vscg")
class VSCG(nn.Module):
    """Fully-supervised VSCG head: audio (B, 10, 128) + visual (B, 10, 7, 7, 512) -> VSCGOutput."""

    config_class = VSCGConfig

    def __init__(self, config: VSCGConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or VSCGConfig()
        h = c.hidden_dim
        self.audio_proj = nn.Sequential(nn.Linear(c.audio_dim, 2 * h, bias=False), nn.Linear(2 * h, h, bias=False))
        self.attention = AudioGuidedVisualAttention(h, c.visual_dim, c.visual_dim, c.num_cells)
        self.visual_proj = nn.Sequential(nn.Linear(c.visual_dim, 2 * h, bias=False), nn.Linear(2 * h, h, bias=False))
        self.audio_lstm = _bilstm(h, h)
        self.visual_lstm = _bilstm(h, h)
        self.psp = PositiveSamplePropagation(c.psp)
        self.escm = ESCM(c.escm)
        d = 2 * c.escm.hidden
        self.relevance = nn.Linear(d, 1)
        self.classifier = nn.Linear(d, c.num_classes - 1)
        self.segment_head = nn.Sequential(
            nn.Linear(d, 64, bias=False), nn.ReLU(), nn.Linear(64, c.num_classes, bias=False)
        )
        for lin in (self.relevance, self.classifier, self.segment_head[0], self.segment_head[2]):
            nn.init.xavier_uniform_(lin.weight)  # official init; biases keep the PyTorch default

    def forward(
        self, audio: torch.Tensor, visual: torch.Tensor, trace: dict[str, torch.Tensor] | None = None
    ) -> VSCGOutput:
        """``trace``, when a dict, receives the named intermediates (for parity checks)."""
        _check_inputs(audio, visual)
        a = self.audio_proj(audio)
        v = self.visual_proj(self.attention(a, visual, trace))
        a_seq, _ = self.audio_lstm(a)
        v_seq, _ = self.visual_lstm(v)
        a_psp, v_psp = self.psp(a_seq, v_seq, trace)
        fusion, a_norm, v_norm = self.escm(a_psp, v_psp, trace)
        similarity = (nn.functional.normalize(a_norm, dim=-1) * nn.functional.normalize(v_norm, dim=-1)).sum(-1)
        relevance = self.relevance(fusion).squeeze(-1)
        class_logits = self.classifier(fusion.max(dim=1).values)
        segment_logits = self.segment_head(fusion)
        if trace is not None:
            trace.update(audio_proj=a, visual_proj=v, audio_lstm=a_seq, visual_lstm=v_seq)
        return VSCGOutput(relevance, class_logits, similarity, segment_logits)

    def segment_probs(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        """(B, T, C) per-segment class probabilities (see :func:`fully_segment_probs`)."""
        out = self(audio, visual)
        return fully_segment_probs(out.relevance, out.class_logits)

    def labels_from_probs(self, probs: torch.Tensor) -> torch.Tensor:
        """Official rule on (averaged) probabilities: event where 1 - P[background] > 0.7."""
        return fully_labels_from_probs(probs, self.config.event_threshold)
