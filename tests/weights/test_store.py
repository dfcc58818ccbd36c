import json

import pytest
import torch

from avlocate.errors import WeightsError
from avlocate.heads.lite import LiteAVHead, LiteHeadConfig
from avlocate.pipeline.models import load_model
from avlocate.weights.card import ModelCard
from avlocate.weights.store import load_card, load_state_dict, save_weights


def _card(name="tiny"):
    cfg = LiteHeadConfig(visual_dim=56, audio_dim=81, num_classes=2, hidden=8)
    return ModelCard(name=name, head="lite-av", extractor="lite", classes=["a", "b"],
                     weights_file=f"{name}.safetensors", head_config=vars(cfg),
                     decode={"kind": "snippet-scores", "threshold": 0.5}), cfg


def test_save_and_reload_roundtrip(tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    card, cfg = _card()
    torch.manual_seed(0)
    head = LiteAVHead(cfg)
    save_weights(head.state_dict(), card, tmp_path)
    loaded = load_model(str(tmp_path / "tiny.json"), "cpu")
    for k, v in head.state_dict().items():
        assert torch.equal(loaded.head.state_dict()[k], v)
    assert loaded.weights_id.startswith("tiny.safetensors@")
    assert json.loads((tmp_path / "tiny.json").read_text())["sha256"] == loaded.card.sha256


def test_corrupt_weights_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    card, cfg = _card("bad")
    save_weights(LiteAVHead(cfg).state_dict(), card, tmp_path)
    w = tmp_path / "bad.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        load_state_dict(load_card(str(tmp_path / "bad.json")))
    card2 = load_card(str(tmp_path / "bad.json"))
    card2.sha256 = None  # no pin: the safetensors header check still applies
    w.write_bytes(b"\xff" * 16)
    with pytest.raises(WeightsError, match="safetensors"):
        load_state_dict(card2)


def test_weights_that_do_not_fit_the_head(tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    card, cfg = _card("misfit")
    other = LiteAVHead(LiteHeadConfig(visual_dim=56, audio_dim=81, num_classes=3, hidden=8))
    save_weights(other.state_dict(), card, tmp_path)
    with pytest.raises(WeightsError, match="do not fit"):
        load_model(str(tmp_path / "misfit.json"), "cpu")


@pytest.mark.parametrize("content,match", [
    ("not json", "not readable JSON"),
    ("[]", "JSON object"),
    ('{"name": "x"}', "lacks"),
    ('{"name": "x", "head": "h", "extractor": "e", "classes": [], "weights_file": "w"}', "non-empty"),
    ('{"name": "x", "head": "h", "extractor": "e", "classes": ["a", "a"], "weights_file": "w"}', "duplicates"),
])
def test_bad_cards(tmp_path, content, match):
    p = tmp_path / "card.json"
    p.write_text(content)
    with pytest.raises(WeightsError, match=match):
        ModelCard.load(p)


def test_card_for_other_features_is_refused(tmp_path, monkeypatch):
    from avlocate.errors import ModelError

    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    card, cfg = _card("otherfeat")
    card.feature_protocol = {"fps": 25.0, "window": 24}
    save_weights(LiteAVHead(cfg).state_dict(), card, tmp_path)
    with pytest.raises(ModelError, match="other features"):
        load_model(str(tmp_path / "otherfeat.json"), "cpu")
