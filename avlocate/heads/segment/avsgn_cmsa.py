"""AVSGN cross-modal semantic alignment (CMSA, paper Sec. 3.3): attention only, no contrastive loss.

Three steps, all on (B, T, d) sequences (T = 10 one-second segments, d = 512):

1. **Label text** (Eq. in "Pseudo intra-modal alignment"): the K label embeddings of the CLIP
   and of the CLAP text encoder are concatenated along the *label* axis, (2K, d), and a linear
   layer over that axis maps them to T rows, ``T = Phi_t([T_clip; T_clap])`` in R^{T x d}. The
   paper states the purpose ("consistency in sequence length between visual, audio and text");
   the projection therefore acts on the sequence axis, once per feature channel. It does not
   depend on the video: the T text rows are learned mixtures of the label prompts.
2. **Pseudo intra-modal alignment** (Eq. 2-3): multi-head attention with the text rows as query
   and the CLIP visual (resp. CLAP audio) segments as key and value.
3. **Inter-modal alignment** (Eq. 4-6): for each target modality, two single-head attentions
   (Eq. 1: W_q, W_k, W_v, softmax(QK^T / sqrt(d)) V, no output projection) query it from the two
   other modalities; the two outputs are concatenated and passed through a bottleneck
   (Linear 2d -> d_h + ReLU).

Left open by the paper, our choices (see AVSGN_NOTES.md):
* Residuals. Query rows of step 2 are the T text rows, not the segments, so the plain output row
  t is *not* a function of segment t; used alone, per-segment localisation would be impossible.
  We keep segment identity with a residual + LayerNorm (``V_attn = LN(V + MHA(T, V, V))``,
  transformer convention) and add the aligned modality back after the bottleneck
  (``F_v = V_attn + Phi_v(...)``). Both can be switched off (``intra_residual``,
  ``inter_residual``) for a literal reading.
* Number of heads of step 2: 4 (paper: "multi-head", count not given). Dropout 0.1 after each
  attention and bottleneck (paper: not mentioned).
* In Eq. 4-6 the modalities that serve as queries/keys are the *intra-aligned* V_attn / A_attn
  (the paper: "V_attn and V, as well as A_attn and A are equivalent in the current context"),
  and the text is the projected label text T of step 1.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn


class SegmentAttention(nn.Module):
    """Scaled dot-product attention of Eq. 1, optionally multi-head.

    ``query`` (B, Lq, d) or (Lq, d) (broadcast over the batch), ``key_value`` (B, Lk, d) ->
    (B, Lq, d). With one head it is exactly Eq. 1 (no output projection); with several heads a
    standard output projection mixes them (as in multi-head attention).
    """

    def __init__(self, dim: int, heads: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim) if heads > 1 else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, key_value: torch.Tensor) -> torch.Tensor:
        b, lk, d = key_value.shape
        if query.dim() == 2:
            query = query.unsqueeze(0).expand(b, -1, -1)
        h, dh = self.heads, d // self.heads
        q = self.query(query).reshape(b, -1, h, dh).transpose(1, 2)  # (B, h, Lq, dh)
        k = self.key(key_value).reshape(b, lk, h, dh).transpose(1, 2)
        v = self.value(key_value).reshape(b, lk, h, dh).transpose(1, 2)
        # Eq. 1 scales by sqrt(d); per head that is the head width, as in multi-head attention.
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(b, -1, d)
        return self.dropout(self.out(out))


class Bottleneck(nn.Module):
    """Phi_v / Phi_a / Phi_t of Eq. 4-6: concat of two attention outputs -> Linear -> ReLU."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc = nn.Linear(2 * dim, hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return self.dropout(torch.relu(self.fc(torch.cat([first, second], dim=-1))))


class CMSAOutput(NamedTuple):
    visual: torch.Tensor  # F_v,attn (B, T, d_h)
    audio: torch.Tensor  # F_a,attn (B, T, d_h)
    text: torch.Tensor  # F_t,attn (B, T, d_h)


