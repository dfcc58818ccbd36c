"""A tiny generated UnAV-100-format data set (annotations JSON + per-video .npy features)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CLASSES = ["dog_barking", "car_horn", "guitar"]


def make_unav_dataset(root: Path, fmt: str = "i3d_vggish", train: int = 8, test: int = 4, seed: int = 0,
                      lengths: tuple[int, int] = (24, 32), dim: int = 8) -> tuple[Path, Path]:
    """Events raise feature channel ``label`` of both streams (learnable); returns (json, feature dir)."""
    rng = np.random.default_rng(seed)
    feats = root / "features"
    feats.mkdir(parents=True, exist_ok=True)
    fps, window, stride = (25.0, 24, 8) if fmt == "i3d_vggish" else (16.0, 16, 4)
    database = {}
    for i in range(train + test):
        vid = f"vid{i:03d}"
        t = int(rng.integers(lengths[0], lengths[1] + 1))
        visual = rng.normal(0, 0.3, (t, dim)).astype(np.float32)
        audio = rng.normal(0, 0.3, (t, dim)).astype(np.float32)
        anns = []
        for _ in range(int(rng.integers(1, 3))):
            k = int(rng.integers(0, len(CLASSES)))
            s = int(rng.integers(0, t - 6))
            e = int(min(t - 1, s + rng.integers(4, 12)))
            visual[s:e + 1, k] += 2.0
            audio[s:e + 1, k] += 2.0
            secs = [(x * stride + 0.5 * window) / fps for x in (s, e)]
            anns.append({"label": CLASSES[k], "label_id": k, "segment": [round(secs[0], 4), round(secs[1], 4)]})
        if fmt == "i3d_vggish":
            np.save(feats / f"{vid}_rgb.npy", visual[:, : dim // 2])
            np.save(feats / f"{vid}_flow.npy", visual[:, dim // 2:])
            np.save(feats / f"{vid}_vggish.npy", audio[: t - 1])  # streams differ by one step, as real data
        else:
            np.save(feats / f"{vid}_one_peace_video_finetune.npy", visual)
            np.save(feats / f"{vid}_one_peace_audio.npy", audio)
        database[vid] = {"subset": "train" if i < train else "test", "duration": round((t * stride + window) / fps, 3),
                         "annotations": anns}
    path = root / "annotations.json"
    path.write_text(json.dumps({"database": database}))
    return path, feats
