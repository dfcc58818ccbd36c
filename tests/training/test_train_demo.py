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


def test_training_is_reproducible(tmp_path):
    a = train_lite_demo(tmp_path / "a", seed=3, num_videos=2, epochs=5, log=lambda m: None, duration=6.0)
    b = train_lite_demo(tmp_path / "b", seed=3, num_videos=2, epochs=5, log=lambda m: None, duration=6.0)
    wa, wb = load_file(str(a)), load_file(str(b))
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    card = json.loads((tmp_path / "a" / "lite-demo.json").read_text())
    assert card["sha256"] and "synthetic" in card["description"]
    assert card["classes"] == ["bell", "siren", "engine", "drum"]
