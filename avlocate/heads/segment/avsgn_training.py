"""Training/evaluation helpers for AVSGN with the paper's schedule (for ``avlocate train``).

Paper Sec. 4.1: Adam, batch 64, learning rate 3e-4 halved at epochs 10, 20 and 30, 200 epochs.
"After epoch 10" is read as: epochs 0-9 (0-indexed) run at 3e-4, 10-19 at 1.5e-4, and so on
(call the scheduler's ``step()`` once per epoch). Accuracy is the AVE segment accuracy in percent
(both settings); prediction uses tau (0.6) on s^r in both settings (see :mod:`.avsgn`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .avsgn import AVSGN
from .avsgn_losses import avsgn_loss


@dataclass
class AVSGNTrainConfig:
    lr: float = 3e-4
    batch_size: int = 64
    epochs: int = 200
    milestones: tuple[int, ...] = (10, 20, 30)
    lr_decay: float = 0.5
    seed: int = 0  # the paper gives none


def make_optimizer(model: torch.nn.Module, cfg: AVSGNTrainConfig | None = None
                   ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    cfg = cfg or AVSGNTrainConfig()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.lr_decay)
    return opt, sched


def _check(model: torch.nn.Module) -> AVSGN:
    if not isinstance(model, AVSGN):
        raise TypeError(f"not an AVSGN model: {type(model).__name__}")
    return model


def batch_loss(model: torch.nn.Module, audio: torch.Tensor, visual: torch.Tensor, labels: torch.Tensor,
               video_target: torch.Tensor | None = None, text_clip: torch.Tensor | None = None,
               text_clap: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Loss terms of one batch in the model's setting (``config.supervision``).

    ``labels`` (B, T, C) one-hot. The weakly objective only sees ``video_target`` (B, C) when given,
    else the time-average of ``labels``.
    """
    m = _check(model)
    c = m.config
    out = m(audio, visual, text_clip, text_clap)
    return avsgn_loss(out, labels, c.supervision, consistency_weight=c.consistency_weight, margin=c.margin,
                      video_target=video_target)


@torch.no_grad()
def predict(model: torch.nn.Module, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
    """(B, T) segment labels (background = last index)."""
    m = _check(model)
    return m.labels_from_probs(m.segment_probs(audio, visual))


def evaluate(model: torch.nn.Module, audio: torch.Tensor, visual: torch.Tensor, labels: torch.Tensor,
             batch_size: int = 64) -> float:
    """Segment accuracy in percent over a split, in batches (the model's mode is restored)."""
    from .vscg_training import evaluate_split

    return evaluate_split(predict, model, audio, visual, labels, batch_size)
