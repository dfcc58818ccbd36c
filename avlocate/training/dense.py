"""Training of the dense heads (UnAV, CCNet, ESG-Net) on UnAV-100-format data.

The official recipe (UnAV avel_unav100.yaml / CCNet_unav100.yaml, their shared train loop):
- targets: class-aware points of the 6-level pyramid (``heads.dense.losses.point_targets``);
- losses: sigmoid focal loss + an IoU-type regression loss over (point, class) pairs with a target,
  both divided by an EMA of the positive count (init 250, momentum 0.9). Regression loss: the
  papers write GIoU, the official UnAV/CCNet code uses 1-D DIoU; unav/ccnet follow the code
  (``reg_loss="diou"``), ESG-Net has no code so it follows its paper (``"giou"``);
- ESG-Net adds L_mcls = sum_i alpha_i (L_Ai + L_Vi) (``heads.dense.esgnet.guidance_loss``);
- AdamW, weight decay only on conv / linear weights, gradient clipping at L2 norm 1.0;
- learning rate: linear warm-up from 0 (5 epochs) then cosine to 1e-8, stepped per iteration;
- training crops as the official loader (``datasets.unav.random_crop``), batches padded to
  max_seq_len;
- an EMA copy of the weights (decay 0.999) is what gets evaluated and saved.
Deliberate differences: ESG-Net's paper says Adam with weight decay 1e-4; we use AdamW like the
other two (decoupled decay is what every official dense code base uses).
"""
from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import sigmoid_focal_loss

from ..datasets.unav import FEATURE_FORMATS, Item, class_names, load_annotations, load_items, random_crop
from ..heads.dense.losses import LossNormalizer, diou_1d, level_points, point_targets
from ..registry import HEADS
from ..weights.card import ModelCard
from ..weights.store import save_weights


@dataclass(frozen=True)
class DenseTrainConfig:
    """Defaults: the official UnAV recipe (avel_unav100.yaml); see :func:`recipe` per head."""

    epochs: int = 40
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


def recipe(head: str, **overrides: Any) -> DenseTrainConfig:
    """The published training settings of ``head``."""
    base = {
        "unav": {},
        "ccnet": {},  # CCNet paper: 40 epochs, batch 16, Adam(W) lr 1e-4, wd 1e-4 (as UnAV)
        # ESG-Net paper Sec. IV-A: 40 epochs, warm-up 5, batch 9, lr 1e-3, wd 1e-4; GIoU; L_mcls.
        "esgnet": {"batch_size": 9, "learning_rate": 1e-3, "reg_loss": "giou", "guidance": True},
    }
    if head not in base:
        raise ValueError(f"no training recipe for head {head!r}")
    return replace(DenseTrainConfig(**base[head]), **overrides)


def giou_1d(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """1 - IoU + (enclosing - union) / enclosing of (start, end) distance pairs (M, 2)."""
    inter = torch.minimum(pred[:, 0], target[:, 0]) + torch.minimum(pred[:, 1], target[:, 1])
    union = pred.sum(1) + target.sum(1) - inter
    enclosing = torch.maximum(pred[:, 0], target[:, 0]) + torch.maximum(pred[:, 1], target[:, 1])
    iou = inter / union.clamp(min=eps)
    return 1.0 - iou + (enclosing - union) / enclosing.clamp(min=eps)


REG_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"diou": diou_1d, "giou": giou_1d}


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


