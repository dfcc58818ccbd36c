"""The demo model's training command runs and is reproducible (same seed -> same weights)."""
import json

import torch
from safetensors.torch import load_file

from avlocate.training.lite import targets_from_ground_truth, train_lite_demo


def test_targets_follow_the_av_definition():
    gt = {"events": [{"label": "b", "start": 1.0, "end": 2.0}],
          "distractors": [{"label": "a", "modality": "audio", "start": 0.0, "end": 1.0},
                          {"label": "b", "modality": "visual", "start": 3.0, "end": 4.0}]}
    centres = torch.tensor([0.5, 1.5, 3.5])
    t = targets_from_ground_truth(gt, ["a", "b"], centres)
    assert t["target_av"].tolist() == [[0, 0], [0, 1], [0, 0]]
    assert t["target_audio"].tolist() == [[1, 0], [0, 1], [0, 0]]
    assert t["target_visual"].tolist() == [[0, 0], [0, 1], [0, 1]]


def test_training_step_is_deterministic_and_the_command_writes_a_card(tmp_path):
    """Same features + same seed -> bit-identical weights. (Bit-identical *videos* end to end is
    a known open gap: see avlocate/training/lite.py.)"""
    import tempfile
    from pathlib import Path

    from avlocate.training.lite import build_dataset, fit_lite_head

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        items, extractor = build_dataset(2, Path(d), lambda m: None, duration=6.0)
    a, _ = fit_lite_head(items, extractor, seed=3, epochs=5, log=lambda m: None)
    b, _ = fit_lite_head(items, extractor, seed=3, epochs=5, log=lambda m: None)
    c, _ = fit_lite_head(items, extractor, seed=4, epochs=5, log=lambda m: None)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert any(not torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())  # the seed matters

    path = train_lite_demo(tmp_path / "a", seed=3, num_videos=2, epochs=5, log=lambda m: None, duration=6.0)
    assert set(load_file(str(path))) == set(a.state_dict())
    card = json.loads((tmp_path / "a" / "lite-demo.json").read_text())
    assert card["sha256"] and "synthetic" in card["description"]
    assert card["classes"] == ["bell", "siren", "engine", "drum"]
