"""Training of the dense heads (UnAV, CCNet, ESG-Net) on UnAV-100-format data.

The official recipe (UnAV avel_unav100.yaml / CCNet_unav100.yaml, their shared ``train.py`` /
``train_one_epoch``), checked number by number against three official iterations by
``tests/training/test_training_parity.py``:
- targets: class-aware points of the 6-level pyramid (``heads.dense.losses.point_targets``);
- losses: sigmoid focal loss + an IoU-type regression loss over (point, class) pairs with a target,
  both divided by an EMA of the positive count (init 250, momentum 0.9). Regression loss: the
  papers write GIoU, the official UnAV/CCNet code uses 1-D DIoU; unav/ccnet follow the code
  (``reg_loss="diou"``), ESG-Net has no code so it follows its paper (``"giou"``);
- ESG-Net adds L_mcls = sum_i alpha_i (L_Ai + L_Vi) (``heads.dense.esgnet.guidance_loss``);
- AdamW, weight decay only on conv / linear weights (not on biases, LayerNorms, LayerScales,
  level scales), gradient clipping at L2 norm 1.0;
- one iteration: zero_grad, forward, backward, clip, optimizer step, schedule step, EMA update;
- learning rate per iteration: ``k / (W - 1)`` of the base rate for k < W warm-up iterations (it
  reaches the base rate at k = W - 1, as the official LinearWarmupCosineAnnealingLR), then cosine
  down to 1e-8 at the end of training;
- length: ``epochs`` is the config's value (40); the official loop trains ``epochs +
  warmup_epochs`` epochs (45) and its cosine ends there. We do the same;
- training crops as the official loader (``datasets.unav.random_crop``), batches padded to
  max_seq_len, full batches only (the official loader drops each epoch's remainder);
- an EMA copy of the weights (decay 0.999, ``e = decay * e + (1 - decay) * w``) is what gets
  evaluated and saved (eval.py loads ``state_dict_ema``).
Deliberate differences:
- ESG-Net's paper says Adam with weight decay 1e-4; we use AdamW like the other two (decoupled
  decay is what every official dense code base uses). Everything else of ESG-Net's recipe is
  the dense recipe above plus L_mcls, with the paper's batch 9, lr 1e-3 and GIoU.
- the fusion blocks use each video's own mask (``official_batch_mask=False``, see
  heads/dense/fusion.py); the parity tests switch the official batch-dependent mask on.
- the data order: each epoch shuffles and crops with its own generator seeded by (seed, epoch),
  so a run resumed after an interruption continues with the batches of the uninterrupted run.
Not in the official loop, optional: bf16/fp16 autocast (``precision``), a prefetching loader.
"""
from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..datasets.unav import FEATURE_FORMATS, Item, class_names, load_annotations
from ..errors import UsageError
from ..heads.dense.losses import LossNormalizer, dense_losses, diou_1d
from ..registry import HEADS
from .checkpoint import fingerprint, load_state, save_state, state_path
from .loader import (PrefetchLoader, PreparedBatch, collate, epoch_batches, load_training_items,  # noqa: F401
                     materialize, prepare_batch, snippet_targets, steps_per_epoch)
from .progress import TrainProgress
from ..weights.card import ModelCard
from ..weights.store import save_weights


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


def batch_losses(head: nn.Module, items: list[Item], cfg: DenseTrainConfig, normalizer: LossNormalizer
                 ) -> dict[str, torch.Tensor]:
    """Losses of one batch of (already cropped) videos, updating ``normalizer``."""
    batch = prepare_batch(items, head.cfg, cfg.guidance).to(next(head.parameters()).device)
    return prepared_losses(head, batch, cfg, normalizer)


