"""Every decoder kind runs end to end from a saved card + safetensors (random-weight heads).

The heads are the real architectures at small sizes, seeded, saved and reloaded the way real
weights are; events are random but must be well-formed and lie inside the video.
"""
import pytest
import torch

import avlocate
from avlocate.features.base import Features
from avlocate.pipeline.models import LoadedModel, load_model
from avlocate.registry import HEADS
from avlocate.timeline import Timeline
from avlocate.weights.card import ModelCard
from avlocate.weights.store import save_weights

CLASSES = ["bell", "siren", "engine", "drum"]


def _small_dense_config(name):
    cfg_cls = HEADS.get(name).config_class
    return cfg_cls(input_dim_visual=56, input_dim_audio=81, num_classes=4, max_seq_len=64, embed_dim=32,
                   num_heads=2, head_dim=32, fps=8.0, window=4, stride=2)


@pytest.mark.parametrize("name", ["unav", "ccnet", "esgnet"])
def test_dense_heads_on_lite_features(tmp_path, repo_root, monkeypatch, name):
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    cfg = _small_dense_config(name)
    torch.manual_seed(0)
    head = HEADS.get(name)(cfg)
    card = ModelCard(name=f"tiny-{name}", head=name, extractor="lite", classes=CLASSES,
                     weights_file=f"tiny-{name}.safetensors", head_config=cfg.to_dict(),
                     decode={"kind": "dense", "max_seg_num": 20})
    save_weights(head.state_dict(), card, tmp_path)
    loaded = load_model(str(tmp_path / f"tiny-{name}.json"), "cpu")
    for k, v in head.state_dict().items():
        assert torch.equal(loaded.head.state_dict()[k], v), k
    result = avlocate.locate(str(repo_root / "samples" / "demo1.mp4"), model=str(tmp_path / f"tiny-{name}.json"),
                             keep_scores=True)
    assert result.model == f"tiny-{name}" and result.extractor == "lite"
    assert 0 < len(result.events) <= 20
    for ev in result.events:
        assert ev.label in CLASSES
        assert 0.0 <= ev.start <= ev.end <= result.duration + 1e-6
        assert 0.0 <= ev.score <= 1.0
    assert [e.start for e in result.events] == sorted(e.start for e in result.events)
    # per-snippet class scores (max over pyramid levels) for --scores / the report's curves;
    # demo1 gives 71 lite snippets > max_seq_len 64, so ccnet/esgnet stitch windows
    scores = result.extra["scores"]
    assert scores["classes"] == CLASSES and len(scores["times"]) == len(scores["values"]) == 71
    assert all(len(row) == 4 and all(0.0 <= v <= 1.0 for v in row) for row in scores["values"])


def test_segment_decoder_with_vscg():
    from avlocate.heads.segment.vscg import VSCG

    torch.manual_seed(0)
    head = VSCG().eval()
    ave_classes = [f"class{i}" for i in range(28)]
    card = ModelCard(name="tiny-vscg", head="vscg", extractor="test", classes=ave_classes,
                     weights_file="none", decode={"kind": "segments"})
    t = 23  # seconds: windows of 10 with overlap, and a short tail
    feats = Features(visual=torch.relu(torch.randn(t, 7 * 7 * 512)), audio=torch.randn(t, 128),
                     timeline=Timeline(1, 1, 1, duration=float(t)), extractor="test", visual_shape=(7, 7, 512))
    model = LoadedModel(card, head, extractor=None, weights_id="none", device=torch.device("cpu"))
    events, extra = model.predict(feats)
    assert extra["scores"].shape == (t, 28)
    covered = 0.0
    for ev in events:
        assert ev.label in ave_classes
        assert 0.0 <= ev.start < ev.end <= t
        assert ev.end - ev.start == pytest.approx(round(ev.end - ev.start))  # whole seconds
        covered += ev.end - ev.start
    assert covered <= t
