"""Config dataclasses of the dense heads: defaults are each paper's I3D+VGGish setting.

``*.onepeace()`` gives the ONE-PEACE preset (1536/1536 dims, 16 fps, window 16, stride 4);
``*.from_official(cfg)`` reads an official config dict (``config.json["config"]``), which is how
the parity tests build the small reference models.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from ...timeline import Timeline

C = TypeVar("C", bound="DenseConfig")


@dataclass(frozen=True)
class DenseConfig:
    """Settings shared by the UnAV baseline and CCNet (official avel_unav100.yaml + defaults)."""

    input_dim_visual: int = 2048  # I3D rgb (1024) + flow (1024)
    input_dim_audio: int = 128  # VGGish
    num_classes: int = 100  # UnAV-100
    max_seq_len: int = 224
    embed_dim: int = 512
    num_heads: int = 4
    head_dim: int = 512
    embed_kernel: int = 3
    head_kernel: int = 3
    head_layers: int = 3  # 2 tower convs + the output conv
    with_ln: bool = True
    stem_convs: int = 2  # backbone_arch[0]
    self_blocks: int = 2  # self-attention blocks per stream at full resolution
    num_downsample: int = 5  # backbone_arch[2]: 6 pyramid levels
    drop_path: float = 0.1
    prior_prob: float = 0.01
    #: per level, the [low, high] of max(distance to start, distance to end) a point learns (training)
    regression_ranges: tuple[tuple[float, float], ...] = ((0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10000))
    # feature protocol (timeline of the features the head was trained on)
    fps: float = 25.0
    window: int = 24
    stride: int = 8
    #: reproduce the official batch-dependent fusion mask (parity only; see fusion.py)
    official_batch_mask: bool = False

    @property
    def num_levels(self) -> int:
        return self.num_downsample + 1

    @property
    def max_stride(self) -> int:
        return 2 ** self.num_downsample

    def timeline(self, duration: float | None = None) -> Timeline:
        """Timeline of the features this head expects (index -> seconds)."""
        return Timeline(self.fps, self.window, self.stride, duration)

    @classmethod
    def onepeace(cls: type[C], **overrides: Any) -> C:
        """ONE-PEACE features: 1536/1536 dims, T up to 256 steps of 4 frames at 16 fps (window 16)."""
        base = dict(input_dim_visual=1536, input_dim_audio=1536, max_seq_len=256, fps=16.0, window=16, stride=4)
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]

    @classmethod
    def from_official(cls: type[C], config: dict[str, Any]) -> C:
        """Build from an official config dict (keys ``model`` and ``dataset``)."""
        m, d = config["model"], config.get("dataset", {})
        arch = tuple(m["backbone_arch"])
        values = dict(
            input_dim_visual=m["input_dim_V"], input_dim_audio=m["input_dim_A"], num_classes=m["num_classes"],
            max_seq_len=m["max_seq_len"], embed_dim=m["embd_dim"], num_heads=m["n_head"], head_dim=m["head_dim"],
            embed_kernel=m["embd_kernel_size"], head_kernel=m["head_kernel_size"],
            head_layers=m["head_num_layers"], with_ln=bool(m["embd_with_ln"]), stem_convs=arch[0],
            self_blocks=cls.self_blocks_from_arch(arch), num_downsample=arch[2],
            drop_path=m["train_cfg"]["droppath"], prior_prob=m["train_cfg"]["cls_prior_prob"],
            regression_ranges=tuple((float(lo), float(hi)) for lo, hi in m["regression_range"]),
        )
        if d:
            values.update(fps=float(d["default_fps"]), window=int(d["num_frames"]), stride=int(d["feat_stride"]))
        if int(m.get("scale_factor", 2)) != 2:
            raise ValueError("only scale_factor 2 is supported (every published config)")
        return cls(**values)  # type: ignore[arg-type]

    @staticmethod
    def self_blocks_from_arch(arch: tuple[int, ...]) -> int:
        return arch[1]

    def replace(self: C, **changes: Any) -> C:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class UnavConfig(DenseConfig):
    """UnAV baseline (Geng et al., CVPR 2023), official avel_unav100.yaml."""

    use_abs_pe: bool = True
    use_dependency: bool = True

    @staticmethod
    def self_blocks_from_arch(arch: tuple[int, ...]) -> int:
        # UnAV counts its full-resolution cross-modal block as the last stem layer: arch[1] - 1.
        return arch[1] - 1

    @classmethod
    def from_official(cls, config: dict[str, Any]) -> "UnavConfig":
        base = super().from_official(config)
        m = config["model"]
        return replace(base, use_abs_pe=bool(m.get("use_abs_pe", True)),
                       use_dependency=bool(m.get("use_dependency", True)))


@dataclass(frozen=True)
class CcnetConfig(DenseConfig):
    """CCNet (AAAI 2025), official CCNet_unav100.yaml at the I3D+VGGish timing (224 steps, 25 fps)."""


@dataclass(frozen=True)
class EsgnetConfig(DenseConfig):
    """ESG-Net (paper Sec. IV-A): D = 512, L_c = 6 levels, N1 = 2, N2 = 1, m = 4, n = 2,
    alpha = (0.3, 0.6, 0.9). Values the paper does not state are marked "ours" (see esgnet.py)."""

    self_blocks: int = 2  # ours: single-modal transformer blocks per stream (as UnAV)
    mixture_query_blocks: int = 2  # ours: temporal blocks on F'_g, Eq. (5) ("like Eq. (1), (2)")
    guidance_hidden: int = 2048  # ours: hidden width of the guidance MLPs (4 D, like the FFNs)
    guidance_weights: tuple[float, float, float] = (0.3, 0.6, 0.9)  # alpha_1..3
    mode_n1: int = 2
    mode_n2: int = 1
    mode_layers: int = 4  # m
    mode_experts: int = 2  # n
    mode_heads: int = 4  # ours: heads of the temporal blocks at width C = classes
    gumbel_tau: float = 1.0  # ours (training only; the eval gate is an argmax)
    use_abs_pe: bool = True
