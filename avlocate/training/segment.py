"""Training and evaluation of the segment-level AVE heads on AVE-format data.

Variants: ``vscg`` / ``vscg-weakly`` (VGG-19 pool5 + VGGish features, ``vgg19-vggish`` layout)
and ``avsgn`` / ``avsgn-weakly`` (CLIP + CLAP embeddings and label texts, ``clip-clap`` layout);
see :mod:`avlocate.datasets.ave`. The optimiser, schedule, losses, prediction rules and the
accuracy (segment accuracy in percent, both settings) are the heads' own helpers
(``vscg_training`` / ``avsgn_training``); this module only loops and writes the model.

Deliberate difference from the official VSCG scripts: they evaluate on the *test* split during
training and keep the checkpoint with the best test accuracy, which selects on the test set. We
keep the weights with the best *validation* accuracy when a validation split exists (else the
last epoch's) and report test accuracy separately (``avlocate evaluate``).

Output: ``<name>.safetensors`` + ``<name>.json`` (card: head, the extractor of the layout and its
feature protocol, the event classes of the data in output order — background, the last output,
is not a card class —, decode kind "segments", provenance with the validation accuracy).

Resume: after every epoch the loop state (weights, optimizer, schedule, data-order generator,
torch random state, losses, best validation weights) is written atomically to
``<out>/<name>.train-state.pt`` (:mod:`avlocate.training.checkpoint`); a later run with the same
data and settings continues after the last finished epoch (``resume=False``: from the start). The
file is removed once the model is written.
"""
from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..datasets.ave import AVEData, AVESplit, load_ave
from ..datasets.unav import DatasetError
from ..errors import UsageError
from ..weights.card import ModelCard
from ..weights.store import save_weights
from .checkpoint import fingerprint, load_state, save_state, state_path
from .progress import TrainProgress

VARIANTS = ("vscg", "vscg-weakly", "avsgn", "avsgn-weakly")
LAYOUT = {"vscg": "vgg19-vggish", "vscg-weakly": "vgg19-vggish", "avsgn": "clip-clap", "avsgn-weakly": "clip-clap"}


def _helpers(variant: str) -> Any:  # noqa: ANN401 - one of the two helper modules
    if variant.startswith("vscg"):
        from ..heads.segment import vscg_training as helpers
    else:
        from ..heads.segment import avsgn_training as helpers
    return helpers


def _train_defaults(variant: str) -> Any:  # noqa: ANN401
    h = _helpers(variant)
    return h.VSCGTrainConfig() if variant.startswith("vscg") else h.AVSGNTrainConfig()


@dataclass
class SegmentTrainConfig:
    """Overrides of the variant's paper schedule (None = the paper's value)."""

    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    seed: int | None = None
    max_steps: int | None = None  # stop after this many optimiser steps (smoke runs, tests)
    preload: bool = False  # read the train/val features into memory once (AVE train: ~3.3 GB) instead of per batch
    device: str = "cpu"
    head_config: dict[str, Any] = field(default_factory=dict)  # e.g. {"event_threshold": 0.5}
    resume: bool = True  # continue after the last finished epoch of <out>/<name>.train-state.pt
    progress: bool | None = False  # progress bar (None: on a terminal)


@dataclass
class TrainResult:
    card_path: Path
    weights_path: Path
    losses: list[float]  # mean training loss per epoch
    step_losses: list[float]  # loss of every optimiser step
    val_accuracy: float | None  # percent, of the kept weights


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise UsageError(f"unknown segment model {variant!r}; choose from {', '.join(VARIANTS)}")


def build_head(variant: str, num_classes: int, overrides: dict[str, Any] | None = None) -> torch.nn.Module:
    """A freshly initialised head of ``variant`` for ``num_classes`` outputs (events + background)."""
    from ..pipeline.models import build_configured
    from ..registry import HEADS

    _check_variant(variant)
    from ..heads import segment as _segment  # noqa: F401 - registers the heads

    return build_configured(HEADS.get(variant), {"num_classes": num_classes, **(overrides or {})}, f"head {variant!r}")


