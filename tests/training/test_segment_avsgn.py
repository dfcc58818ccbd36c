"""Training AVSGN (fully and weakly) on a tiny generated AVE-format set (CLIP/CLAP layout).

Each variant trains a few steps: the loss falls, weights + card are written, and the card runs
through avlocate.pipeline.models (decode kind "segments") once the label-text embeddings of its classes
are attached (they come from the text encoders, not from the weights file).
"""
import json

import numpy as np
import pytest
import torch

pytest.importorskip("h5py")

from avlocate.datasets.ave import load_ave, make_synthetic_ave  # noqa: E402
from avlocate.features.base import Features  # noqa: E402
from avlocate.timeline import Timeline  # noqa: E402
from avlocate.training.segment import SegmentTrainConfig, attach_label_text, evaluate_segment, train_segment  # noqa: E402


@pytest.fixture(scope="module")
def ave_dir(tmp_path_factory):
    return make_synthetic_ave(tmp_path_factory.mktemp("ave") / "data", "clip-clap", num_clips=20, seed=1)


@pytest.mark.parametrize("variant", ["avsgn", "avsgn-weakly"])
def test_train_then_run_through_the_model_loader(variant, ave_dir, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    result = train_segment(ave_dir, variant, tmp_path, name=f"tiny-{variant}",
                           config=SegmentTrainConfig(epochs=8, batch_size=12))
    first, last = np.mean(result.step_losses[:3]), np.mean(result.step_losses[-3:])
    assert last < first, result.step_losses

    card = json.loads(result.card_path.read_text())
    data = load_ave(ave_dir, "clip-clap")
    assert card["head"] == variant and card["extractor"] == "clip-clap"
    assert card["classes"] == data.classes[:-1]
    assert card["decode"]["kind"] == "segments" and card["head_config"]["num_classes"] == 4
    assert card["feature_protocol"]["extractor"] == "clip-clap"

    from avlocate.pipeline.models import load_model

    model = load_model(str(result.card_path), "cpu")
    attach_label_text(model.head, load_ave(ave_dir, "clip-clap", events=card["classes"]))
    t = 7  # shorter than one window: padded, masked
    g = torch.Generator().manual_seed(0)
    feats = Features(torch.randn(t, 512, generator=g), torch.randn(t, 512, generator=g),
                     Timeline(1.0, 1, 1, float(t)), "clip-clap")
    events, extra = model.predict(feats)
    assert extra["scores"].shape == (t, 3)
    for ev in events:
        assert ev.label in card["classes"] and 0 <= ev.start < ev.end <= t

    acc = evaluate_segment(str(result.card_path), ave_dir, "test")
    audio, visual, labels = data.split("test").load()
    pred = model.head.labels_from_probs(model.head.segment_probs(audio, visual))
    assert acc == pytest.approx((pred == labels.argmax(-1)).float().mean().item() * 100, abs=1e-4)


def test_label_text_rows_follow_the_card_order(ave_dir):
    data = load_ave(ave_dir, "clip-clap")
    events = data.classes[:-1]
    flipped = load_ave(ave_dir, "clip-clap", events=events[::-1])
    torch.testing.assert_close(flipped.text_clip, data.text_clip.flip(0))
    assert flipped.labels.argmax(-1).tolist() != data.labels.argmax(-1).tolist() or len(events) == 1


def test_preloaded_and_lazy_training_give_the_same_weights(ave_dir, tmp_path):
    from safetensors.torch import load_file

    torch.set_num_threads(1)
    runs = []
    for preload in (False, True):
        cfg = SegmentTrainConfig(epochs=2, batch_size=5, seed=7, preload=preload)
        r = train_segment(ave_dir, "avsgn-weakly", tmp_path / str(preload), name="m", config=cfg)
        runs.append((r, load_file(str(r.weights_path))))
    (ra, wa), (rb, wb) = runs
    assert ra.step_losses == rb.step_losses and len(ra.step_losses) == 2 * 3  # 12 train clips, batches of 5
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
