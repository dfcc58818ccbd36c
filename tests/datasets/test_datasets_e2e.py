"""The miniature end to end: one command pulls a data set from the local hosts, verifies it,
trains a few steps, evaluates on the test split, installs the model under the head's name, and
`avlocate run` uses it on a sample video."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from avlocate.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mini_data  # noqa: E402

# 3 pyramid levels instead of 6: the command's path (pull, train, evaluate, install, run) is the
# same at any depth, in about half the training time.
TINY = json.dumps({"embed_dim": 32, "num_heads": 2, "head_dim": 32, "max_seq_len": 64, "num_downsample": 2,
                   "regression_ranges": [[0, 4], [4, 8], [8, 10000]]})


def test_datasets_train_esgnet_on_mini_unav100_then_run(tmp_path, home, git_host, drive, capsys, repo_root):
    mini_data.serve(tmp_path / "table.json", git_host, drive, lite=mini_data.mini_unav_lite())
    rc = main(["train", "--head", "esgnet", "--dataset", "unav100", "--format", "lite", "--head-config", TINY,
               "--epochs", "1", "--batch-size", "3", "--max-steps", "2", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    card_path = home / "esgnet.json"
    assert out.strip() == str(card_path)
    # the table: every tIoU and both averages, measured beside the paper's column
    for row in ("tIoU 0.1", "tIoU 0.9", "avg 0.5:0.9", "avg 0.1:0.9", "measured", "paper"):
        assert row in err
    card = json.loads(card_path.read_text())
    prov = card["provenance"]
    assert card["extractor"] == "lite" and card["head"] == "esgnet"
    assert prov["dataset"]["name"] == "unav100" and prov["dataset"]["features"] == "lite"
    assert set(prov["dataset"]["files"]) == {"annotations", "lite-visual", "lite-audio"}
    assert all(len(f["sha256"]) == 64 for f in prov["dataset"]["files"].values())
    assert prov["avlocate"].startswith(("git:", "version:"))
    ev = prov["evaluation"]
    assert ev["split"] == "test" and len(ev["mAP_per_tiou"]) == 9
    assert all(0.0 <= v <= 1.0 for v in ev["mAP_per_tiou"])
    assert (home / "esgnet.safetensors").is_file()
    # the data set is where `datasets path` says, and a second train reuses it (no new Drive bytes)
    assert (home / "datasets" / "unav100" / "features" / "lite").is_dir()
    # `run --model esgnet` finds the installed model by the head's name
    rc = main(["run", str(repo_root / "samples" / "demo1.mp4"), "--model", "esgnet", "--format", "json",
               "--device", "cpu", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    result = json.loads(out)
    assert result["model"] == "esgnet"
    assert all(ev["label"] in mini_data.CLASSES for ev in result["events"])


def test_datasets_train_segment_vscg_on_mini_ave(tmp_path, home, git_host, drive, capsys):
    mini_data.serve(tmp_path / "table.json", git_host, drive, ave=mini_data.mini_ave(tmp_path))
    rc = main(["train-segment", "--head", "vscg", "--dataset", "ave", "--epochs", "1", "--batch-size", "4",
               "--max-steps", "2", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    card_path = home / "vscg.json"
    assert out.strip() == str(card_path)
    assert "accuracy %" in err and "79.70" in err  # the VSCG paper's number beside the measured one
    folder = home / "datasets" / "ave"
    assert sorted(p.name for p in folder.glob("*.h5")) == ["audio_feature.h5", "test_order.h5", "train_order.h5",
                                                           "val_order.h5", "visual_feature.h5"]
    prov = json.loads(card_path.read_text())["provenance"]
    assert prov["evaluation"]["split"] == "test" and 0.0 <= prov["evaluation"]["accuracy"] <= 100.0
    assert prov["dataset"]["files"]["train-order"]["check"].startswith("git-blob-sha1:")
    assert main(["datasets", "verify", "ave"]) == 0


class _Stop(KeyboardInterrupt):
    """What Ctrl-C raises, from the end-of-epoch hook (after that epoch's state is on disk)."""


def test_datasets_train_interrupted_resumes_from_its_last_epoch(tmp_path, home, git_host, drive, capsys):
    """`train --dataset` keeps the training loop's resume: an interrupted run's state is in
    $AVLOCATE_HOME beside the model, and the same command continues after the last epoch."""
    from avlocate.training.checkpoint import state_path
    from avlocate.training.from_dataset import train_dense_on_dataset

    mini_data.serve(tmp_path / "table.json", git_host, drive, lite=mini_data.mini_unav_lite(train=4, test=2))
    head_cfg = json.loads(TINY)

    def stop_after_first(done: int) -> None:
        if done == 1:
            raise _Stop()

    with pytest.raises(_Stop):
        train_dense_on_dataset("unav", "unav100", "lite", head_overrides=head_cfg, log=lambda m: None,
                               epochs=1, batch_size=2, max_steps=3, progress=False, on_epoch_end=stop_after_first)
    assert state_path(home, "unav").is_file() and not (home / "unav.json").exists()
    served = len(drive.served())
    rc = main(["train", "--head", "unav", "--dataset", "unav100", "--format", "lite", "--head-config", TINY,
               "--epochs", "1", "--batch-size", "2", "--max-steps", "3", "--no-progress", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "resuming from" in err and "after epoch 1/6" in err  # epochs + the 5 warm-up epochs
    assert len(drive.served()) == served  # the data set was not fetched again
    assert not state_path(home, "unav").exists() and (home / "unav.json").is_file()
    assert json.loads((home / "unav.json").read_text())["provenance"]["steps"] == 3
