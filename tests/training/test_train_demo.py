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


def test_same_seed_same_weights_end_to_end_and_the_command_writes_a_card(tmp_path):
    """Videos generated, encoded (lossless video), decoded, features, training: two runs with the
    same seed write byte-identical weights; another seed gives other weights. One 6-s video per
    run (the shortest the generator makes): determinism does not depend on how many there are."""
    import tempfile
    from pathlib import Path

    from avlocate.training.lite import build_dataset, fit_lite_head

    runs = [train_lite_demo(tmp_path / name, seed=3, num_videos=1, epochs=5, log=lambda m: None, duration=6.0)
            for name in ("a", "b")]
    assert runs[0].read_bytes() == runs[1].read_bytes()

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        items, extractor = build_dataset(1, Path(d), lambda m: None, duration=6.0)
    same, _ = fit_lite_head(items, extractor, seed=3, epochs=5, log=lambda m: None)
    other, _ = fit_lite_head(items, extractor, seed=4, epochs=5, log=lambda m: None)
    saved = load_file(str(runs[0]))
    assert set(saved) == set(same.state_dict())
    assert all(torch.equal(v, saved[k]) for k, v in same.state_dict().items())  # the command = this fit
    assert any(not torch.equal(v, other.state_dict()[k]) for k, v in same.state_dict().items())  # seed matters
    card = json.loads((tmp_path / "a" / "lite-demo.json").read_text())
    assert card["sha256"] and "synthetic" in card["description"]
    assert card["classes"] == ["bell", "siren", "engine", "drum"]
