"""The dense heads' training recipe: the published settings per head, the head at its paper
size, the optimizer's parameter groups, the warm-up + cosine schedule, the EMA of the weights and
the precision option. What one iteration does with them is :mod:`avlocate.training.dense_step`;
the whole run (epochs, resume, card) is :mod:`avlocate.training.dense`, whose docstring states
the official recipe point by point and where we differ."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from ..datasets.unav import FEATURE_FORMATS
from ..errors import UsageError
from ..registry import HEADS


@dataclass(frozen=True)
class DenseTrainConfig:
    """Defaults: the official UnAV recipe (avel_unav100.yaml); see :func:`recipe` per head."""

    epochs: int = 40  # the config's "epochs": the loop trains epochs + warmup_epochs (official train.py)
    warmup_epochs: int = 5
    learning_rate: float = 1e-4
    weight_decay: float = 1e-4
    batch_size: int = 16
    clip_grad_l2norm: float = 1.0
    ema_decay: float = 0.999
    init_loss_norm: float = 250.0
    loss_norm_momentum: float = 0.9
    reg_loss: str = "diou"  # "diou" (official UnAV/CCNet code) or "giou" (papers)
    guidance: bool = False  # ESG-Net's L_mcls
    crop_ratio: tuple[float, float] | None = (0.9, 1.0)
    trunc_thresh: float = 0.5
    eta_min: float = 1e-8
    seed: int = 1234567891  # official init_rand_seed
    max_steps: int | None = None  # stop early (tests, demos)

    @property
    def total_epochs(self) -> int:
        """Epochs trained: the official loop runs ``epochs + warmup_epochs`` and its cosine ends there."""
        return self.epochs + self.warmup_epochs


def recipe(head: str, **overrides: Any) -> DenseTrainConfig:
    """The published training settings of ``head``."""
    base = {
        "unav": {},
        "ccnet": {},  # CCNet paper: 40 epochs, batch 16, Adam(W) lr 1e-4, wd 1e-4 (as UnAV)
        # ESG-Net paper Sec. IV-A: 40 epochs, warm-up 5, batch 9, lr 1e-3, wd 1e-4; GIoU; L_mcls.
        # No code: we read "40 epochs, warm-up 5" as the UnAV code it builds on does (40 + 5 trained).
        "esgnet": {"batch_size": 9, "learning_rate": 1e-3, "reg_loss": "giou", "guidance": True},
    }
    if head not in base:
        raise ValueError(f"no training recipe for head {head!r}")
    return replace(DenseTrainConfig(**base[head]), **overrides)


def build_head(head: str, fmt: str, num_classes: int, visual_dim: int | None = None, audio_dim: int | None = None,
               **overrides: Any) -> nn.Module:
    """A head at its paper setting for ``fmt`` (I3D+VGGish defaults or the ONE-PEACE preset)."""
    cls = HEADS.get(head)
    cfg_cls = cls.config_class
    cfg = cfg_cls.onepeace() if fmt == "onepeace" else cfg_cls()
    dims = FEATURE_FORMATS[fmt]["dims"]
    cfg = cfg.replace(num_classes=num_classes, input_dim_visual=visual_dim or dims[0],
                      input_dim_audio=audio_dim or dims[1], **overrides)
    return cls(cfg)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay conv / linear weights only (biases, norms, level scales, adjacencies: none).

    Official ``make_optimizer``: weights of Linear / Conv1d / MaskedConv1D decay; biases, LayerNorm
    weights, Scale and AffineDropPath scales do not; each group sorted by parameter name."""
    names = {id(p): n for n, p in model.named_parameters()}
    decay: dict[str, nn.Parameter] = {}
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)) and module.weight.requires_grad:
            decay[names[id(module.weight)]] = module.weight
    rest = {n: p for n, p in model.named_parameters() if n not in decay and p.requires_grad}
    return [{"params": [decay[n] for n in sorted(decay)], "weight_decay": weight_decay},
            {"params": [rest[n] for n in sorted(rest)], "weight_decay": 0.0}]


def warmup_cosine(step: int, warmup: int, total: int, base_lr: float, eta_min: float) -> float:
    """Multiplier of base_lr at iteration ``step`` (0-based), the official
    LinearWarmupCosineAnnealingLR (warm-up start 0): ``step / (warmup - 1)`` while step < warmup
    (the base rate is reached at warmup - 1 and used again at warmup), then the cosine from the base
    rate at ``warmup`` to ``eta_min`` at ``total``."""
    if step < warmup:
        return step / max(1, warmup - 1)
    progress = (step - warmup) / max(1, total - warmup)
    return (eta_min + 0.5 * (base_lr - eta_min) * (1 + math.cos(math.pi * min(progress, 1.0)))) / base_lr


class ModelEma:
    """Exponential moving average of every floating-point entry of the state dict (official
    ``ModelEma``: ``e = decay * e + (1 - decay) * w`` after every optimizer step)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.module = copy.deepcopy(model).eval()
        self.decay = decay
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        ours = self.module.state_dict()
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                ours[k].copy_(self.decay * ours[k] + (1.0 - self.decay) * v.detach())
            else:
                ours[k].copy_(v)


PRECISIONS = ("fp32", "bf16", "fp16", "auto")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto``: bf16 on a GPU that supports it, else fp32 (the official recipe is fp32)."""
    if precision not in PRECISIONS:
        raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    cuda = device.type == "cuda"
    if precision == "auto":
        return "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise UsageError("--precision bf16: this GPU does not support bfloat16; use fp16 or fp32")
    if precision == "fp16" and not cuda:
        raise UsageError("--precision fp16 needs a CUDA GPU (it relies on loss scaling there); use bf16 or fp32")
    return precision
