"""Training VSCG (fully and weakly) on a tiny generated AVE-format set, then using the result.

Each variant trains a few steps: the loss falls, weights + card are written, and the card runs
through avlocate.pipeline.models (decode kind "segments") on features of the vgg19-vggish shape.
"""
import json

import numpy as np
import pytest
import torch

pytest.importorskip("h5py")

import avlocate.features.vgg19_vggish  # noqa: E402,F401 - registers the extractor the cards name
from avlocate.datasets.ave import load_ave, make_synthetic_ave  # noqa: E402
from avlocate.features.base import Features  # noqa: E402
from avlocate.timeline import Timeline  # noqa: E402
from avlocate.training.segment import SegmentTrainConfig, evaluate_segment, train_segment  # noqa: E402


@pytest.fixture(scope="module")
def ave_dir(tmp_path_factory):
    return make_synthetic_ave(tmp_path_factory.mktemp("ave") / "data", "vgg19-vggish", num_clips=20, seed=0)


@pytest.mark.parametrize("variant", ["vscg", "vscg-weakly"])
def test_train_then_run_through_the_model_loader(variant, ave_dir, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    cfg = SegmentTrainConfig(epochs=8, batch_size=12, lr=3e-4)
    result = train_segment(ave_dir, variant, tmp_path, name=f"tiny-{variant}", config=cfg)
    first, last = np.mean(result.step_losses[:3]), np.mean(result.step_losses[-3:])
    assert last < first, result.step_losses

    card = json.loads(result.card_path.read_text())
    assert card["head"] == variant and card["extractor"] == "vgg19-vggish"
    data = load_ave(ave_dir)
    # the data's event classes in output order; background (the last output) is not a card class
    assert card["classes"] == data.classes[:-1] and sorted(card["classes"]) == ["event 0", "event 1", "event 2"]
    assert card["decode"]["kind"] == "segments"
    assert card["feature_protocol"]["extractor"] == "vgg19-vggish" and card["feature_protocol"]["fps"] == 1.0
    assert card["sha256"] and result.weights_path.is_file()
    assert 0.0 <= card["provenance"]["val_accuracy"] <= 100.0

    from avlocate.pipeline.models import load_model

    model = load_model(str(result.card_path), "cpu")
    t = 13  # longer than one 10-segment window: exercises the sliding windows
    g = torch.Generator().manual_seed(0)
    feats = Features(torch.rand(t, 7 * 7 * 512, generator=g), torch.rand(t, 128, generator=g),
                     Timeline(1.0, 1, 1, float(t)), "vgg19-vggish", visual_shape=(7, 7, 512))
    events, extra = model.predict(feats)
    assert extra["scores"].shape == (t, 3)
    for ev in events:
        assert ev.label in card["classes"]
        assert 0 <= ev.start < ev.end <= t and ev.start == int(ev.start) and ev.end == int(ev.end)

    # Test accuracy is a percentage of correctly labelled segments (both settings).
    acc = evaluate_segment(str(result.card_path), ave_dir, "test")
    audio, visual, labels = data.split("test").load()
    probs = model.head.segment_probs(audio, visual)
    direct = (model.head.labels_from_probs(probs) == labels.argmax(-1)).float().mean().item() * 100
    assert acc == pytest.approx(direct, abs=1e-4)