def attach_label_text(head: torch.nn.Module, data: AVEData, device: torch.device | str = "cpu") -> None:
    """AVSGN heads take the label-text embeddings of the data's event classes (no-op for VSCG)."""
    if hasattr(head, "set_label_text"):
        if data.text_clip is None or data.text_clap is None:
            raise UsageError(f"{data.root}: {head.__class__.__name__} needs label-text embeddings (label_text.h5)")
        head.set_label_text(data.text_clip.to(device), data.text_clap.to(device))


def _feature_protocol(extractor: str) -> dict[str, Any]:
    """The protocol written into the card: the registered extractor's, when it can be built."""
    from ..errors import AvlocateError
    from ..features import vgg19_vggish as _vgg19_vggish  # noqa: F401 - registers vgg19-vggish
    from ..registry import EXTRACTORS

    try:
        return EXTRACTORS.get(extractor)().protocol()
    except (ImportError, AvlocateError):  # an optional extractor that cannot be built here
        return {"extractor": extractor, "fps": 1.0, "window": 1, "stride": 1}


class InMemorySplit:
    """A split read into memory once; same ``batch`` interface as :class:`AVESplit`."""

    def __init__(self, split: AVESplit) -> None:
        self.name = split.name
        self.audio, self.visual, self.labels = split.load()

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(self, positions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # noqa: ANN001
        idx = torch.as_tensor(np.asarray(positions, dtype=np.int64))
        return self.audio[idx], self.visual[idx], self.labels[idx]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def evaluate_split(head: torch.nn.Module, split: AVESplit, batch_size: int = 64,
                   device: torch.device | str = "cpu") -> float:
    """Segment accuracy in percent of ``head`` on ``split`` (read in batches; mode restored)."""
    variant_helpers = _helpers("avsgn" if hasattr(head, "set_label_text") else "vscg")
    from ..heads.segment.vscg_losses import segment_accuracy

    was_training = head.training
    head.eval()
    preds, labels = [], []
    try:
        for lo in range(0, len(split), batch_size):
            audio, visual, y = split.batch(np.arange(lo, min(lo + batch_size, len(split))))
            preds.append(variant_helpers.predict(head, audio.to(device), visual.to(device)).cpu())
            labels.append(y)
    finally:
        head.train(was_training)
    if not preds:
        raise UsageError(f"split {split.name!r} is empty")
    return float(segment_accuracy(torch.cat(preds), torch.cat(labels)))


def train_segment(data_dir: str | Path, variant: str, out_dir: str | Path, name: str | None = None,
                  config: SegmentTrainConfig | None = None,
                  log: Callable[[str], None] = lambda m: None) -> TrainResult:
    """Train ``variant`` on the train split of ``data_dir``; write weights + card into ``out_dir``."""
    _check_variant(variant)
    cfg = config or SegmentTrainConfig()
    paper = _train_defaults(variant)
    epochs = cfg.epochs if cfg.epochs is not None else paper.epochs
    batch_size = cfg.batch_size if cfg.batch_size is not None else paper.batch_size
    seed = cfg.seed if cfg.seed is not None else paper.seed
    if cfg.lr is not None:
        paper.lr = cfg.lr
    _seed_everything(seed)
    device = torch.device(cfg.device)
    helpers = _helpers(variant)

    data = load_ave(data_dir, LAYOUT[variant])
    train = data.split("train")
    try:
        val: AVESplit | None = data.split("val")
    except DatasetError:  # no validation split: keep the last epoch's weights
        val = None
    if len(train) == 0:
        raise UsageError(f"{data_dir}: the train split is empty")
    if cfg.preload:
        train = InMemorySplit(train)  # type: ignore[assignment]
        val = InMemorySplit(val) if val is not None else None  # type: ignore[assignment]
    head = build_head(variant, len(data.classes), cfg.head_config).to(device)
    attach_label_text(head, data, device)
    opt, sched = helpers.make_optimizer(head, paper)

    losses: list[float] = []
    step_losses: list[float] = []
    best_acc, best_state = -math.inf, None
    gen = torch.Generator().manual_seed(seed)
    steps = 0
    name = name or variant
    state_file = state_path(Path(out_dir), name)
    fp = fingerprint({"variant": variant, "data": str(Path(data_dir).resolve()), "train": len(train),
                      "val": len(val) if val is not None else None, "epochs": epochs, "batch_size": batch_size,
                      "seed": seed, "lr": paper.lr, "head_config": cfg.head_config, "classes": list(data.classes)})
    start_epoch = 0
    state = load_state(state_file, fp) if cfg.resume else None
    if state is not None:
        head.load_state_dict(state["head"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["rng"])
        losses, step_losses = list(state["losses"]), list(state["step_losses"])
        best_acc, best_state, steps = float(state["best_acc"]), state["best_state"], int(state["steps"])
        start_epoch = int(state["epoch"])
        log(f"resuming from {state_file} after epoch {start_epoch}/{epochs}")
    per_epoch = math.ceil(len(train) / batch_size)
    total = epochs * per_epoch if cfg.max_steps is None else min(cfg.max_steps, epochs * per_epoch)
    with TrainProgress(total, min(steps, total), epochs, log, cfg.progress) as bar:
        for epoch in range(start_epoch, epochs):
            if cfg.max_steps is not None and steps >= cfg.max_steps:
                break
            bar.start_epoch(epoch + 1)
            head.train()
            order = torch.randperm(len(train), generator=gen).numpy()
            epoch_losses = []
            for lo in range(0, len(order), batch_size):
                audio, visual, labels = train.batch(order[lo : lo + batch_size])
                terms = helpers.batch_loss(head, audio.to(device), visual.to(device), labels.to(device))
                opt.zero_grad(set_to_none=True)
                terms["total"].backward()
                opt.step()
                epoch_losses.append(float(terms["total"].detach()))
                bar.advance(epoch_losses[-1])
                steps += 1
                if cfg.max_steps is not None and steps >= cfg.max_steps:
                    break
            sched.step()
            losses.append(float(np.mean(epoch_losses)))
            step_losses += epoch_losses
            msg = f"loss {losses[-1]:.4f}"
            if val is not None and len(val):
                acc = evaluate_split(head, val, batch_size, device)
                msg += f", val accuracy {acc:.2f} %"
                if acc > best_acc:
                    best_acc, best_state = acc, copy.deepcopy(head.state_dict())
            if len(epoch_losses) == per_epoch:  # a whole epoch: its state can be resumed from
                save_state(state_file, {
                    "fingerprint": fp, "epoch": epoch + 1, "head": head.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "generator": gen.get_state(), "rng": torch.get_rng_state(),
                    "losses": losses, "step_losses": step_losses, "best_acc": best_acc, "best_state": best_state,
                    "steps": steps})
            log(f"epoch {epoch + 1}/{epochs}: {msg}")
    if best_state is not None:
        head.load_state_dict(best_state)
    val_acc = None if best_state is None else best_acc
    card = ModelCard(
        name=name, head=variant, extractor=data.extractor, classes=data.classes[:-1],
        weights_file=f"{name}.safetensors", head_config={"num_classes": len(data.classes), **cfg.head_config},
        feature_protocol=_feature_protocol(data.extractor), decode={"kind": "segments"},
        provenance={"trained_by": "avlocate train", "data": str(Path(data_dir).resolve()), "split": "train",
                    "epochs": len(losses), "steps": steps, "batch_size": batch_size, "lr": paper.lr, "seed": seed,
                    "metric": "AVE segment accuracy (%), validation split",
                    "val_accuracy": val_acc if val_acc is not None else "unknown (no validation split)"},
        description=f"{variant} trained by avlocate on AVE-format data ({data.layout} features)",
    )
    weights = save_weights(head.state_dict(), card, Path(out_dir))
    state_file.unlink(missing_ok=True)  # the model is written: nothing left to resume
    return TrainResult(Path(out_dir) / f"{name}.json", weights, losses, step_losses, val_acc)


def evaluate_segment(model: str, data_dir: str | Path, split: str = "test", batch_size: int = 64,
                     device: str = "cpu") -> float:
    """Segment accuracy (percent) of a trained model (a name or a card path) on ``split``."""
    from ..pipeline.models import load_model

    loaded = load_model(str(model), device)
    if loaded.card.head not in VARIANTS:
        raise UsageError(f"model {loaded.card.name!r} is not a segment model (head {loaded.card.head!r})")
    data = load_ave(data_dir, LAYOUT[loaded.card.head], events=loaded.card.classes)
    head = copy.deepcopy(loaded.head)  # the cached model's head stays untouched
    attach_label_text(head, data, loaded.device)
    return evaluate_split(head, data.split(split), batch_size, loaded.device)
