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

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..datasets.unav import FEATURE_FORMATS, class_names, load_annotations
from ..weights.card import ModelCard
from ..weights.store import save_weights, sha256_of
from .checkpoint import fingerprint, load_state, save_state, state_path
# The recipe and the step are re-exported: callers import the dense training from one module.
from .dense_recipe import (PRECISIONS, DenseTrainConfig, ModelEma, build_head, param_groups,  # noqa: F401
                           recipe, resolve_precision, warmup_cosine)
from .dense_step import REG_LOSSES, DenseTrainer, batch_losses, dataset_loss, giou_1d, prepared_losses  # noqa: F401
from .loader import (PrefetchLoader, PreparedBatch, collate, epoch_batches, load_training_items,  # noqa: F401
                     materialize, prepare_batch, snippet_targets, steps_per_epoch)
from .progress import TrainProgress


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
                                              "classes": classes, "annotations": sha256_of(Path(annotations))})
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
