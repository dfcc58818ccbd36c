"""``avlocate evaluate-segment -m zeroshot --dataset ave``: AVE segment accuracy of the zero-shot model.

The official AVE protocol (Tian et al., ECCV 2018): every 10-s test clip is cut into ten 1-s
segments; each segment's prediction is one of the 28 event classes or background; the accuracy
is the share of all test segments predicted right. Ground truth: segment i is the clip's class
when its midpoint i + 0.5 lies in the annotated [start, end) (``datasets.ave.segment_labels``,
the official labels for AVE's whole-second times).

A zero-shot run gives events, not segments: segment i takes the label of the event covering its
midpoint (the highest-scored one if several), else background. DIFFERENCE: AV²A's own scorer
(``calculate_ave_acc``) reads only the *first* event it stored for a clip; we read all of them.
AV²A runs with its AVE rule (a refined segment must be its top label), with the 28 AVE classes
as the labels.

Data: a folder in the official layout (``Annotations.txt``, ``testSet.txt`` or
``test_order.h5``, the videos as ``AVE/<VideoID>.mp4`` as in ``AVE_Dataset.zip``, or
``<VideoID>.mp4`` beside the annotations); ``--dataset ave`` means ``$AVLOCATE_HOME/datasets/ave``.
A video that is missing or unreadable is counted and skipped (the run goes on); the accuracy is
over the clips evaluated, and the line says how many were skipped.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ..datasets.ave import ANNOTATIONS, BACKGROUND, read_annotations, segment_labels, split_indices
from ..datasets.unav import DatasetError
from ..errors import MediaError, UsageError
from ..results import Event
from .vocab import builtin_vocab

#: published AVE test segment accuracy (%) of each zero-shot method with CLIP + CLAP
PUBLISHED: dict[str, tuple[float, str]] = {
    "av2a": (68.5, "AV²A with CLIP + CLAP, Shaar et al., CVPR 2025 (arXiv 2503.13693; its project page)"),
}
DATASETS = ("ave",)
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov")


def dataset_root(data: str | Path | None, dataset: str | None) -> Path:
    """``--data DIR``, else the folder of ``--dataset ave``: ``$AVLOCATE_HOME/datasets/ave``."""
    if data is not None:
        return Path(data).expanduser()
    if dataset is None:
        raise UsageError("give --data DIR (an AVE-format folder) or --dataset ave")
    if dataset.lower() not in DATASETS:
        raise UsageError(f"unknown --dataset {dataset!r}; known: {', '.join(DATASETS)}")
    from ..weights.store import cache_dir

    return cache_dir() / "datasets" / dataset.lower()


def check_root(root: str | Path) -> Path:
    """The folder, when it holds an Annotations.txt (checked before any weight is fetched)."""
    root = Path(root)
    if not (root / ANNOTATIONS).is_file():
        raise DatasetError(f"{root}: no {ANNOTATIONS}; an AVE folder holds Annotations.txt, testSet.txt and the "
                           f"videos (AVE/<VideoID>.mp4); get it with `avlocate datasets pull ave` or pass --data DIR")
    return root


def find_video(root: Path, video_id: str) -> Path | None:
    for folder in (root / "AVE", root / "videos", root):
        for suffix in VIDEO_SUFFIXES:
            path = folder / f"{video_id}{suffix}"
            if path.is_file():
                return path
    return None


def segment_predictions(events: Sequence[Event], classes: Sequence[str], num_segments: int = 10) -> torch.Tensor:
    """(num_segments,) class index per 1-s segment; ``len(classes)`` = background."""
    index = {c: i for i, c in enumerate(classes)}
    out = torch.full((num_segments,), len(classes), dtype=torch.long)
    for i in range(num_segments):
        mid = i + 0.5
        covering = [e for e in events if e.start <= mid < e.end and e.label in index]
        if covering:
            out[i] = index[max(covering, key=lambda e: e.score).label]
    return out


@dataclass
class AveScore:
    accuracy: float  # percent, over the evaluated clips' segments
    clips: int  # evaluated
    skipped: list[str]  # video ids not evaluated (missing or unreadable), with the reason
    method: str

    def line(self, split: str) -> str:
        text = f"{split} segment accuracy: {self.accuracy:.2f} % ({self.clips} clips, zero-shot {self.method})"
        if self.skipped:
            text += f"; {len(self.skipped)} clip(s) skipped (missing or unreadable video)"
        published = PUBLISHED.get(self.method)
        text += (f"; published: {published[0]:.1f} % ({published[1]})" if published
                 else "; no published number for this method")
        return text


def evaluate_zeroshot_ave(root: str | Path, split: str = "test", model: Any = None, limit: int | None = None,
                          log: Callable[[str], None] = lambda m: None) -> AveScore:
    """AVE segment accuracy (percent) on ``split`` of the folder ``root`` of an open-vocabulary
    ``model`` loaded through the one door with AVE's 28 class names as its labels
    (``avlocate.load("zeroshot", labels=ave_classes())``; its ``locate`` runs each clip)."""
    root = check_root(root)
    if model is None:
        raise UsageError("evaluate_zeroshot_ave needs a loaded model: avlocate.load('zeroshot', labels=...)")
    rows = read_annotations(root / ANNOTATIONS)
    idx = split_indices(root, split, rows)
    if limit is not None:
        idx = idx[:limit]
    classes = ave_classes()
    unknown = sorted({rows[int(i)].category for i in idx} - set(classes))
    if unknown:
        raise DatasetError(f"{root / ANNOTATIONS}: classes {unknown} are not AVE's 28")
    target = segment_labels([rows[int(i)] for i in idx], classes + [BACKGROUND]).argmax(dim=-1)
    correct = total = 0
    skipped: list[str] = []
    for n, i in enumerate(idx):
        row = rows[int(i)]
        video = find_video(root, row.video_id)
        if video is None:
            skipped.append(f"{row.video_id}: no video file")
            continue
        try:
            result = model.locate(video)
        except MediaError as exc:  # one bad file: recorded, the evaluation goes on
            skipped.append(f"{row.video_id}: {exc}")
            continue
        pred = segment_predictions(result.events, classes, target.shape[1])
        correct += int((pred == target[n]).sum())
        total += int(target.shape[1])
        log(f"[{n + 1}/{len(idx)}] {row.video_id}: {int((pred == target[n]).sum())}/{target.shape[1]}")
    if total == 0:
        raise DatasetError(f"{root}: none of the {len(idx)} {split} clips could be evaluated "
                           f"({skipped[0] if skipped else 'empty split'})")
    method = getattr(getattr(model, "head", model), "method", "?")
    return AveScore(100.0 * correct / total, total // int(target.shape[1]), skipped, method)


def ave_classes() -> list[str]:
    """AVE's 28 class names (the labels an open-vocabulary model is given on AVE)."""
    return builtin_vocab("ave")


def apply_ave_rules(head: Any) -> None:
    """AV²A's rule on AVE (one event class per clip): a refined segment must be the top label."""
    from dataclasses import replace

    from .av2a import Av2aConfig

    if isinstance(getattr(head, "config", None), Av2aConfig):
        head.config = replace(head.config, top_label=True)
