"""The dense training recipe against three official training iterations (reference README section 12).

For ``unav`` and ``ccnet``: the official class-aware targets, the three steps' losses and loss
normaliser, the two optimizer groups, the learning rate of every step, the clipped gradients of
the first step and the weights and EMA after the third, with the README's tolerances. Everything
(model config, recipe, batches, sizes, names) is read from ``<reference>/dense/<model>/small``, so
the tests run on any set of the same layout. Select them with ``pytest -k training_parity``.

What the official run did that avlocate does not do by default, and the tests switch on:
- drop path off (meta: every AffineDropPath's drop_prob set to 0, scales kept);
- the official batch-dependent fusion mask (``official_batch_mask``): the reference batches mix
  lengths, and avlocate's default gives each video its own mask (heads/dense/fusion.py).

The published set holds two runs: the meta's ``steps`` (losses, normaliser, gradient norms, learning
rates) come from ``init_loss_norm`` 250 (meta and config.json say so, and the numbers agree: the
normaliser after step 1 is 0.9 * 250 + 0.1 * 21), where the gradient norm stays below the clip
(0.5-0.9 < 1.0); the arrays ``grad0::`` / ``param3::`` / ``ema3::`` come from the README's
deliberate ``init_loss_norm`` 2.0, where the clip acts (their first-step gradient has total norm
1.0). Where the files show this (steps below the clip, stored gradients at the clip), the arrays
are checked against a second run at the README's value; a consistent set uses one run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from avlocate.datasets.unav import Item
from avlocate.heads.dense.ccnet import CcnetHead
from avlocate.heads.dense.layers import LayerScale
from avlocate.heads.dense.unav import UnavHead
from avlocate.weights.convert_dense import load_into, load_official_checkpoint, official_to_avlocate_key
from avlocate.training.dense import DenseTrainer, param_groups, recipe
from avlocate.training.loader import prepare_batch

HEADS = {"unav": UnavHead, "ccnet": CcnetHead}

# README section 12 "Suggested tolerances"
LOSS_RTOL = 1e-5
GRAD_TOL = dict(rtol=1e-4, atol=1e-7)
PARAM_TOL = dict(rtol=1e-5, atol=1e-7)
TARGET_ATOL = 1e-6
ARRAYS_INIT_LOSS_NORM = 2.0  # README section 12: "init_loss_norm is 2.0 instead of 250" (not in the meta)
LR_RTOL = 1e-9  # the official schedule adds k * base / (W - 1) step by step; we multiply: rounding only


@dataclass
class Run:
    """One model's training cases and our three iterations on them."""

    model: str
    meta: dict[str, Any]
    arrays: Any
    names: dict[str, str]  # official parameter name -> avlocate name
    head: torch.nn.Module
    trainer: DenseTrainer
    batches: list[list[Item]] = field(default_factory=list)
    losses: list[dict[str, float]] = field(default_factory=list)
    normalizer: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    lr_used: list[list[float]] = field(default_factory=list)
    lr_after: list[list[float]] = field(default_factory=list)
    grads0: dict[str, torch.Tensor] = field(default_factory=dict)


def _items(arrays: Any, batch: int) -> list[Item]:
    out = []
    v = 0
    while f"b{batch}_v{v}_visual" in arrays.files:
        p = f"b{batch}_v{v}_"
        out.append(Item(f"b{batch}_v{v}", torch.from_numpy(arrays[p + "visual"]).t().contiguous(),
                        torch.from_numpy(arrays[p + "audio"]).t().contiguous(),
                        torch.from_numpy(arrays[p + "segments"]).reshape(-1, 2),
                        torch.from_numpy(arrays[p + "labels"]), 0.0))
        v += 1
    return out