class CMSA(nn.Module):
    """Label text + pseudo intra-modal + inter-modal alignment (paper Eq. 1-6)."""

    def __init__(self, dim: int, hidden: int, num_labels: int, num_segments: int, intra_heads: int = 4,
                 dropout: float = 0.1, intra_residual: bool = True, inter_residual: bool = True) -> None:
        super().__init__()
        self.num_labels = num_labels
        self.intra_residual, self.inter_residual = intra_residual, inter_residual
        # Phi_t: over the label axis, 2K (CLIP then CLAP prompts) -> T rows.
        self.text_to_segments = nn.Linear(2 * num_labels, num_segments)
        self.intra_clip = SegmentAttention(dim, intra_heads, dropout)  # Q_CLIP (Eq. 2)
        self.intra_clap = SegmentAttention(dim, intra_heads, dropout)  # Q_CLAP (Eq. 3)
        self.intra_norm_v = nn.LayerNorm(dim) if intra_residual else nn.Identity()
        self.intra_norm_a = nn.LayerNorm(dim) if intra_residual else nn.Identity()
        # Inter-modal attentions, named <target>_from_<query modality> (Eq. 4-6).
        self.visual_from_audio = SegmentAttention(dim, 1, dropout)
        self.visual_from_text = SegmentAttention(dim, 1, dropout)
        self.audio_from_visual = SegmentAttention(dim, 1, dropout)
        self.audio_from_text = SegmentAttention(dim, 1, dropout)
        self.text_from_audio = SegmentAttention(dim, 1, dropout)
        self.text_from_visual = SegmentAttention(dim, 1, dropout)
        self.visual_bottleneck = Bottleneck(dim, hidden, dropout)  # Phi_v
        self.audio_bottleneck = Bottleneck(dim, hidden, dropout)  # Phi_a
        self.text_bottleneck = Bottleneck(dim, hidden, dropout)  # Phi_t (Eq. 6)
        # The residual of the inter step needs d_h == d; otherwise a linear map brings it there.
        def skip() -> nn.Module:
            return nn.Identity() if hidden == dim or not inter_residual else nn.Linear(dim, hidden, bias=False)

        self.skip_v, self.skip_a, self.skip_t = skip(), skip(), skip()

    def label_text(self, text_clip: torch.Tensor, text_clap: torch.Tensor) -> torch.Tensor:
        """(K, d) + (K, d) label embeddings -> (T, d) global label text embedding."""
        stacked = torch.cat([text_clip, text_clap], dim=0)  # (2K, d)
        if stacked.shape[0] != 2 * self.num_labels:
            raise ValueError(f"expected {self.num_labels} label embeddings per text encoder, got "
                             f"{text_clip.shape[0]} (CLIP) and {text_clap.shape[0]} (CLAP)")
        return self.text_to_segments(stacked.t()).t()  # linear over the label axis

    def forward(self, visual: torch.Tensor, audio: torch.Tensor, text: torch.Tensor) -> CMSAOutput:
        """``visual``/``audio`` (B, T, d), ``text`` (T, d) from :meth:`label_text`."""
        b = visual.shape[0]
        v_attn = self.intra_clip(text, visual)
        a_attn = self.intra_clap(text, audio)
        if self.intra_residual:
            v_attn = self.intra_norm_v(visual + v_attn)
            a_attn = self.intra_norm_a(audio + a_attn)
        t = text.unsqueeze(0).expand(b, -1, -1)
        f_v = self.visual_bottleneck(self.visual_from_audio(a_attn, v_attn), self.visual_from_text(t, v_attn))
        f_a = self.audio_bottleneck(self.audio_from_visual(v_attn, a_attn), self.audio_from_text(t, a_attn))
        f_t = self.text_bottleneck(self.text_from_audio(a_attn, t), self.text_from_visual(v_attn, t))
        if self.inter_residual:
            f_v, f_a, f_t = f_v + self.skip_v(v_attn), f_a + self.skip_a(a_attn), f_t + self.skip_t(t)
        return CMSAOutput(f_v, f_a, f_t)
