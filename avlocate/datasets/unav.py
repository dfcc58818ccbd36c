"""UnAV-100-format data: annotations JSON + per-video feature files.

Annotations: ``{"database": {id: {"subset", "duration", "annotations": [{"label", "label_id",
"segment": [s, e]}]}}}``. Features (T x C ``.npy``), one of two layouts:

- ``i3d_vggish``: ``<id>_rgb.npy`` + ``<id>_flow.npy`` (T x 1024 each, concatenated to the visual
  stream) and ``<id>_vggish.npy`` (T x 128); 25 fps, window 24, stride 8.
- ``onepeace``: ``<id>_one_peace_video_finetune.npy`` + ``<id>_one_peace_audio.npy`` (T x 1536);
  16 fps, window 16, stride 4.

As the official loaders: both streams are cut to the shorter length, segments in seconds become
fractional feature steps through the Timeline (``(t * fps - window / 2) / stride``), and training
crops (:func:`random_crop`) follow the official ``truncate_feats`` (crop ratio 0.9-1.0, then a
window of at most max_seq_len, keeping events with at least half of their length inside).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import AvlocateError
from ..timeline import Timeline

FEATURE_FORMATS: dict[str, dict[str, Any]] = {
    "i3d_vggish": {"visual": ("_rgb.npy", "_flow.npy"), "audio": ("_vggish.npy",), "dims": (2048, 128),
                   "timeline": Timeline(25.0, 24, 8), "extractor": "i3d-vggish"},
    # No ONE-PEACE extractor exists in avlocate (the model is not redistributable offline): the
    # card names "one-peace" so that `run` says so instead of feeding it other features.
    "onepeace": {"visual": ("_one_peace_video_finetune.npy",), "audio": ("_one_peace_audio.npy",),
                 "dims": (1536, 1536), "timeline": Timeline(16.0, 16, 4), "extractor": "one-peace"},
    # Features of avlocate's own `lite` extractor as `avlocate extract -e lite --layout generic`
    # writes them: a small, download-free format (miniature data sets, smoke runs) whose models
    # `run` can use on any video.
    "lite": {"visual": ("_visual.npy",), "audio": ("_audio.npy",), "dims": (56, 81),
             "timeline": Timeline(8.0, 4, 2), "extractor": "lite"},
}


class DatasetError(AvlocateError):
    """A dataset file is missing or malformed."""


@dataclass
class UnavVideo:
    video_id: str
    subset: str
    duration: float
    segments: np.ndarray  # (N, 2) seconds
    labels: np.ndarray  # (N,) label ids


def load_annotations(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return data["database"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not a UnAV-100 annotations file ({type(exc).__name__}: {exc})") from None


def class_names(database: dict[str, Any]) -> list[str]:
    """Names indexed by label id (over every subset); ids without a name become ``class_<id>``."""
    names: dict[int, str] = {}
    for item in database.values():
        for ann in item.get("annotations", []):
            names.setdefault(int(ann["label_id"]), str(ann.get("label", f"class_{ann['label_id']}")))
    if not names:
        raise DatasetError("the annotations hold no events")
    return [names.get(i, f"class_{i}") for i in range(max(names) + 1)]


def videos(database: dict[str, Any], subset: str) -> list[UnavVideo]:
    out = []
    for vid, item in sorted(database.items()):
        if item.get("subset") != subset:
            continue
        anns = item.get("annotations", [])
        segs = np.array([[float(a["segment"][0]), float(a["segment"][1])] for a in anns], dtype=np.float64).reshape(-1, 2)
        labs = np.array([int(a["label_id"]) for a in anns], dtype=np.int64)
        out.append(UnavVideo(vid, subset, float(item["duration"]), segs, labs))
    return out


def load_features(feat_dir: Path, video_id: str, fmt: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(visual (T, Cv), audio (T, Ca)) float32, both cut to the shorter stream."""
    spec = FEATURE_FORMATS[fmt]

    def read(suffix: str) -> np.ndarray:
        path = Path(feat_dir) / f"{video_id}{suffix}"
        if not path.is_file():
            raise DatasetError(f"feature file {path} is missing")
        return np.load(path, allow_pickle=False).astype(np.float32)

    vis = [read(s) for s in spec["visual"]]
    t_vis = min(v.shape[0] for v in vis)
    visual = np.concatenate([v[:t_vis] for v in vis], axis=1)
    audio = read(spec["audio"][0])
    t = min(visual.shape[0], audio.shape[0])
    return torch.from_numpy(visual[:t]), torch.from_numpy(audio[:t])


@dataclass
class Item:
    video_id: str
    visual: torch.Tensor  # (T, Cv)
    audio: torch.Tensor  # (T, Ca)
    segments: torch.Tensor  # (N, 2) fractional feature steps
    labels: torch.Tensor  # (N,)
    duration: float


def load_items(database: dict[str, Any], feat_dir: Path, subset: str, fmt: str) -> list[Item]:
    """Every video of ``subset`` with its features and its events in feature steps."""
    tl: Timeline = FEATURE_FORMATS[fmt]["timeline"]
    items = []
    for v in videos(database, subset):
        visual, audio = load_features(feat_dir, v.video_id, fmt)
        segs = tl.to_index(torch.from_numpy(v.segments)).to(torch.float32).reshape(-1, 2)
        items.append(Item(v.video_id, visual, audio, segs, torch.from_numpy(v.labels), v.duration))
    return items


def random_crop(item: Item, max_len: int, rng: random.Random, crop_ratio: tuple[float, float] | None = (0.9, 1.0),
                trunc_thresh: float = 0.5) -> Item:
    """Training crop of the official loader (``truncate_feats``)."""
    n = item.visual.shape[0]
    length = max_len
    if n <= max_len:
        if crop_ratio is None:
            return item
        length = rng.randint(max(round(crop_ratio[0] * n), 1), min(round(crop_ratio[1] * n), n))
        if length == n:
            return item
    for _ in range(200):  # the official code also retries (200 times) until an event survives
        start = rng.randint(0, n - length)
        end = start + length
        segs = item.segments.clone()
        inter = (segs[:, 1].clamp(max=end) - segs[:, 0].clamp(min=start)).clamp(min=0)
        area = (segs[:, 1] - segs[:, 0]).clamp(min=1e-6)
        keep = inter / area >= trunc_thresh  # official: kept at exactly half inside too
        if keep.any() or segs.numel() == 0:
            break
    segs = torch.stack([segs[:, 0].clamp(min=start), segs[:, 1].clamp(max=end)], 1)[keep] - start
    return Item(item.video_id, item.visual[start:end], item.audio[start:end], segs, item.labels[keep],
                item.duration)