def prepared_losses(head: nn.Module, batch: PreparedBatch, cfg: DenseTrainConfig, normalizer: LossNormalizer,
                    autocast: Any = None) -> dict[str, torch.Tensor]:
    """The official ``losses()`` (+ ESG-Net's L_mcls) of a prepared batch; the forward runs under
    ``autocast`` when given, the losses always in float32."""
    with autocast if autocast is not None else contextlib.nullcontext():
        out = head(batch.visual, batch.audio, batch.mask)
    logits = [x.float() for x in out.logits]
    offsets = [x.float() for x in out.offsets]
    if sum(x.shape[1] for x in logits) != batch.cls_targets.shape[1]:
        raise ValueError("the head's pyramid does not match the targets' points (num_levels / max_stride)")
    losses = dense_losses(logits, offsets, out.masks, batch.cls_targets, batch.reg_targets, normalizer,
                          reg_loss=REG_LOSSES[cfg.reg_loss])
    if cfg.guidance:
        from ..heads.dense.esgnet import guidance_loss

        if autocast is not None:
            out.aux = {k: [x.float() for x in v] for k, v in out.aux.items()}
        # ESG-Net only (no official code): L = L_cls + L_reg + L_mcls (paper Eq. 13), the rest as UnAV
        losses["mcls_loss"] = guidance_loss(out, batch.snippet_targets, tuple(head.cfg.guidance_weights))
        losses["final_loss"] = losses["final_loss"] + losses["mcls_loss"]
    return losses


@torch.no_grad()
def dataset_loss(head: nn.Module, items: list[Any], cfg: DenseTrainConfig, batch_size: int = 8) -> float:
    """Mean final loss over ``items`` (eval mode, no crops), each batch normalised by its own
    positive count, so that values before and after training compare (the EMA normaliser drifts)."""
    was_training = head.training
    head.eval()
    total, n = 0.0, 0
    for first in range(0, len(items), batch_size):
        batch = [it for it in map(materialize, items[first:first + batch_size])
                 if it.visual.shape[0] <= head.cfg.max_seq_len]
        if batch:
            total += float(batch_losses(head, batch, cfg, LossNormalizer(momentum=0.0))["final_loss"]) * len(batch)
            n += len(batch)
    head.train(was_training)
    return total / max(n, 1)


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


