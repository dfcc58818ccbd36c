"""Audio-guided visual attention (AVGA) over the 7x7 cells of a VGG-19 pool5 map.

Introduced by the AVE baseline (Tian et al., ECCV 2018) and reused unchanged by VSCG (both
settings) and PSP. Per segment, the audio vector scores each of the 49 spatial cells and the
output is the softmax-weighted sum of the *raw* 512-d cells.

One detail is easy to get transposed: the 49-d audio term is added along the **spatial** axis
and broadcast over the 49-d "map" axis produced by the visual projection
(``C[n, i, j] = P[n, i, j] + g[n, i]``); we keep that exactly, since official weights were
trained with it.
"""
from __future__ import annotations

import torch
from torch import nn


class AudioGuidedVisualAttention(nn.Module):
    """(B, T, Da) audio + (B, T, H, W, Dv) visual maps -> (B, T, Dv) attended visual vectors.

    Names (official name in brackets): ``audio_hidden`` [affine_audio], ``visual_hidden``
    [affine_video], ``visual_to_map`` [affine_v], ``audio_to_map`` [affine_g],
    ``cell_score`` [affine_h].
    """

    def __init__(self, audio_dim: int = 128, visual_dim: int = 512, hidden_dim: int = 512, num_cells: int = 49) -> None:
        super().__init__()
        self.num_cells = num_cells
        self.audio_hidden = nn.Linear(audio_dim, hidden_dim)
        self.visual_hidden = nn.Linear(visual_dim, hidden_dim)
        self.visual_to_map = nn.Linear(hidden_dim, num_cells, bias=False)
        self.audio_to_map = nn.Linear(hidden_dim, num_cells, bias=False)
        self.cell_score = nn.Linear(num_cells, 1, bias=False)
        for lin in (self.audio_hidden, self.visual_hidden, self.visual_to_map, self.audio_to_map, self.cell_score):
            # Official init: xavier-uniform weights, biases keep the PyTorch default.
            nn.init.xavier_uniform_(lin.weight)

    def forward(
        self, audio: torch.Tensor, visual: torch.Tensor, trace: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        b, t = audio.shape[:2]
        cells = visual.reshape(b * t, -1, visual.shape[-1])  # (N, 49, Dv), cells row-major
        if cells.shape[1] != self.num_cells:
            raise ValueError(f"visual maps have {cells.shape[1]} cells, expected {self.num_cells}")
        hv = torch.relu(self.visual_hidden(cells))  # (N, 49, hidden)
        ha = torch.relu(self.audio_hidden(audio.reshape(b * t, -1)))  # (N, hidden)
        joint = self.visual_to_map(hv) + self.audio_to_map(ha).unsqueeze(2)  # (N, 49 cells, 49 map)
        logits = self.cell_score(torch.tanh(joint)).squeeze(2)  # (N, 49)
        alpha = torch.softmax(logits, dim=-1)
        out = torch.bmm(alpha.unsqueeze(1), cells).reshape(b, t, -1)
        if trace is not None:
            trace["attention_logits"] = logits.reshape(b, t, -1)
            trace["attention_weights"] = alpha.reshape(b, t, -1)
            trace["attended_visual"] = out
        return out