def _build(path: Path, model: str, init_loss_norm: float | None = None, device: str = "cpu") -> Run:
    meta = json.loads((path / "train_cases_meta.json").read_text())
    arrays = np.load(path / "train_cases.npz")
    official = json.loads((path / "config.json").read_text())["config"]
    opt = meta["opt"]
    # the recipe avlocate implements: AdamW, linear warm-up then cosine, stepped per iteration
    assert (opt["type"], opt["warmup"], opt["schedule_type"]) == ("AdamW", True, "cosine"), opt
    head_cls = HEADS[model]
    cfg = head_cls.config_class.from_official(official).replace(official_batch_mask=True)
    torch.manual_seed(0)
    head = head_cls(cfg)
    load_into(head, load_official_checkpoint(path / "state_dict.pt", model))
    scales = [m for m in head.modules() if isinstance(m, LayerScale)]
    assert len(scales) == meta["affine_drop_path_modules"]
    for m in scales:
        m.drop_prob = 0.0
    head = head.to(device)
    train_cfg = recipe(model, learning_rate=opt["learning_rate"], epochs=opt["epochs"],
                       warmup_epochs=opt["warmup_epochs"], weight_decay=opt["weight_decay"],
                       clip_grad_l2norm=meta["clip_grad_l2norm"], ema_decay=meta["ema_decay"],
                       init_loss_norm=float(meta["init_loss_norm"] if init_loss_norm is None else init_loss_norm))
    trainer = DenseTrainer(head, train_cfg, steps_per_epoch=meta["iters_per_epoch"])
    names = {n: official_to_avlocate_key(n, model)
             for group in meta["param_groups"] for n in group["params"]}
    run = Run(model, meta, arrays, names, head, trainer)
    for k, step in enumerate(meta["steps"]):
        items = _items(arrays, step["batch"])
        run.batches.append(items)
        run.lr_used.append(trainer.lr())
        run.losses.append(trainer.step(prepare_batch(items, cfg).to(device)))
        run.normalizer.append(trainer.normalizer.value)
        run.grad_norm.append(trainer.last_grad_norm)
        run.lr_after.append(trainer.lr())
        if k == 0:  # gradients stay on the parameters until the next zero_grad
            params = dict(head.named_parameters())
            run.grads0 = {n: params[n].grad.detach().clone() for n in names.values()}
    return run


def _stored_grad_norm(arrays: Any) -> float:
    return float(np.sqrt(sum(arrays[f][1] ** 2 for f in arrays.files if f.startswith("grad0::"))))


@pytest.fixture(scope="module", params=list(HEADS))
def runs(request, reference_dir) -> tuple[Run, Run]:
    """(the run of the meta's steps, the run of the stored arrays): see the module docstring."""
    path = reference_dir / "dense" / request.param / "small"
    if not (path / "train_cases.npz").is_file():
        pytest.skip(f"{path} has no training cases")
    steps_run = _build(path, request.param)
    clip = steps_run.meta["clip_grad_l2norm"]
    steps_below_clip = all(s["grad_total_norm_before_clip"] < clip for s in steps_run.meta["steps"])
    arrays_at_clip = abs(_stored_grad_norm(steps_run.arrays) - clip) < 1e-4 * clip
    if steps_below_clip and arrays_at_clip:
        return steps_run, _build(path, request.param, ARRAYS_INIT_LOSS_NORM)
    return steps_run, steps_run


@pytest.fixture
def run(runs) -> Run:
    return runs[0]


@pytest.fixture
def arrays_run(runs) -> Run:
    return runs[1]


def _summary(t: torch.Tensor) -> np.ndarray:
    """The reference's per-tensor summary: [sum, L2 norm, first 16 values] in float64."""
    flat = t.detach().double().flatten()
    return np.concatenate([[float(flat.sum()), float(flat.norm())], flat[:16].numpy()])


def _assert_summary(ours: np.ndarray, theirs: np.ndarray, rtol: float, atol: float, what: str) -> None:
    """README tolerances; the sum entry of a tensor whose entries cancel (sum near 0, norm not)
    carries the float32 rounding of its entries, so its tolerance is relative to the L2 norm."""
    np.testing.assert_allclose(ours[1:], theirs[1:], rtol=rtol, atol=atol, err_msg=what)
    assert abs(ours[0] - theirs[0]) <= atol + rtol * max(abs(theirs[0]), abs(theirs[1])), (what, ours[0], theirs[0])


