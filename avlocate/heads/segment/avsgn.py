"""AVSGN: Audio-Visual Semantic Graph Network (AVE with frozen CLIP / CLAP embeddings).

Built from the paper alone (no official code exists): every detail it leaves open and the choice
made here is listed in ``AVSGN_NOTES.md`` and in the docstrings of :mod:`.avsgn_cmsa`,
:mod:`.avsgn_cmgi` and :mod:`.avsgn_losses`.

Inputs per 10-segment clip: CLIP image embeddings ``visual`` (B, T, 512), CLAP audio embeddings
``audio`` (B, T, 512), and the label-text embeddings of the K event classes from the CLIP and the
CLAP text encoders, (K, 512) each (prompts from :mod:`avlocate.features.clip_clap.label_text`). The label texts depend only
on the model card's class list, so they are computed once by the extractor side and either passed
to ``forward`` or stored in the head with :meth:`AVSGN.set_label_text` (non-persistent buffers:
the weights file stays independent of them, and the windowing code can call
``segment_probs(audio, visual)``).

Pipeline: input normalisation -> CMSA (label text, pseudo intra-modal and inter-modal alignment)
-> CMGI (three attention-adjacency subgraphs with GCN layers) -> gated fusion
``F = V* * g_a + A* * g_v`` with ``g_a = sigmoid(w_a . A*)``, ``g_v = sigmoid(w_v . V*)`` (Eq. 9,
each modality scaled by the *other* modality's gate, as printed) -> heads:
* ``relevance`` (B, T): segment event-relevance logit, s^r = sigmoid(relevance) (Eq. 11);
* ``class_logits`` (B, K): video event class from the temporal max of F (Eq. 10);
* ``gate_logits`` (B, K): class logits from the T gate products g_a * g_v (Eq. 14).

Inference (both settings): a segment is an event when s^r > tau (0.6) and then gets the clip's
argmax class, otherwise background (last index). The weakly variant has the same structure; only
its training objective differs (Eq. 17-18), so ``avsgn-weakly`` is the same class with
``supervision="weakly"`` as its config default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ...errors import ModelError
from ...registry import HEADS
from .avsgn_cmgi import CMGI
from .avsgn_cmsa import CMSA
from .vscg_losses import fully_labels_from_probs, fully_segment_probs


@dataclass
class AVSGNConfig:
    visual_dim: int = 512  # CLIP (Swin-V2-L based in the paper) image embedding
    audio_dim: int = 512  # CLAP (HTS-AT) audio embedding
    text_dim: int = 512  # both text encoders
    model_dim: int = 512  # d: inputs are used as is when their width equals d (paper)
    hidden_dim: int = 512  # d_h (paper: not given)
    num_classes: int = 29  # K events + background (last index); K label texts
    num_segments: int = 10
    intra_heads: int = 4  # "multi-head" intra-CLIP/CLAP attention (count not given)
    gcn_layers: int = 2  # "multilayer GCN" (count not given)
    dropout: float = 0.1  # (not given)
    intra_residual: bool = True  # see avsgn_cmsa: keeps segment identity through text-query attention
    inter_residual: bool = True
    normalize_inputs: bool = True  # L2-normalise embeddings, rescaled by sqrt(width)
    event_threshold: float = 0.6  # tau (paper default)
    consistency_weight: float = 0.01  # lambda (paper default)
    margin: float = 1.0  # m of Eq. 15 (paper: not given)
    supervision: str = "fully"  # "fully" (Eq. 16) or "weakly" (Eq. 18): selects the objective

    def __post_init__(self) -> None:
        if self.supervision not in ("fully", "weakly"):
            raise ValueError(f"supervision must be 'fully' or 'weakly', not {self.supervision!r}")
        if self.num_classes < 2:
            raise ValueError("num_classes counts the events plus background: at least 2")

    @property
    def num_events(self) -> int:
        return self.num_classes - 1

    @property
    def background(self) -> int:
        return self.num_classes - 1


@dataclass
class AVSGNWeaklyConfig(AVSGNConfig):
    supervision: str = "weakly"


class AVSGNOutput(NamedTuple):
    relevance: torch.Tensor  # (B, T) logits of s^r
    class_logits: torch.Tensor  # (B, K) logits of s^c
    gate_logits: torch.Tensor  # (B, K) logits of the gate classifier (L_g)
    audio: torch.Tensor  # A* (B, T, d_h): for L_s
    visual: torch.Tensor  # V* (B, T, d_h)
    gate_audio: torch.Tensor  # g_a (B, T)
    gate_visual: torch.Tensor  # g_v (B, T)


def _input_map(width: int, dim: int) -> nn.Module:
    return nn.Identity() if width == dim else nn.Linear(width, dim)


@HEADS.register("avsgn")
class AVSGN(nn.Module):
    """AVSGN head: audio (B, T, 512) + visual (B, T, 512) [+ label texts (K, 512) x 2] -> AVSGNOutput."""

    config_class = AVSGNConfig

    def __init__(self, config: AVSGNConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or self.config_class()
        self.visual_in = _input_map(c.visual_dim, c.model_dim)
        self.audio_in = _input_map(c.audio_dim, c.model_dim)
        self.text_clip_in = _input_map(c.text_dim, c.model_dim)
        self.text_clap_in = _input_map(c.text_dim, c.model_dim)
        self.cmsa = CMSA(c.model_dim, c.hidden_dim, c.num_events, c.num_segments, c.intra_heads, c.dropout,
                         c.intra_residual, c.inter_residual)
        self.cmgi = CMGI(c.hidden_dim, c.gcn_layers, c.dropout)
        self.gate_audio = nn.Linear(c.hidden_dim, 1)  # W_a^g
        self.gate_visual = nn.Linear(c.hidden_dim, 1)  # W_v^g
        self.classifier = nn.Linear(c.hidden_dim, c.num_events)  # W_c (Eq. 10)
        self.relevance = nn.Linear(c.hidden_dim, 1)  # W_r (Eq. 11)
        self.gate_classifier = nn.Linear(c.num_segments, c.num_events)  # W_g (Eq. 14): T gates -> K
        self.register_buffer("text_clip", None, persistent=False)
        self.register_buffer("text_clap", None, persistent=False)

    def set_label_text(self, text_clip: torch.Tensor, text_clap: torch.Tensor) -> None:
        """Store the (K, text_dim) label embeddings of both text encoders (class order = card order)."""
        k = self.config.num_events
        for name, emb in (("CLIP", text_clip), ("CLAP", text_clap)):
            if emb.dim() != 2 or emb.shape != (k, self.config.text_dim):
                raise ModelError(f"{name} label-text embeddings have shape {tuple(emb.shape)}; this AVSGN "
                                 f"head expects ({k}, {self.config.text_dim}): one row per event class")
        device = next(self.parameters()).device
        self.text_clip = text_clip.detach().float().to(device)
        self.text_clap = text_clap.detach().float().to(device)

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        if not self.config.normalize_inputs:
            return x
        # CLIP/CLAP are trained on cosine similarity: the norm of an embedding carries no meaning
        # and differs between encoders. Unit vectors scaled to unit mean square per channel.
        return F.normalize(x, dim=-1) * x.shape[-1] ** 0.5

    def forward(self, audio: torch.Tensor, visual: torch.Tensor, text_clip: torch.Tensor | None = None,
                text_clap: torch.Tensor | None = None) -> AVSGNOutput:
        c = self.config
        if audio.dim() != 3 or visual.dim() != 3 or audio.shape[:2] != visual.shape[:2]:
            raise ValueError(f"expected audio and visual embeddings (B, T, D); got {tuple(audio.shape)} "
                             f"and {tuple(visual.shape)}")
        if audio.shape[1] != c.num_segments:
            raise ValueError(f"AVSGN sees {c.num_segments} segments at a time, got {audio.shape[1]} "
                             "(use windows.sliding_segment_probs for other lengths)")
        text_clip = self.text_clip if text_clip is None else text_clip
        text_clap = self.text_clap if text_clap is None else text_clap
        if text_clip is None or text_clap is None:
            raise ModelError("AVSGN needs the label-text embeddings of its classes: pass them to forward() "
                             "or call set_label_text() (see features/clip_clap/label_text.py)")
        v = self.visual_in(self._normalize(visual))
        a = self.audio_in(self._normalize(audio))
        text = self.cmsa.label_text(self.text_clip_in(self._normalize(text_clip)),
                                    self.text_clap_in(self._normalize(text_clap)))
        aligned = self.cmsa(v, a, text)
        graph = self.cmgi(aligned.visual, aligned.audio, aligned.text)
        g_a = torch.sigmoid(self.gate_audio(graph.audio)).squeeze(-1)  # (B, T)
        g_v = torch.sigmoid(self.gate_visual(graph.visual)).squeeze(-1)
        fused = graph.visual * g_a.unsqueeze(-1) + graph.audio * g_v.unsqueeze(-1)  # Eq. 9
        relevance = self.relevance(fused).squeeze(-1)
        class_logits = self.classifier(fused.max(dim=1).values)
        gate_logits = self.gate_classifier(g_a * g_v)
        return AVSGNOutput(relevance, class_logits, gate_logits, graph.audio, graph.visual, g_a, g_v)

    def segment_probs(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        """(B, T, K+1): P[c] = s^r * s^c[c], P[background] = 1 - s^r (also the weakly joint score)."""
        out = self(audio, visual)
        return fully_segment_probs(out.relevance, out.class_logits)

    def labels_from_probs(self, probs: torch.Tensor) -> torch.Tensor:
        """Event where 1 - P[background] = s^r > tau, with the argmax event class; else background."""
        return fully_labels_from_probs(probs, self.config.event_threshold)


@HEADS.register("avsgn-weakly")
class AVSGNWeakly(AVSGN):
    """Same network as :class:`AVSGN`; its config selects the weakly (MIL) objective by default."""

    config_class = AVSGNWeaklyConfig
