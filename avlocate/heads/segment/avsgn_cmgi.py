"""AVSGN cross-modal graph interaction (CMGI, paper Sec. 3.4).

Three subgraphs (audio-visual, visual-text, audio-text). In each, the 2T nodes are the T segments
of one modality followed by the T segments of the other (``X = [F_first; F_second]``, (B, 2T, d_h)).
The adjacency is attention between all node pairs (Eq. 7):
``A = softmax((X W_q)(X W_k)^T / sqrt(d_h))``, and a stack of GCN layers propagates over it
(Eq. 8): ``H^{l+1} = ReLU(A H^l W^l)``. The node rows are split back into the two modalities;
the three subgraphs' outputs of each modality are summed (``A* = A_av + A_at``,
``V* = V_av + V_vt``, ``T* = T_at + T_vt``).

Left open by the paper, our choices (see AVSGN_NOTES.md):
* Every node is a neighbour of every node (N(i) = all 2T nodes, itself included): the attention
  adjacency is dense; its softmax decides how much each neighbour counts.
* The adjacency is computed once from the input node features and shared by all GCN layers
  (the paper feeds "the attention weights and the node features" into the multilayer GCN).
* Two GCN layers ("multilayer"; count not given), weights W^l without bias (Eq. 8 has none),
  ReLU after each layer, dropout 0.1 after each layer, own weights per subgraph.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn


class AttentionGraph(nn.Module):
    """One subgraph: (B, T, d) + (B, T, d) -> the two updated (B, T, d) node sets."""

    def __init__(self, dim: int, layers: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"a subgraph needs at least one GCN layer (got {layers})")
        self.query = nn.Linear(dim, dim, bias=False)  # W_q (Eq. 7)
        self.key = nn.Linear(dim, dim, bias=False)  # W_k
        self.gcn = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(layers))  # W^(l)
        self.dropout = nn.Dropout(dropout)
        self.scale = 1.0 / math.sqrt(dim)

    def adjacency(self, nodes: torch.Tensor) -> torch.Tensor:
        """(B, N, d) -> (B, N, N) row-stochastic attention adjacency (Eq. 7)."""
        return torch.softmax(self.query(nodes) @ self.key(nodes).transpose(-1, -2) * self.scale, dim=-1)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = first.shape[1]
        h = torch.cat([first, second], dim=1)  # node axis: first modality's segments, then second's
        adj = self.adjacency(h)
        for layer in self.gcn:
            h = self.dropout(torch.relu(adj @ layer(h)))  # Eq. 8: sigma(sum_j A_ij h_j W)
        return h[:, :t], h[:, t:]


class CMGIOutput(NamedTuple):
    audio: torch.Tensor  # A* (B, T, d_h)
    visual: torch.Tensor  # V*
    text: torch.Tensor  # T*


class CMGI(nn.Module):
    """The three subgraphs of Sec. 3.4 and the per-modality sums."""

    def __init__(self, dim: int, layers: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        self.audio_visual = AttentionGraph(dim, layers, dropout)  # G_av
        self.visual_text = AttentionGraph(dim, layers, dropout)  # G_vt
        self.audio_text = AttentionGraph(dim, layers, dropout)  # G_at

    def forward(self, visual: torch.Tensor, audio: torch.Tensor, text: torch.Tensor) -> CMGIOutput:
        a_av, v_av = self.audio_visual(audio, visual)
        v_vt, t_vt = self.visual_text(visual, text)
        a_at, t_at = self.audio_text(audio, text)
        return CMGIOutput(a_av + a_at, v_av + v_vt, t_at + t_vt)
