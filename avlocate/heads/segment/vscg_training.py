"""Training/evaluation helpers for VSCG with the official schedule (used by ``avlocate train``).

Official settings (both settings, from the reference config): Adam, lr 1e-3, batch 128,
300 epochs, seed 123; the learning rate is multiplied by 0.8 after these 0-indexed epochs:
fully 59, 119, 239 (``(e+1) % 60 == 0 and e < 170`` or ``(e+1) % 120 == 0 and e > 200``);
weakly 79, 179, 239, 299 (``(e+1) % 80 == 0 and e < 100`` or ``(e+1) % 60 == 0 and e > 120``).
Accuracy is reported in percent for both settings (the official weakly code prints a fraction).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .vscg import VSCG
from .vscg_losses import fully_loss, fully_predict, segment_accuracy, video_level_target, weakly_loss, weakly_predict
from .vscg_weakly import VSCGWeakly


@dataclass
class VSCGTrainConfig:
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 300
    seed: int = 123
    lr_decay: float = 0.8


def decays_after(epoch: int, weakly: bool) -> bool:
    """Whether the official schedule multiplies the lr by ``lr_decay`` after this 0-indexed epoch."""
    e = epoch
    if weakly:
        return ((e + 1) % 80 == 0 and e < 100) or ((e + 1) % 60 == 0 and e > 120)
    return ((e + 1) % 60 == 0 and e < 170) or ((e + 1) % 120 == 0 and e > 200)


def make_optimizer(
    model: torch.nn.Module, cfg: VSCGTrainConfig | None = None
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Adam + an epoch-stepped scheduler following :func:`decays_after` (call ``step()`` per epoch)."""
    cfg = cfg or VSCGTrainConfig()
    weakly = isinstance(model, VSCGWeakly)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.MultiplicativeLR(
        opt, lambda epoch: cfg.lr_decay if decays_after(epoch - 1, weakly) else 1.0
    )
    return opt, sched


def batch_loss(model: torch.nn.Module, audio: torch.Tensor, visual: torch.Tensor, labels: torch.Tensor,
               video_target: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Loss terms for one batch; ``labels`` (B, T, C) one-hot segment labels.

    The weakly model sees only the video-level target: ``video_target`` (B, C) when given (the
    official ``prob_label``), else the time-average of ``labels``.
    """
    if isinstance(model, VSCGWeakly):
        out = model(audio, visual)
        target = video_level_target(labels) if video_target is None else video_target
        return weakly_loss(out.video_probs, out.smooth_probs, target, model.config.smooth_loss_weight)
    if isinstance(model, VSCG):
        out = model(audio, visual)
        return fully_loss(out.relevance, out.class_logits, out.similarity, labels)
    raise TypeError(f"not a VSCG model: {type(model).__name__}")


@torch.no_grad()
def predict(model: torch.nn.Module, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
    """(B, T) segment labels by the official rule of the model's setting (eval mode)."""
    if isinstance(model, VSCGWeakly):
        return weakly_predict(model(audio, visual).score)
    out = model(audio, visual)
    return fully_predict(out.relevance, out.class_logits, model.config.event_threshold)


def evaluate_split(predict_fn, model: torch.nn.Module, audio: torch.Tensor, visual: torch.Tensor,  # noqa: ANN001
                   labels: torch.Tensor, batch_size: int) -> float:
    """Segment accuracy in percent of ``predict_fn`` over a whole split, in batches (the model's
    mode is restored afterwards). Shared by every segment head's ``evaluate``."""
    was_training = model.training
    model.eval()
    try:
        preds = [predict_fn(model, audio[i : i + batch_size], visual[i : i + batch_size])
                 for i in range(0, len(audio), batch_size)]
    finally:
        model.train(was_training)
    return segment_accuracy(torch.cat(preds), labels)


def evaluate(model: torch.nn.Module, audio: torch.Tensor, visual: torch.Tensor, labels: torch.Tensor,
             batch_size: int = 128) -> float:
    """Segment accuracy in percent over a whole split, in batches (model restored to its mode)."""
    return evaluate_split(predict, model, audio, visual, labels, batch_size)
