"""The committed demo videos in samples/ are what the documented command produces."""
from __future__ import annotations

import json
from pathlib import Path

import av

from avlocate.synth import sample_seed, scene_from_seed

COUNT, FIRST_SEED = 3, 1  # samples/README.md: make_samples('samples', seed=1, count=3)


def test_committed_samples_match_their_seeds(repo_root: Path) -> None:
    samples = repo_root / "samples"
    total = 0
    for i in range(COUNT):
        video = samples / f"demo{i + 1}.mp4"
        gt = json.loads(video.with_suffix(".json").read_text(encoding="utf-8"))
        scene = scene_from_seed(sample_seed(FIRST_SEED, i), overlap=(i == 0), aspect=320 / 240)
        assert gt == scene.ground_truth(video.name)
        with av.open(str(video)) as c:
            v = c.streams.video[0]
            assert (v.width, v.height) == (320, 240)
            assert c.streams.audio[0].sample_rate == 16000
            assert abs(c.duration / 1e6 - gt["duration"]) < 0.1
        total += video.stat().st_size + video.with_suffix(".json").stat().st_size
    assert total < 3 * 1024 * 1024
    first = json.loads((samples / "demo1.json").read_text(encoding="utf-8"))["events"]
    assert any(a["label"] != b["label"] and min(a["end"], b["end"]) - max(a["start"], b["start"]) >= 1.5
               for i, a in enumerate(first) for b in first[i + 1:])
