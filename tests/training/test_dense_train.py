"""`train` a few steps of each dense head on a tiny UnAV-format set, then `evaluate` the checkpoint."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from avlocate.datasets.unav import load_annotations, load_features, load_items
from avlocate.metrics.evaluate_dense import evaluate, load_dense_model
from avlocate.training.dense import recipe, train

# A few steps of training and an evaluation: 3 pyramid levels instead of the paper's 6 (the loop,
# the losses and the card are the same at any depth; the full nets are held to the official code
# in test_training_parity.py), about half the time of the full depth.
SMALL = dict(max_seq_len=32, embed_dim=32, num_heads=2, head_dim=32, drop_path=0.0, num_downsample=2,
             regression_ranges=((0, 4), (4, 8), (8, 10000)))
EXTRA = {"unav": {}, "ccnet": {}, "esgnet": {"guidance_hidden": 32, "mode_heads": 1}}


def _data(tmp_path: Path, fmt: str = "i3d_vggish"):
    import importlib.util

    spec = importlib.util.spec_from_file_location("dense_data", Path(__file__).with_name("dense_data.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_unav_dataset(tmp_path, fmt)


def test_loader_trims_streams_and_converts_segments(tmp_path):
    ann, feats = _data(tmp_path)
    db = load_annotations(ann)
    visual, audio = load_features(feats, "vid000", "i3d_vggish")
    assert visual.shape[0] == audio.shape[0] == np.load(feats / "vid000_vggish.npy").shape[0]
    assert visual.shape[1] == 8  # rgb + flow concatenated
    item = [it for it in load_items(db, feats, "train", "i3d_vggish") if it.video_id == "vid000"][0]
    secs = torch.tensor([a["segment"] for a in db["vid000"]["annotations"]], dtype=torch.float64)
    # official conversion: (t * fps - window / 2) / stride, I3D+VGGish timing
    torch.testing.assert_close(item.segments, ((secs * 25.0 - 12.0) / 8.0).float(), atol=1e-3, rtol=0)


@pytest.mark.parametrize("head", ["unav", "ccnet", "esgnet"])
def test_train_then_evaluate(tmp_path, head, capsys):
    torch.manual_seed(0)
    ann, feats = _data(tmp_path)
    out = tmp_path / "ckpt"
    lr = 1e-3 if head != "esgnet" else 3e-3
    res = train(head, ann, feats, out, name=f"tiny-{head}", head_overrides={**SMALL, **EXTRA[head]},
                measure_loss=True, epochs=6, warmup_epochs=1, batch_size=4, learning_rate=lr, ema_decay=0.5,
                log=lambda s: None)
    assert len(res.losses) == 14  # (6 epochs + 1 warm-up epoch, as the official loop) x 2 batches
    assert not (out / f"tiny-{head}.train-state.pt").exists()  # removed once the model is written
    assert res.loss_after < 0.9 * res.loss_before, (res.loss_before, res.loss_after)
    if head == "esgnet":
        assert "mcls_loss" in res.losses[0]
    card = json.loads((out / f"tiny-{head}.json").read_text())
    assert card["decode"]["kind"] == "dense" and card["head"] == head
    assert card["classes"] == ["dog_barking", "car_horn", "guitar"]
    assert res.weights.is_file() and len(card["sha256"]) == 64
    assert card["provenance"]["train_config"]["reg_loss"] == recipe(head).reg_loss

    # The card loads the way avlocate.pipeline.models.load_model does (registry + config + strict safetensors).
    model, _ = load_dense_model(str(out / f"tiny-{head}.json"))
    ema_state = res.model.state_dict()
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, ema_state[k])

    capsys.readouterr()
    ev = evaluate(str(out / f"tiny-{head}.json"), ann, feats, subset="test")
    printed = capsys.readouterr().out
    assert "mAP" in printed and "Avg." in printed
    assert len(ev.result.map_per_tiou) == 9
    assert ((ev.result.map_per_tiou >= 0) & (ev.result.map_per_tiou <= 1)).all()
    assert set(ev.predictions.videos) <= {f"vid{i:03d}" for i in range(8, 12)}


def test_recipes_follow_the_papers():
    assert recipe("unav").learning_rate == 1e-4 and recipe("unav").batch_size == 16 and recipe("unav").epochs == 40
    esg = recipe("esgnet")
    assert (esg.learning_rate, esg.batch_size, esg.reg_loss, esg.guidance) == (1e-3, 9, "giou", True)