def collate(items: list[Item], length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Zero-pad at the end to ``length``: visual (B, Cv, L), audio (B, Ca, L), mask (B, 1, L)."""
    visual = torch.stack([F.pad(it.visual.t(), (0, length - it.visual.shape[0])) for it in items])
    audio = torch.stack([F.pad(it.audio.t(), (0, length - it.audio.shape[0])) for it in items])
    n = torch.tensor([it.visual.shape[0] for it in items])
    mask = (torch.arange(length)[None, :] < n[:, None])[:, None, :]
    return visual, audio, mask


def snippet_targets(items: list[Item], length: int, num_classes: int) -> torch.Tensor:
    """(B, L, K) multi-hot: snippet t lies inside an event of class k (ESG-Net's guidance targets)."""
    out = torch.zeros(len(items), length, num_classes)
    t = torch.arange(length, dtype=torch.float32)
    for b, it in enumerate(items):
        for (s, e), k in zip(it.segments.tolist(), it.labels.tolist()):
            out[b, (t >= s) & (t <= e), int(k)] = 1.0
    return out


def batch_losses(head: nn.Module, items: list[Item], cfg: DenseTrainConfig, normalizer: LossNormalizer
                 ) -> dict[str, torch.Tensor]:
    hc = head.cfg
    device = next(head.parameters()).device
    length = head.padded_length(max(it.visual.shape[0] for it in items))
    visual, audio, mask = (x.to(device) for x in collate(items, length))
    out = head(visual, audio, mask)
    lengths = [lg.shape[1] for lg in out.logits]
    points = level_points(lengths, out.strides, hc.regression_ranges)
    targets = [point_targets(points, it.segments, it.labels, hc.num_classes) for it in items]
    cls_t = torch.stack([c for c, _ in targets]).to(device)
    reg_t = torch.stack([r for _, r in targets]).to(device)
    valid = torch.cat(out.masks, dim=1)
    pred_cls = torch.cat(out.logits, dim=1)
    pred_reg = torch.cat(out.offsets, dim=1)
    pos = (cls_t.sum(-1) > 0) & valid
    norm = normalizer.update(int(pos.sum()))
    losses = {"cls_loss": sigmoid_focal_loss(pred_cls[valid], cls_t[valid], reduction="sum") / norm}
    pairs = pos[..., None] & (cls_t > 0)
    if bool(pairs.any()):
        losses["reg_loss"] = REG_LOSSES[cfg.reg_loss](pred_reg[pairs], reg_t[pairs]).sum() / norm
    else:
        losses["reg_loss"] = 0.0 * pred_reg.sum()
    total = losses["cls_loss"] + losses["reg_loss"]
    if cfg.guidance:
        from ..heads.dense.esgnet import guidance_loss

        losses["mcls_loss"] = guidance_loss(out, snippet_targets(items, length, hc.num_classes).to(device),
                                            tuple(hc.guidance_weights))
        total = total + losses["mcls_loss"]
    losses["final_loss"] = total
    return losses


@torch.no_grad()
def dataset_loss(head: nn.Module, items: list[Item], cfg: DenseTrainConfig, batch_size: int = 8) -> float:
    """Mean final loss over ``items`` (eval mode, no crops), each batch normalised by its own
    positive count, so that values before and after training compare (the EMA normaliser drifts)."""
    was_training = head.training
    head.eval()
    total, n = 0.0, 0
    for first in range(0, len(items), batch_size):
        batch = [it for it in items[first:first + batch_size] if it.visual.shape[0] <= head.cfg.max_seq_len]
        if batch:
            total += float(batch_losses(head, batch, cfg, LossNormalizer(momentum=0.0))["final_loss"]) * len(batch)
            n += len(batch)
    head.train(was_training)
    return total / max(n, 1)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay conv / linear weights only (biases, norms, level scales, adjacencies: none)."""
    decay, seen = [], set()
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)) and module.weight.requires_grad:
            decay.append(module.weight)
            seen.add(id(module.weight))
    rest = [p for p in model.parameters() if id(p) not in seen and p.requires_grad]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def warmup_cosine(step: int, warmup: int, total: int, base_lr: float, eta_min: float) -> float:
    """Multiplier of base_lr at ``step``: linear from 0, then cosine down to eta_min."""
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return (eta_min + 0.5 * (base_lr - eta_min) * (1 + math.cos(math.pi * min(progress, 1.0)))) / base_lr


class ModelEma:
    """Exponential moving average of every floating-point entry of the state dict."""

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
                ours[k].mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)
            else:
                ours[k].copy_(v)


@dataclass
class TrainResult:
    weights: Path
    card: ModelCard
    losses: list[dict[str, float]]  # one dict per step
    model: nn.Module  # the EMA model (eval mode): what is saved
    head: nn.Module  # the optimised weights themselves
    loss_before: float | None = None  # dataset_loss before / after training (``measure_loss``)
    loss_after: float | None = None


def train_head(head: nn.Module, items: list[Item], cfg: DenseTrainConfig,
               log: Callable[[str], None] = print) -> tuple[ModelEma, list[dict[str, float]]]:
    """Optimise ``head`` on ``items``; returns the EMA model and the per-step losses."""
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    steps_per_epoch = math.ceil(len(items) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch if cfg.max_steps is None else min(cfg.max_steps, cfg.epochs * steps_per_epoch)
    warmup = cfg.warmup_epochs * steps_per_epoch
    opt = torch.optim.AdamW(param_groups(head, cfg.weight_decay), lr=cfg.learning_rate)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_cosine(s, warmup, cfg.epochs * steps_per_epoch, cfg.learning_rate, cfg.eta_min))
    ema = ModelEma(head, cfg.ema_decay)
    normalizer = LossNormalizer(cfg.init_loss_norm, cfg.loss_norm_momentum)
    history: list[dict[str, float]] = []
    head.train()
    step = 0
    while step < total:
        order = list(range(len(items)))
        rng.shuffle(order)
        for first in range(0, len(order), cfg.batch_size):
            if step >= total:
                break
            batch = [random_crop(items[i], head.cfg.max_seq_len, rng, cfg.crop_ratio, cfg.trunc_thresh)
                     for i in order[first:first + cfg.batch_size]]
            losses = batch_losses(head, batch, cfg, normalizer)
            opt.zero_grad(set_to_none=True)
            losses["final_loss"].backward()
            if cfg.clip_grad_l2norm > 0:
                nn.utils.clip_grad_norm_(head.parameters(), cfg.clip_grad_l2norm)
            opt.step()
            sched.step()
            ema.update(head)
            history.append({k: float(v.detach()) for k, v in losses.items()})
            step += 1
            if step % max(1, steps_per_epoch) == 0 or step == total:
                log(f"step {step}/{total}: " + ", ".join(f"{k} {v:.4f}" for k, v in history[-1].items()))
    head.eval()
    return ema, history


def dense_card(name: str, head_name: str, head: nn.Module, fmt: str, classes: list[str],
               provenance: dict[str, Any]) -> ModelCard:
    from ..decode.dense import DenseDecodeConfig

    c = head.cfg
    extractor = FEATURE_FORMATS[fmt]["extractor"]
    return ModelCard(
        name=name, head=head_name, extractor=extractor, classes=list(classes), weights_file=f"{name}.safetensors",
        head_config=c.to_dict(),
        feature_protocol={"extractor": extractor, "fps": c.fps, "window": c.window, "stride": c.stride,
                          "visual_dim": c.input_dim_visual, "audio_dim": c.input_dim_audio},
        decode={"kind": "dense", **asdict(DenseDecodeConfig())}, provenance=provenance,
        description=f"{head_name} trained by avlocate on UnAV-100-format data",
    )


def train(head: str, annotations: Path, features: Path, out_dir: Path, name: str | None = None,
          fmt: str = "i3d_vggish", subset: str = "train", log: Callable[[str], None] = print,
          head_overrides: dict[str, Any] | None = None, measure_loss: bool = False, device: str = "cpu",
          **train_overrides: Any) -> TrainResult:
    """Train ``head`` on the ``subset`` videos; write ``<name>.safetensors`` + ``<name>.json`` (EMA weights)."""
    if fmt not in FEATURE_FORMATS:
        raise ValueError(f"feature format must be one of {sorted(FEATURE_FORMATS)}, got {fmt!r}")
    cfg = recipe(head, **train_overrides)
    database = load_annotations(annotations)
    classes = class_names(database)
    items = load_items(database, features, subset, fmt)
    if not items:
        raise ValueError(f"no {subset!r} videos in {annotations}")
    torch.manual_seed(cfg.seed)
    model = build_head(head, fmt, len(classes), items[0].visual.shape[1], items[0].audio.shape[1],
                       **(head_overrides or {})).to(device)
    log(f"{head}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, {len(items)} videos")
    before = dataset_loss(model, items, cfg) if measure_loss else None
    ema, history = train_head(model, items, cfg, log)
    after = dataset_loss(model, items, cfg) if measure_loss else None
    name = name or f"{head}-{fmt.replace('_', '-')}"
    provenance = {"trained_by": "avlocate train", "head": head, "data": str(annotations), "subset": subset,
                  "feature_format": fmt, "train_config": asdict(cfg), "steps": len(history),
                  "final_loss": history[-1]["final_loss"] if history else None, "metric": "unknown"}
    card = dense_card(name, head, ema.module, fmt, classes, provenance)
    weights = save_weights(ema.module.state_dict(), card, Path(out_dir))
    return TrainResult(weights, card, history, ema.module, model, before, after)
