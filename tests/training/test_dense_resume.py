"""The dense training loop: resume after an interruption, atomic state, precision, loader, progress."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from avlocate.errors import OutputError, UsageError
from avlocate.training.checkpoint import save_state, state_path
from avlocate.training.dense import DenseTrainer, recipe, resolve_precision, train
from avlocate.training.loader import PrefetchLoader, epoch_batches, load_training_items, prepare_batch

# drop path on: the resumed run must also restore the torch random state to match
# 3 pyramid levels (the paper's 6 add time, not coverage: resuming restores whatever the net holds)
SMALL = dict(max_seq_len=32, embed_dim=16, num_heads=2, head_dim=16, drop_path=0.1, num_downsample=2,
             regression_ranges=((0, 4), (4, 8), (8, 10000)))
RECIPE = dict(epochs=2, warmup_epochs=1, batch_size=4, learning_rate=1e-3, ema_decay=0.9)  # 3 epochs x 2 steps


def _data(tmp_path: Path):
    spec = importlib.util.spec_from_file_location("dense_data", Path(__file__).with_name("dense_data.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_unav_dataset(tmp_path / "data", train=8, test=0)


class Stop(KeyboardInterrupt):
    """What Ctrl-C raises, from the end-of-epoch hook (after that epoch's state is on disk)."""


def _stop_after(epoch: int):
    def hook(done: int) -> None:
        if done == epoch:
            raise Stop()
    return hook


def _weights(res) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(res.weights))


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    ann, feats = _data(tmp_path)
    common = dict(name="m", head_overrides=SMALL, log=lambda s: None, progress=False, **RECIPE)
    whole = train("unav", ann, feats, tmp_path / "whole", prefetch=2, **common)
    assert len(whole.losses) == 6 and whole.resumed_from_epoch == 0

    out = tmp_path / "cut"
    lines: list[str] = []
    with pytest.raises(Stop):
        train("unav", ann, feats, out, prefetch=0, on_epoch_end=_stop_after(1),
              **{**common, "log": lines.append})
    assert state_path(out, "m").is_file() and not (out / "m.safetensors").exists()
    assert any("resumes from there" in line for line in lines)

    resumed = train("unav", ann, feats, out, prefetch=2, **common)
    assert resumed.resumed_from_epoch == 1 and len(resumed.losses) == 4
    assert resumed.losses == whole.losses[2:]  # the same batches, crops and dropped paths
    a, b = _weights(whole), _weights(resumed)
    assert a.keys() == b.keys()
    for k in a:  # CPU, one thread, same operations: bit-identical
        assert torch.equal(a[k], b[k]), k
    assert not state_path(out, "m").exists()
    assert resumed.card.provenance["steps"] == 6


def test_state_of_other_settings_is_refused_and_restart_ignores_it(tmp_path):
    ann, feats = _data(tmp_path)
    common = dict(name="m", head_overrides=SMALL, log=lambda s: None, progress=False, **RECIPE)
    out = tmp_path / "o"
    with pytest.raises(Stop):
        train("unav", ann, feats, out, on_epoch_end=_stop_after(1), **common)
    with pytest.raises(UsageError, match="other settings"):
        train("unav", ann, feats, out, **{**common, "learning_rate": 2e-3})
    fresh = train("unav", ann, feats, out, resume=False, max_steps=1, **{**common, "learning_rate": 2e-3})
    assert fresh.resumed_from_epoch == 0 and len(fresh.losses) == 1


def test_state_write_is_atomic(tmp_path):
    path = tmp_path / "m.train-state.pt"
    save_state(path, {"epoch": 1, "w": torch.ones(3)})
    with pytest.raises(Exception):
        save_state(path, {"epoch": 2, "bad": lambda: None})  # cannot be pickled: fails mid-write
    assert torch.load(path, weights_only=True)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        save_state(blocker / "sub" / "s.pt", {"epoch": 1})


def test_precision_choices():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(UsageError, match="fp16"):
        resolve_precision("fp16", cpu)
    with pytest.raises(UsageError):
        resolve_precision("fp8", cpu)