def test_training_parity_targets(run):
    """Official class-aware targets of every video (points of all levels, level 0 first)."""
    a = run.arrays
    for step in run.meta["steps"]:
        for it in run.batches[run.meta["steps"].index(step)]:
            batch = prepare_batch([it], run.head.cfg)
            cls_t, reg_t = batch.cls_targets[0].numpy(), batch.reg_targets[0].numpy()
            assert cls_t.shape == a[f"{it.video_id}_gt_cls"].shape
            assert reg_t.shape == a[f"{it.video_id}_gt_offsets"].shape
            np.testing.assert_allclose(cls_t, a[f"{it.video_id}_gt_cls"], rtol=0, atol=TARGET_ATOL, err_msg=it.video_id)
            np.testing.assert_allclose(reg_t, a[f"{it.video_id}_gt_offsets"], rtol=0, atol=TARGET_ATOL,
                                       err_msg=it.video_id)
            assert cls_t.sum() > 0


def test_training_parity_losses_and_normaliser(run):
    for k, want in enumerate(run.meta["steps"]):
        got = run.losses[k]
        for key in ("cls_loss", "reg_loss", "final_loss"):
            assert got[key] == pytest.approx(want[key], rel=LOSS_RTOL), (k, key)
        assert run.normalizer[k] == pytest.approx(want["loss_normalizer_after"], rel=LOSS_RTOL), k
        assert run.grad_norm[k] == pytest.approx(want["grad_total_norm_before_clip"], rel=1e-4), k


def test_training_parity_param_groups(run):
    """Which parameters decay: the official two groups, with their weight decay, name by name."""
    groups = param_groups(run.head, run.trainer.cfg.weight_decay)
    ids = {id(p): n for n, p in run.head.named_parameters()}
    assert len(groups) == len(run.meta["param_groups"])
    for ours, theirs in zip(groups, run.meta["param_groups"]):
        assert ours["weight_decay"] == theirs["weight_decay"]
        assert sorted(ids[id(p)] for p in ours["params"]) == sorted(run.names[n] for n in theirs["params"])
    # the optimizer holds exactly these groups
    for ours, theirs in zip(run.trainer.opt.param_groups, run.meta["param_groups"]):
        assert ours["weight_decay"] == theirs["weight_decay"] and len(ours["params"]) == len(theirs["params"])


def test_training_parity_learning_rate(run):
    for k, want in enumerate(run.meta["steps"]):
        assert run.lr_used[k] == pytest.approx(want["lr_used"], rel=LR_RTOL, abs=1e-15), k
        assert run.lr_after[k] == pytest.approx(want["lr_after_step"], rel=LR_RTOL, abs=1e-15), k


def test_training_parity_clipped_gradients(arrays_run):
    run = arrays_run
    a = run.arrays
    official = [f[len("grad0::"):] for f in a.files if f.startswith("grad0::")]
    assert sorted(run.names) == sorted(official)
    for name in official:
        _assert_summary(_summary(run.grads0[run.names[name]]), a[f"grad0::{name}"], what=name, **GRAD_TOL)
    # the clip acted where the stored run's did: our clipped gradient has the stored total norm
    ours = float(torch.sqrt(sum(g.double().pow(2).sum() for g in run.grads0.values())))
    assert ours == pytest.approx(_stored_grad_norm(a), rel=1e-4)


def test_training_parity_weights_and_ema_after_three_steps(arrays_run):
    run = arrays_run
    a = run.arrays
    params = run.head.state_dict()
    ema = run.trainer.ema.module.state_dict()
    for prefix, ours in (("param3::", params), ("ema3::", ema)):
        official = [f[len(prefix):] for f in a.files if f.startswith(prefix)]
        assert len(official) == len(ours)
        for name in official:
            _assert_summary(_summary(ours[official_to_avlocate_key(name, run.model)]), a[f"{prefix}{name}"],
                            what=f"{prefix}{name}", **PARAM_TOL)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("model", list(HEADS))
def test_training_parity_losses_on_cuda(reference_dir, model):
    """The same three official iterations on the GPU in float32 (TF32 off): losses and normaliser
    within 1e-4 relative (GPU reductions sum in another order than the CPU's)."""
    path = reference_dir / "dense" / model / "small"
    if not (path / "train_cases.npz").is_file():
        pytest.skip(f"{path} has no training cases")
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        run = _build(path, model, device="cuda")
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    for k, want in enumerate(run.meta["steps"]):
        for key in ("cls_loss", "reg_loss", "final_loss"):
            assert run.losses[k][key] == pytest.approx(want[key], rel=1e-4), (k, key)
        assert run.normalizer[k] == pytest.approx(want["loss_normalizer_after"], rel=1e-6), k
