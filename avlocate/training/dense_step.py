"""One training iteration of the dense heads: the losses of a batch (the official ``losses()``,
plus ESG-Net's guidance loss) and :class:`DenseTrainer`, the optimisation state of a run stepping
in the official order (zero_grad, forward, backward, clip, optimizer, schedule, EMA)."""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..datasets.unav import Item
from ..heads.dense.losses import LossNormalizer, dense_losses, diou_1d
from .dense_recipe import DenseTrainConfig, ModelEma, param_groups, resolve_precision, warmup_cosine
from .loader import PreparedBatch, materialize, prepare_batch


def giou_1d(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """1 - IoU + (enclosing - union) / enclosing of (start, end) distance pairs (M, 2)."""
    inter = torch.minimum(pred[:, 0], target[:, 0]) + torch.minimum(pred[:, 1], target[:, 1])
    union = pred.sum(1) + target.sum(1) - inter
    enclosing = torch.maximum(pred[:, 0], target[:, 0]) + torch.maximum(pred[:, 1], target[:, 1])
    iou = inter / union.clamp(min=eps)
    return 1.0 - iou + (enclosing - union) / enclosing.clamp(min=eps)


REG_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"diou": diou_1d, "giou": giou_1d}


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
