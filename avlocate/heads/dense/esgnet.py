"""ESG-Net head (event-aware semantic guided network, 2025; no public code): built from the paper.

Data flow (paper Fig. 2, Sec. III): per stream a projection (2 x conv-LN-ReLU, as UnAV) and
single-modal transformer blocks give F_A, F_V (stage 1). The aligner multiplies separate
projections of the raw audio and visual features (F_g, Eq. 3), runs a channel-token attention with
T_m x T_m weights (Eq. 4) and temporal blocks (Eq. 5) -> F_g^; audio/visual-driven mixture blocks
take queries from F_g^ and keys/values from F_A / F_V (Eqs. 6-7) -> F_AV, F_VA (stage 2). The
cross-modal pyramid of UnAV (L_c = 6 levels: one full-resolution cross block, then 5 stride-2
blocks per stream) gives the level features (stage 3). MoDE (mode.py) fuses concat(F_AV^, F_VA^)
into C = num_classes channels; UnAV's classification / class-aware regression heads decode them.
Six guidance MLPs (2 linear layers, PReLU) give per-snippet class logits of both streams at the
three stages for L_mcls = sum_i alpha_i (L_Ai + L_Vi) (focal loss; ``guidance_loss``).

Details the paper leaves open, and our choice:
- projections f_proj: UnAV's embedding (2 masked conv k3 -> LayerNorm -> ReLU); the aligner has its
  own two (one per modality), not shared with the single-modal ones.
- single-modal attention: 2 blocks per stream (UnAV's count); Eq. (5): 2 blocks, "like Eqs. (1)-(2)".
- blocks are UnAV's masked conv-attention transformer blocks (4 heads, MLP 4D, LayerScale);
  residual of the mixture blocks on the key/value stream (F_A resp. F_V), as UnAV's cross blocks.
- Eq. (4): one head, tokens = D channels, features = T_m steps, no output projection, no
  residual; because its weights are T_m x T_m, inputs are padded to exactly max_seq_len and longer
  inputs raise ModelError (run them in windows), like CCNet.
- guidance MLP hidden width 2048 (4D); stage 3 guidance is applied on every pyramid level.
- Z -> Z' projection: 1x1 masked conv 2D -> C; MoDE temporal blocks and experts run per pyramid
  level with shared weights (the paper's T_l axis is the concatenation of the levels).
- expert: masked conv k3 C -> C with bias, adjacency A initialised to the identity, LeakyReLU(0.01).
- gate: MLP (C -> C -> n, ReLU) on the mean of Z_e over all valid steps of all levels, so one
  expert per layer per *video* (not per batch: a video's result must not depend on its batch);
  training: Gumbel-Softmax straight-through (hard, tau = 1); inference: argmax (no noise).
- the position embedding of UnAV is kept (sinusoidal, added after the projections).
With these choices the ONE-PEACE model has 86.74 M parameters (paper: 86.13 M, Table VII; +0.7 %)
and the I3D+VGGish one 83.94 M (paper: not stated). MoDE itself has 0.83 M (paper: "about 2M").
"""
from __future__ import annotations

import torch
from torch import nn

from ...errors import ModelError
from ...registry import HEADS
from .attention import TransformerBlock
from .backbone import StreamEncoder
from .config import EsgnetConfig
from .heads import ClassificationHead, DenseOutput, RegressionHead
from .layers import ConvTower, pad_inputs
from .mode import ChannelAttention, MoDE

PAPER_PARAMS_ONEPEACE = 86.13e6  # Table VII


class GuidanceMLP(nn.Module):
    """Two linear layers (1x1 convs) with PReLU: per-snippet class logits (B, T, K)."""

    def __init__(self, dim: int, hidden: int, num_classes: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv1d(dim, hidden, 1)
        self.act = nn.PReLU()
        self.fc2 = nn.Conv1d(hidden, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x))).transpose(1, 2)