def test_bf16_step_on_cpu_runs_the_forward_in_bf16(tmp_path):
    import copy

    from avlocate.datasets.unav import load_annotations
    from avlocate.heads.dense.config import UnavConfig
    from avlocate.heads.dense.unav import UnavHead

    ann, feats = _data(tmp_path)
    items = load_training_items(load_annotations(ann), feats, "train", "i3d_vggish", cache="disk")
    torch.manual_seed(0)
    head = UnavHead(UnavConfig(input_dim_visual=8, input_dim_audio=8, num_classes=3,
                               **{**SMALL, "drop_path": 0.0}))
    twin = copy.deepcopy(head)
    batch = prepare_batch([it.load() for it in items[:4]], head.cfg)
    seen = []
    conv = head.cls_head.out
    handle = conv.register_forward_pre_hook(lambda m, i: seen.append(torch.get_autocast_dtype("cpu")
                                                                     if torch.is_autocast_enabled("cpu") else None))
    low = DenseTrainer(head, recipe("unav", **RECIPE), steps_per_epoch=2, precision="bf16").step(batch)
    handle.remove()
    full = DenseTrainer(twin, recipe("unav", **RECIPE), steps_per_epoch=2, precision="fp32").step(batch)
    assert seen and set(seen) == {torch.bfloat16}
    for key in ("cls_loss", "reg_loss", "final_loss"):  # the losses themselves are float32
        assert low[key] == pytest.approx(full[key], rel=0.05)


def test_prefetch_loader_gives_the_batches_of_the_plain_loop_and_passes_errors(tmp_path):
    from avlocate.datasets.unav import load_annotations
    from avlocate.heads.dense.config import UnavConfig

    ann, feats = _data(tmp_path)
    items = load_training_items(load_annotations(ann), feats, "train", "i3d_vggish", cache="memory")
    cfg = UnavConfig(input_dim_visual=8, input_dim_audio=8, num_classes=3, **SMALL)

    def batches(depth: int) -> list:
        groups, crop = epoch_batches(items, 3, seed=5, epoch=2, max_len=32, crop_ratio=(0.9, 1.0), trunc_thresh=0.5)
        # 8 videos in batches of 3: two full batches, the remainder is left out (official drop_last)
        assert [len(g) for g in groups] == [3, 3] and len(set(groups[0] + groups[1])) == 6
        loader = PrefetchLoader(groups, lambda g: prepare_batch(crop(g), cfg), "cpu", depth)
        out = list(loader)
        assert loader.batches == len(groups) and loader.wait_s >= 0
        return out

    plain, ahead = batches(0), batches(2)
    for p, a in zip(plain, ahead):
        assert torch.equal(p.visual, a.visual) and torch.equal(p.mask, a.mask)
        assert torch.equal(p.cls_targets, a.cls_targets) and torch.equal(p.reg_targets, a.reg_targets)

    def broken(group):
        raise ValueError("bad feature file")

    with pytest.raises(ValueError, match="bad feature file"):
        list(PrefetchLoader([[0], [1]], broken, "cpu", 2))


def test_progress_bar_shows_epoch_loss_and_eta(tmp_path, capsys):
    ann, feats = _data(tmp_path)
    train("unav", ann, feats, tmp_path / "p", name="m", head_overrides=SMALL, log=lambda s: None, progress=True,
          **{**RECIPE, "epochs": 1})
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "loss" in err and "ETA" in err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_with_reduced_precision_and_pinned_prefetch(tmp_path):
    ann, feats = _data(tmp_path)
    res = train("unav", ann, feats, tmp_path / "g", name="m", head_overrides=SMALL, log=lambda s: None,
                progress=False, device="cuda", precision="auto", prefetch=2, **RECIPE)
    assert next(res.head.parameters()).device.type == "cuda"
    assert res.card.provenance["precision"] == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")
    assert len(res.losses) == 6 and all(torch.isfinite(torch.tensor(l["final_loss"])) for l in res.losses)
    assert res.data_wait_share is not None and 0 <= res.data_wait_share <= 1
