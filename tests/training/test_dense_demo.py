"""The dense demo trainer end to end on a few short synthetic videos (slow: encodes videos)."""
from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_train_dense_demo_writes_a_runnable_model(tmp_path, repo_root):
    import avlocate
    from avlocate.training.dense_demo import train_dense_demo

    path = train_dense_demo(tmp_path / "m", num_videos=2, val_videos=1, epochs=1, duration=6.0,
                            cache_dir=tmp_path / "cache", log=lambda s: None)
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["head"] == "esgnet" and card["extractor"] == "lite" and card["decode"]["kind"] == "dense"
    assert 0.1 <= card["decode"]["threshold"] <= 0.9
    assert (tmp_path / "cache" / "train.pt").is_file()
    result = avlocate.locate(str(repo_root / "samples" / "demo1.mp4"), model=str(path.with_suffix(".json")),
                             device="cpu")
    assert result.duration > 0
