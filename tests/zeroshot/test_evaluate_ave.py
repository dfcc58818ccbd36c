"""``avlocate evaluate-segment -m zeroshot``: AVE segment accuracy on a tiny AVE folder (the
official layout: Annotations.txt, testSet.txt, AVE/<VideoID>.mp4), with AV²A and stand-in encoders."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch

from avlocate.datasets.unav import DatasetError
from avlocate.features.clip_clap.extractor import ClipClapExtractor
from avlocate.results import Event
from avlocate.zeroshot.evaluate_ave import apply_ave_rules, dataset_root, evaluate_zeroshot_ave, segment_predictions
from avlocate.zeroshot.methods import extractor_config
from avlocate.zeroshot.vocab import builtin_vocab

sys.path.insert(0, str(Path(__file__).resolve().parent))
from door import zeroshot_model  # noqa: E402
from test_live_zeroshot import DEMO, BandClap, ColourClip  # noqa: E402

torch.set_num_threads(1)
HEADER = "Category&VideoID&Quality&StartTime&EndTime\n"


def test_segments_take_the_best_event_covering_their_midpoint():
    classes = ["Church bell", "Bark", "Cat"]
    events = [Event("Bark", 0.0, 3.0, 0.6), Event("Cat", 2.0, 5.4, 0.9), Event("Church bell", 8.2, 9.0, 0.9)]
    # midpoints 0.5..9.5: Bark for 0, 1; Cat for 2 (0.9 > 0.6), 3, 4; 5.5 and later: none (8.5 is in the bell)
    assert segment_predictions(events, classes).tolist() == [1, 1, 2, 2, 2, 3, 3, 3, 0, 3]


@pytest.fixture()
def ave_folder(tmp_path):
    """demo1 (bells at 6.6-9.9 and 12.8-15.7 s) twice, annotated once right and once wrong, one
    test clip without its video, and one training clip that must not be evaluated."""
    root = tmp_path / "ave"
    (root / "AVE").mkdir(parents=True)
    shutil.copy(DEMO, root / "AVE" / "right.mp4")
    shutil.copy(DEMO, root / "AVE" / "wrong.mp4")
    shutil.copy(DEMO, root / "AVE" / "train.mp4")
    rows = ["Church bell&right&good&7&10", "Bark&wrong&good&0&4", "Cat&absent&good&2&5", "Church bell&train&good&0&10"]
    (root / "Annotations.txt").write_text(HEADER + "\n".join(rows) + "\n")
    (root / "testSet.txt").write_text(HEADER + "\n".join(rows[:3]) + "\n")
    return root


def test_accuracy_on_a_tiny_ave_folder_with_av2a_and_stand_in_encoders(ave_folder):
    ex = ClipClapExtractor(extractor_config("av2a", device="cpu"), clip_encoder=ColourClip(), clap_encoder=BandClap())
    # The stand-ins know four concepts (bell, siren, engine, drum: "Church bell" holds "bell");
    # every other name is their one background concept. With all 28 AVE names, 27 identical
    # background rows would outvote the bell in AV²A's clip-level class filter, so the stand-in
    # model gets 8 labels (as test_av2a.py); names outside AVE's 28 count as background.
    labels = ["Church bell", "drum", "siren", "engine", "Bark", "Cat", "Goat", "Flute"]
    assert set(labels) - set(builtin_vocab("ave")) == {"drum", "siren", "engine"}
    model = zeroshot_model(labels, ex, zs_method="av2a")  # the one door, as evaluate-segment loads it
    apply_ave_rules(model.head)
    assert model.head.config.top_label
    events = model.locate(ave_folder / "AVE" / "right.mp4").events
    assert [(e.label, e.start, e.end) for e in events if e.start < 10] == [("Church bell", 7.0, 10.0)]
    score = evaluate_zeroshot_ave(ave_folder, "test", model=model)
    # right: 10/10. wrong (Bark 0-4): segments 0-3 wrong (background predicted), 4-6 right,
    # 7-9 wrong (bell predicted, background annotated): 3/10. absent: skipped.
    assert score.clips == 2 and score.accuracy == pytest.approx(100 * 13 / 20)
    assert score.skipped == ["absent: no video file"]
    line = score.line("test")
    assert line.startswith("test segment accuracy: 65.00 % (2 clips, zero-shot av2a)")
    assert "1 clip(s) skipped" in line and "published: 68.5 %" in line and "2503.13693" in line


def test_dataset_ave_is_a_folder_of_avlocate_home(tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path))
    assert dataset_root(None, "ave") == tmp_path / "datasets" / "ave"
    assert dataset_root(tmp_path / "x", None) == tmp_path / "x"
    with pytest.raises(DatasetError, match="no Annotations.txt"):
        evaluate_zeroshot_ave(dataset_root(None, "ave"))


def test_cli_reports_a_missing_folder_in_one_line_before_any_weight(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path))
    monkeypatch.setenv("AVLOCATE_OFFLINE", "1")
    r = cli("evaluate-segment", "-m", "zeroshot", "--dataset", "ave")
    assert r.code != 0 and r.err.count("\n") == 1 and str(tmp_path / "datasets" / "ave") in r.err, r.err
    r = cli("evaluate-segment", "-m", "zeroshot")
    assert r.code == 2 and "--dataset ave" in r.err
    r = cli("evaluate-segment", "-m", "vscg", "--dataset", "ave")
    assert r.code == 2 and "-m zeroshot" in r.err