class DenseTrainer:
    """The optimisation state of one run and its iteration, in the official order.

    ``steps_per_epoch`` sizes the schedule (warm-up ``warmup_epochs`` epochs, cosine to the end of
    ``epochs + warmup_epochs`` epochs). ``step(batch)`` runs one iteration; ``state_dict`` /
    ``load_state_dict`` carry everything a resumed run needs.
    """

    def __init__(self, head: nn.Module, cfg: DenseTrainConfig, steps_per_epoch: int, precision: str = "fp32") -> None:
        self.head, self.cfg = head, cfg
        self.device = next(head.parameters()).device
        self.precision = resolve_precision(precision, self.device)
        self.warmup = cfg.warmup_epochs * steps_per_epoch
        self.total = cfg.total_epochs * steps_per_epoch
        self.opt = torch.optim.AdamW(param_groups(head, cfg.weight_decay), lr=cfg.learning_rate)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda k: warmup_cosine(k, self.warmup, self.total, cfg.learning_rate, cfg.eta_min))
        self.ema = ModelEma(head, cfg.ema_decay)
        self.normalizer = LossNormalizer(cfg.init_loss_norm, cfg.loss_norm_momentum)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self.steps = 0
        self.last_grad_norm: float | None = None  # total L2 norm before clipping, last step

    def autocast(self) -> Any:
        if self.precision == "fp32":
            return None
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def lr(self) -> list[float]:
        """Learning rate of each parameter group (decayed, not decayed) for the next step."""
        return [float(g["lr"]) for g in self.opt.param_groups]

    def step(self, batch: PreparedBatch) -> dict[str, float]:
        self.head.train()
        self.opt.zero_grad(set_to_none=True)
        losses = prepared_losses(self.head, batch, self.cfg, self.normalizer, self.autocast())
        loss = losses["final_loss"]
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
        else:
            loss.backward()
        if self.cfg.clip_grad_l2norm > 0:
            self.last_grad_norm = float(nn.utils.clip_grad_norm_(self.head.parameters(), self.cfg.clip_grad_l2norm))
        if self.scaler is not None:
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.opt.step()
        self.sched.step()
        self.ema.update(self.head)
        self.steps += 1
        return {k: float(v.detach()) for k, v in losses.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"head": self.head.state_dict(), "ema": self.ema.module.state_dict(), "optimizer": self.opt.state_dict(),
                "scheduler": self.sched.state_dict(), "loss_normalizer": self.normalizer.value, "steps": self.steps,
                "scaler": self.scaler.state_dict() if self.scaler is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.head.load_state_dict(state["head"])
        self.ema.module.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.normalizer.value = float(state["loss_normalizer"])
        self.steps = int(state["steps"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


@dataclass
class TrainResult:
    weights: Path
    card: ModelCard
    losses: list[dict[str, float]]  # one dict per step (of this process: a resumed run starts where it left off)
    model: nn.Module  # the EMA model (eval mode): what is saved
    head: nn.Module  # the optimised weights themselves
    loss_before: float | None = None  # dataset_loss before / after training (``measure_loss``)
    loss_after: float | None = None
    resumed_from_epoch: int = 0  # epochs already done when this process started
    data_wait_share: float | None = None  # share of the training time spent waiting for batches


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def train_head(head: nn.Module, items: list[Any], cfg: DenseTrainConfig,
               log: Callable[[str], None] = print, *, state_file: Path | None = None,
               fingerprint_of: dict[str, Any] | None = None, resume: bool = True, precision: str = "fp32",
               progress: bool | None = False, prefetch: int = 2,
               on_epoch_end: Callable[[int], None] | None = None,
               stats: dict[str, Any] | None = None) -> tuple[ModelEma, list[dict[str, float]]]:
    """Optimise ``head`` on ``items``; returns the EMA model and the per-step losses.

    With ``state_file`` the whole training state is written there (atomically) after every epoch
    and, with ``resume``, read back at the start when it exists, so an interrupted run continues
    after its last finished epoch and ends with the same weights. ``on_epoch_end(epoch)`` runs after
    each epoch's state is saved (epochs count from 1). ``stats`` receives ``wait_s`` / ``train_s``.
    """
    torch.manual_seed(cfg.seed)
    per_epoch = steps_per_epoch(len(items), cfg.batch_size)
    total_epochs = cfg.total_epochs
    total = total_epochs * per_epoch if cfg.max_steps is None else min(cfg.max_steps, total_epochs * per_epoch)
    trainer = DenseTrainer(head, cfg, per_epoch, precision)
    settings = {"train": asdict(cfg), "head": head.cfg.to_dict(), "items": [getattr(it, "video_id", "") for it in items],
                "precision": trainer.precision, **(fingerprint_of or {})}
    settings["train"].pop("max_steps", None)  # stopping earlier or later does not change the steps taken
    fp = fingerprint(settings)
    start_epoch = 0
    if state_file is not None and resume:
        state = load_state(state_file, fp)
        if state is not None:
            trainer.load_state_dict(state["trainer"])
            _set_rng_state(state["rng"], trainer.device)
            start_epoch = int(state["epoch"])
            log(f"resuming from {state_file} after epoch {start_epoch}/{total_epochs}")
    history: list[dict[str, float]] = []
    head.train()
    wait_s, t_start = 0.0, time.perf_counter()
    saved_epoch = start_epoch
    try:
        with TrainProgress(total, min(trainer.steps, total), total_epochs, log, progress) as bar:
            for epoch in range(start_epoch, total_epochs):
                if trainer.steps >= total:
                    break
                bar.start_epoch(epoch + 1)
                groups, crop = epoch_batches(items, cfg.batch_size, cfg.seed, epoch, head.cfg.max_seq_len,
                                             cfg.crop_ratio, cfg.trunc_thresh)
                groups = groups[: total - trainer.steps]
                loader = PrefetchLoader(groups, lambda g, crop=crop: prepare_batch(crop(g), head.cfg, cfg.guidance),
                                        trainer.device, prefetch)
                for batch in loader:
                    history.append(trainer.step(batch))
                    bar.advance(history[-1]["final_loss"])
                wait_s += loader.wait_s
                if state_file is not None and len(groups) == per_epoch:
                    save_state(state_file, {"fingerprint": fp, "epoch": epoch + 1, "trainer": trainer.state_dict(),
                                            "rng": _rng_state(trainer.device)})
                    saved_epoch = epoch + 1
                if history:
                    bar.epoch_done(epoch + 1, history[-1])
                if on_epoch_end is not None:
                    on_epoch_end(epoch + 1)
    except KeyboardInterrupt:
        if state_file is not None and saved_epoch > 0:
            log(f"interrupted: {state_file} holds epoch {saved_epoch}/{total_epochs}; "
                "the same command resumes from there")
        raise
    if stats is not None:
        stats.update(wait_s=wait_s, train_s=time.perf_counter() - t_start, steps=len(history),
                     steps_total=trainer.steps, start_epoch=start_epoch, precision=trainer.precision)
    head.eval()
    return trainer.ema, history


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
          *, resume: bool = True, precision: str = "fp32", progress: bool | None = None, prefetch: int = 2,
          cache: str = "auto", on_epoch_end: Callable[[int], None] | None = None,
          **train_overrides: Any) -> TrainResult:
    """Train ``head`` on the ``subset`` videos; write ``<name>.safetensors`` + ``<name>.json`` (EMA weights).

    After every epoch the training state goes to ``<out>/<name>.train-state.pt``; a later call with
    the same data and settings resumes after the last finished epoch (``resume=False`` starts
    over). The state file is removed once the model is written. ``precision``: fp32 (official),
    bf16, fp16 (CUDA) or auto; ``progress``: the bar (None = on a terminal); ``prefetch``: batches
    prepared ahead by a thread (0 = none); ``cache``: features in memory (auto, memory, disk).
    """
    if fmt not in FEATURE_FORMATS:
        raise ValueError(f"feature format must be one of {sorted(FEATURE_FORMATS)}, got {fmt!r}")
    cfg = recipe(head, **train_overrides)
    database = load_annotations(annotations)
    classes = class_names(database)
    items = load_training_items(database, features, subset, fmt, cache, log)
    if not items:
        raise ValueError(f"no {subset!r} videos in {annotations}")
    first = materialize(items[0])
    torch.manual_seed(cfg.seed)
    model = build_head(head, fmt, len(classes), first.visual.shape[1], first.audio.shape[1],
                       **(head_overrides or {})).to(device)
    log(f"{head}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, {len(items)} videos")
    name = name or f"{head}-{fmt.replace('_', '-')}"
    state_file = state_path(Path(out_dir), name)
    before = dataset_loss(model, items, cfg) if measure_loss else None
    stats: dict[str, Any] = {}
    ema, history = train_head(model, items, cfg, log, state_file=state_file, resume=resume, precision=precision,
                              progress=progress, prefetch=prefetch, on_epoch_end=on_epoch_end, stats=stats,
                              fingerprint_of={"head_name": head, "format": fmt, "subset": subset,
                                              "classes": classes, "annotations": _sha256(Path(annotations))})
    after = dataset_loss(model, items, cfg) if measure_loss else None
    provenance = {"trained_by": "avlocate train", "head": head, "data": str(annotations), "subset": subset,
                  "feature_format": fmt, "train_config": asdict(cfg), "steps": int(stats.get("steps_total", 0)),
                  "precision": stats.get("precision", precision),
                  "final_loss": history[-1]["final_loss"] if history else None, "metric": "unknown"}
    card = dense_card(name, head, ema.module, fmt, classes, provenance)
    weights = save_weights(ema.module.state_dict(), card, Path(out_dir))
    state_file.unlink(missing_ok=True)  # the model is written: nothing left to resume
    share = stats["wait_s"] / stats["train_s"] if stats.get("train_s") else None
    if history and share is not None:
        log(f"{len(history)} steps in {stats['train_s']:.1f} s ({len(history) / stats['train_s']:.2f} steps/s, "
            f"{stats['precision']}); waiting for data {100 * share:.1f} % of the time")
    return TrainResult(weights, card, history, ema.module, model, before, after,
                       int(stats.get("start_epoch", 0)), share)


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