class ESI(nn.Module):
    """Early semantics interaction: stage 1, 2, 3 features (the pyramid is stage 3)."""

    def __init__(self, cfg: EsgnetConfig) -> None:
        super().__init__()
        c, h, dp = cfg.embed_dim, cfg.num_heads, cfg.drop_path

        def encoder(in_ch: int) -> StreamEncoder:
            return StreamEncoder(in_ch, c, h, cfg.stem_convs, cfg.self_blocks, cfg.embed_kernel, cfg.max_seq_len,
                                 cfg.with_ln, cfg.use_abs_pe, dp)

        self.visual = encoder(cfg.input_dim_visual)
        self.audio = encoder(cfg.input_dim_audio)
        self.align_visual = ConvTower(cfg.input_dim_visual, c, cfg.stem_convs, cfg.embed_kernel, cfg.with_ln)
        self.align_audio = ConvTower(cfg.input_dim_audio, c, cfg.stem_convs, cfg.embed_kernel, cfg.with_ln)
        self.align_attn = ChannelAttention(cfg.max_seq_len)
        self.joint_blocks = nn.ModuleList(TransformerBlock(c, h, drop_path=dp) for _ in range(cfg.mixture_query_blocks))
        self.audio_mix = TransformerBlock(c, h, drop_path=dp)  # F_AV: keys/values audio, queries F_g^
        self.visual_mix = TransformerBlock(c, h, drop_path=dp)  # F_VA
        self.audio_cross = TransformerBlock(c, h, drop_path=dp)
        self.visual_cross = TransformerBlock(c, h, drop_path=dp)
        self.audio_down = nn.ModuleList(TransformerBlock(c, h, stride=2, drop_path=dp)
                                        for _ in range(cfg.num_downsample))
        self.visual_down = nn.ModuleList(TransformerBlock(c, h, stride=2, drop_path=dp)
                                         for _ in range(cfg.num_downsample))

    def forward(self, visual: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        fa, fv = self.audio(audio, mask), self.visual(visual, mask)
        g = self.align_audio(audio, mask) * self.align_visual(visual, mask)
        g = self.align_attn(g, mask)
        for block in self.joint_blocks:
            g, _ = block(g, None, mask)
        f_av, _ = self.audio_mix(fa, g, mask)
        f_va, _ = self.visual_mix(fv, g, mask)
        av, _ = self.audio_cross(f_av, f_va, mask)
        va, _ = self.visual_cross(f_va, f_av, mask)
        avs, vas, masks = [av], [va], [mask]
        for ablock, vblock in zip(self.audio_down, self.visual_down):
            a_next, m_next = ablock(avs[-1], vas[-1], masks[-1])
            v_next, _ = vblock(vas[-1], avs[-1], masks[-1])
            avs.append(a_next)
            vas.append(v_next)
            masks.append(m_next)
        return {"stage1": [fa, fv], "stage2": [f_av, f_va], "audio": avs, "visual": vas, "masks": masks}


@HEADS.register("esgnet")
class EsgnetHead(nn.Module):
    config_class = EsgnetConfig
    #: True when layers are sized by max_seq_len (longer videos run in windows)
    fixed_length = True

    def __init__(self, cfg: EsgnetConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or EsgnetConfig()
        self.cfg = cfg
        c, k = cfg.embed_dim, cfg.num_classes
        self.esi = ESI(cfg)
        # guidance[stage][0] reads the audio-side feature, [1] the visual-side one
        self.guidance = nn.ModuleList(
            nn.ModuleList(GuidanceMLP(c, cfg.guidance_hidden, k) for _ in range(2)) for _ in range(3)
        )
        self.mode = MoDE(2 * c, k, cfg.mode_heads, cfg.mode_n1, cfg.mode_n2, cfg.mode_layers, cfg.mode_experts,
                         cfg.embed_kernel, cfg.drop_path, cfg.gumbel_tau)
        self.cls_head = ClassificationHead(k, cfg.head_dim, k, cfg.head_layers, cfg.head_kernel, cfg.with_ln,
                                           cfg.prior_prob)
        self.reg_head = RegressionHead(k, cfg.head_dim, k, cfg.num_levels, cfg.head_layers, cfg.head_kernel,
                                       cfg.with_ln)

    def padded_length(self, length: int) -> int:
        if length > self.cfg.max_seq_len:
            raise ModelError(
                f"ESG-Net runs on at most max_seq_len={self.cfg.max_seq_len} feature steps at once (its aligner "
                f"attention has {self.cfg.max_seq_len}x{self.cfg.max_seq_len} weights), got {length}; "
                "split the video into windows"
            )
        return self.cfg.max_seq_len

    def forward(self, visual: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor | None = None) -> DenseOutput:
        """visual (B, Cv, T), audio (B, Ca, T), mask (B, 1, T) bool; T <= max_seq_len."""
        if mask is None:
            mask = torch.ones(visual.shape[0], 1, visual.shape[-1], dtype=torch.bool, device=visual.device)
        visual, audio, mask = pad_inputs(visual, audio, mask, self.padded_length(visual.shape[-1]))
        s = self.esi(visual, audio, mask)
        masks = s["masks"]
        fused, gates = self.mode([torch.cat([a, v], dim=1) for a, v in zip(s["audio"], s["visual"])], masks)
        aux: dict[str, list[torch.Tensor]] = {"gates": [gates]}
        for i, (fa, fv) in enumerate((s["stage1"], s["stage2"])):
            aux[f"stage{i + 1}_audio"] = [self.guidance[i][0](fa)]
            aux[f"stage{i + 1}_visual"] = [self.guidance[i][1](fv)]
        aux["stage3_audio"] = [self.guidance[2][0](x) for x in s["audio"]]
        aux["stage3_visual"] = [self.guidance[2][1](x) for x in s["visual"]]
        return DenseOutput(
            logits=self.cls_head(fused, masks), offsets=self.reg_head(fused, masks),
            masks=[m[:, 0] for m in masks], strides=[2 ** i for i in range(len(masks))],
            visual=s["visual"], audio=s["audio"], fused=fused, aux=aux,
        )


def guidance_loss(out: DenseOutput, targets: torch.Tensor, weights: tuple[float, float, float] = (0.3, 0.6, 0.9),
                  alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """L_mcls (Eqs. 8-9): weighted sigmoid focal losses of the guidance logits of both streams.

    ``targets`` (B, T, K) multi-hot per level-0 snippet; level l uses every 2^l-th row (the same
    subsampling as the masks). Each term is averaged over valid snippets.
    """
    from torchvision.ops import sigmoid_focal_loss

    total = targets.new_zeros(())
    for stage, w in enumerate(weights, start=1):
        for side in ("audio", "visual"):
            for level, logits in enumerate(out.aux[f"stage{stage}_{side}"]):
                step = 2 ** level if stage == 3 else 1
                m = out.masks[level if stage == 3 else 0]
                tgt = targets[:, ::step][:, : logits.shape[1]].to(logits.dtype)
                loss = sigmoid_focal_loss(logits, tgt, alpha=alpha, gamma=gamma, reduction="none").sum(-1)
                total = total + w * (loss * m).sum() / m.sum().clamp(min=1)
    return total
