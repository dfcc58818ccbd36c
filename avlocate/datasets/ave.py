"""AVE-format data: ``Annotations.txt``, split files, and per-segment features in .h5 files.

Layout of a data folder (the official AVE / VSCG release, plus our choice for AVSGN):

* ``Annotations.txt``: one line per clip, ``Category&VideoID&Quality&StartTime&EndTime`` (an
  optional header line starting ``Category&`` is skipped). Features follow the order of this
  file's lines (4,143 lines for 4,097 videos in AVE: some videos have more than one line).
* Splits, either the official index files ``train_order.h5`` / ``val_order.h5`` /
  ``test_order.h5`` (dataset ``order``: row indices into Annotations.txt), or the AVE text files
  ``trainSet.txt`` / ``valSet.txt`` / ``testSet.txt`` (lines in the Annotations.txt format,
  matched to it line by line; a line given twice matches its two occurrences in turn).
* Features, dataset ``avadataset`` in each file, row n = line n of Annotations.txt:
  - ``vgg19-vggish`` (VSCG, AVE): ``visual_feature.h5`` [N, 10, 7, 7, 512] and
    ``audio_feature.h5`` [N, 10, 128];
  - ``clip-clap`` (AVSGN; our documented choice, no official release exists):
    ``clip_visual.h5`` [N, 10, 512], ``clap_audio.h5`` [N, 10, 512], and ``label_text.h5`` with
    datasets ``clip`` and ``clap`` [K, 512] (the two label-text embeddings, one row per event
    class) and ``classes`` [K] (utf-8 names, the row order).

Labels are built from the annotation times, never read from a labels file: segment i ([i, i+1) s)
is the clip's event class when its midpoint i + 0.5 lies in [StartTime, EndTime), otherwise
background. For AVE's whole-second times this is exactly "segments start..end-1", the official
labels. Classes: the event classes in order of first appearance in Annotations.txt (or the
order of ``label_text.h5`` / an explicit list), then ``background`` last (the AVE convention
the heads use). The weakly setting's video-level target is left to the training helpers (the
time-average of these labels, the same definition the reference uses for ``prob_label``).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .unav import DatasetError

ANNOTATIONS = "Annotations.txt"
SPLIT_TEXT = {"train": "trainSet.txt", "val": "valSet.txt", "test": "testSet.txt"}
SPLIT_ORDER = {"train": "train_order.h5", "val": "val_order.h5", "test": "test_order.h5"}
H5_KEY = "avadataset"
BACKGROUND = "background"

LAYOUTS: dict[str, dict[str, Any]] = {
    "vgg19-vggish": {"visual": "visual_feature.h5", "audio": "audio_feature.h5", "visual_shape": (7, 7, 512),
                     "audio_dim": 128, "text": None},
    "clip-clap": {"visual": "clip_visual.h5", "audio": "clap_audio.h5", "visual_shape": (512,), "audio_dim": 512,
                  "text": "label_text.h5"},
}


def _h5py():  # noqa: ANN202 - optional dependency, imported when AVE data is read
    try:
        import h5py
    except ImportError:
        raise DatasetError("reading AVE .h5 features needs h5py: pip install h5py") from None
    return h5py


@dataclass(frozen=True)
class AVEAnnotation:
    category: str
    video_id: str
    quality: str
    start: float
    end: float

    @property
    def line(self) -> str:
        return f"{self.category}&{self.video_id}&{self.quality}&{self.start:g}&{self.end:g}"


def parse_annotation_line(line: str, where: str) -> AVEAnnotation:
    parts = line.strip().rsplit("&", 4)  # a category could contain '&', the other fields cannot
    if len(parts) != 5:
        raise DatasetError(f"{where}: expected Category&VideoID&Quality&StartTime&EndTime, got {line.strip()!r}")
    category, video_id, quality, start, end = parts
    try:
        s, e = float(start), float(end)
    except ValueError:
        raise DatasetError(f"{where}: start/end are not numbers in {line.strip()!r}") from None
    if not (0 <= s < e) or not category:
        raise DatasetError(f"{where}: bad event {category!r} [{start}, {end}) in {line.strip()!r}")
    return AVEAnnotation(category, video_id, quality, s, e)


def read_annotations(path: str | Path) -> list[AVEAnnotation]:
    """Rows of an Annotations.txt-format file, in file order (header and blank lines skipped)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read AVE annotations ({exc})") from None
    rows = [parse_annotation_line(line, f"{path}:{i + 1}") for i, line in enumerate(lines)
            if line.strip() and not line.startswith("Category&")]
    if not rows:
        raise DatasetError(f"{path}: no annotation lines")
    return rows


def class_list(rows: Sequence[AVEAnnotation], events: Sequence[str] | None = None) -> list[str]:
    """Event classes (``events`` or first-appearance order) plus ``background`` last."""
    seen = list(dict.fromkeys(r.category for r in rows)) if events is None else list(events)
    unknown = sorted({r.category for r in rows} - set(seen))
    if unknown:
        raise DatasetError(f"annotation classes {unknown} are not in the class list")
    if BACKGROUND in seen:
        raise DatasetError(f"{BACKGROUND!r} is reserved for segments without an event")
    return seen + [BACKGROUND]


def segment_labels(rows: Sequence[AVEAnnotation], classes: Sequence[str], num_segments: int = 10) -> torch.Tensor:
    """(N, num_segments, C) one-hot: the event class where the segment's midpoint is inside
    [start, end), background (last column) elsewhere."""
    index = {c: i for i, c in enumerate(classes)}
    mid = torch.arange(num_segments, dtype=torch.float64) + 0.5
    start = torch.tensor([r.start for r in rows], dtype=torch.float64)[:, None]
    end = torch.tensor([r.end for r in rows], dtype=torch.float64)[:, None]
    cls = torch.tensor([index[r.category] for r in rows])[:, None].expand(-1, num_segments)
    inside = (mid >= start) & (mid < end)
    target = torch.where(inside, cls, torch.full_like(cls, len(classes) - 1))
    return torch.nn.functional.one_hot(target, len(classes)).float()


def split_indices(root: str | Path, split: str, rows: Sequence[AVEAnnotation]) -> np.ndarray:
    """Row indices (into Annotations.txt) of ``split`` from ``<split>_order.h5`` or ``<split>Set.txt``."""
    root = Path(root)
    if split not in SPLIT_TEXT:
        raise DatasetError(f"unknown split {split!r}; choose from {', '.join(SPLIT_TEXT)}")
    order = root / SPLIT_ORDER[split]
    if order.is_file():
        with _h5py().File(order, "r") as f:
            if "order" not in f:
                raise DatasetError(f"{order}: no 'order' dataset")
            idx = np.asarray(f["order"][()], dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= len(rows)):
            raise DatasetError(f"{order}: indices outside the {len(rows)} annotation lines")
        return idx
    text = root / SPLIT_TEXT[split]
    if not text.is_file():
        raise DatasetError(f"{root}: split {split!r} needs {SPLIT_ORDER[split]} or {SPLIT_TEXT[split]}")
    positions: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        positions[(r.category, r.video_id, r.quality, r.start, r.end)].append(i)
    out = []
    for r in read_annotations(text):
        free = positions.get((r.category, r.video_id, r.quality, r.start, r.end))
        if not free:
            raise DatasetError(f"{text}: {r.line!r} is not (or no more) in {ANNOTATIONS}")
        out.append(free.pop(0))
    return np.asarray(out, dtype=np.int64)


def _read_rows(path: Path, indices: np.ndarray) -> np.ndarray:
    """``avadataset[indices]`` in the given order (h5py wants increasing unique indices)."""
    uniq, inverse = np.unique(indices, return_inverse=True)
    with _h5py().File(path, "r") as f:
        data = f[H5_KEY][uniq.tolist()] if len(uniq) else np.zeros((0,) + f[H5_KEY].shape[1:], np.float32)
    return np.asarray(data, dtype=np.float32)[inverse]


@dataclass
class AVEData:
    """An AVE-format folder: annotations, labels and the feature files of one layout."""

    root: Path
    layout: str
    rows: list[AVEAnnotation]
    classes: list[str]
    labels: torch.Tensor  # (N, T, C)
    text_clip: torch.Tensor | None = None  # (K, 512), clip-clap layout only
    text_clap: torch.Tensor | None = None
    num_segments: int = 10
    extractor: str = field(init=False)

    def __post_init__(self) -> None:
        self.extractor = self.layout

    def path(self, stream: str) -> Path:
        return self.root / LAYOUTS[self.layout][stream]

    def split(self, name: str) -> "AVESplit":
        return AVESplit(self, name, split_indices(self.root, name, self.rows))

    def features(self, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(audio (n, T, Da), visual (n, T, *visual_shape)) of Annotations rows ``indices``."""
        audio = torch.from_numpy(_read_rows(self.path("audio"), indices))
        visual = torch.from_numpy(_read_rows(self.path("visual"), indices))
        return audio, visual


@dataclass
class AVESplit:
    data: AVEData
    name: str
    indices: np.ndarray  # rows of Annotations.txt

    def __len__(self) -> int:
        return int(len(self.indices))

    @property
    def labels(self) -> torch.Tensor:
        return self.data.labels[torch.from_numpy(self.indices)]

    def batch(self, positions: Sequence[int] | np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(audio, visual, labels) of the split's items at ``positions`` (read from disk now)."""
        idx = self.indices[np.asarray(positions, dtype=np.int64)]
        audio, visual = self.data.features(idx)
        return audio, visual, self.data.labels[torch.from_numpy(idx)]

    def load(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.batch(np.arange(len(self)))


def _check_feature_file(path: Path, n: int, tail: tuple[int, ...], what: str) -> int:
    if not path.is_file():
        raise DatasetError(f"{path.parent}: {path.name} ({what} features) not found")
    with _h5py().File(path, "r") as f:
        if H5_KEY not in f:
            raise DatasetError(f"{path}: no {H5_KEY!r} dataset")
        shape = tuple(f[H5_KEY].shape)
    if len(shape) != 2 + len(tail) or shape[0] != n or shape[2:] != tail:
        raise DatasetError(f"{path}: shape {list(shape)}, expected [{n}, T, {', '.join(map(str, tail))}] "
                           f"(one row per line of {ANNOTATIONS})")
    return shape[1]


def _read_label_text(path: Path) -> tuple[list[str] | None, torch.Tensor, torch.Tensor]:
    if not path.is_file():
        raise DatasetError(f"{path.parent}: {path.name} (AVSGN label-text embeddings) not found")
    with _h5py().File(path, "r") as f:
        if "clip" not in f or "clap" not in f:
            raise DatasetError(f"{path}: needs datasets 'clip' and 'clap' [K, 512]")
        clip, clap = (torch.from_numpy(np.asarray(f[k][()], dtype=np.float32)) for k in ("clip", "clap"))
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["classes"][()]] if "classes" in f else None
    if clip.shape != clap.shape or clip.dim() != 2:
        raise DatasetError(f"{path}: 'clip' {list(clip.shape)} and 'clap' {list(clap.shape)} must both be [K, D]")
    return names, clip, clap


def load_ave(root: str | Path, layout: str = "vgg19-vggish", events: Sequence[str] | None = None) -> AVEData:
    """Open an AVE-format folder (see the module docstring); features are read lazily per batch."""
    root = Path(root)
    if layout not in LAYOUTS:
        raise DatasetError(f"unknown AVE feature layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    spec = LAYOUTS[layout]
    rows = read_annotations(root / ANNOTATIONS)
    text_clip = text_clap = None
    if spec["text"]:
        names, text_clip, text_clap = _read_label_text(root / spec["text"])
        if events is not None and names is not None and list(events) != names:
            # e.g. a model card's class order: the text rows follow the requested order
            missing = sorted(set(events) - set(names))
            if missing:
                raise DatasetError(f"{root / spec['text']}: no label-text rows for {missing}")
            rows_of = [names.index(e) for e in events]
            text_clip, text_clap = text_clip[rows_of], text_clap[rows_of]
        events = events if events is not None else names
    classes = class_list(rows, events)
    if text_clip is not None and text_clip.shape[0] != len(classes) - 1:
        raise DatasetError(f"{root / spec['text']}: {text_clip.shape[0]} label-text rows for {len(classes) - 1} event classes")
    t_visual = _check_feature_file(root / spec["visual"], len(rows), tuple(spec["visual_shape"]), "visual")
    t_audio = _check_feature_file(root / spec["audio"], len(rows), (spec["audio_dim"],), "audio")
    if t_visual != t_audio:
        raise DatasetError(f"{root}: visual has {t_visual} segments per clip but audio {t_audio}")
    return AVEData(root, layout, rows, classes, segment_labels(rows, classes, t_visual), text_clip, text_clap, t_visual)


def write_ave(root: str | Path, rows: Sequence[AVEAnnotation], visual: np.ndarray, audio: np.ndarray,
              splits: dict[str, Sequence[int]], layout: str = "vgg19-vggish",
              label_text: tuple[Sequence[str], np.ndarray, np.ndarray] | None = None) -> Path:
    """Write an AVE-format folder (e.g. features extracted by avlocate, or a test set): the
    annotations, ``<split>Set.txt`` files and the feature .h5 files of ``layout``."""
    h5py = _h5py()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    spec = LAYOUTS[layout]
    header = "Category&VideoID&Quality&StartTime&EndTime\n"
    (root / ANNOTATIONS).write_text(header + "".join(r.line + "\n" for r in rows), encoding="utf-8")
    for name, idx in splits.items():
        (root / SPLIT_TEXT[name]).write_text(header + "".join(rows[i].line + "\n" for i in idx), encoding="utf-8")
    for stream, array in (("visual", visual), ("audio", audio)):
        with h5py.File(root / spec[stream], "w") as f:
            f.create_dataset(H5_KEY, data=np.asarray(array, dtype=np.float32))
    if spec["text"]:
        if label_text is None:
            raise ValueError(f"layout {layout!r} needs label_text=(classes, clip, clap)")
        names, clip, clap = label_text
        with h5py.File(root / spec["text"], "w") as f:
            f.create_dataset("clip", data=np.asarray(clip, dtype=np.float32))
            f.create_dataset("clap", data=np.asarray(clap, dtype=np.float32))
            f.create_dataset("classes", data=[n.encode("utf-8") for n in names])
    return root


def make_synthetic_ave(root: str | Path, layout: str = "vgg19-vggish", num_clips: int = 24, num_events: int = 3,
                       seed: int = 0, splits: dict[str, float] | None = None, signal: float = 1.0) -> Path:
    """A tiny *learnable* AVE-format set (smoke runs and tests; no real data needed).

    Each clip has one event class and a whole-second [start, end) span; event segments carry the
    class's fixed random pattern (+ noise) in both streams, background segments noise only.
    Splits: fractions of the clips in order (default 60 % train, 20 % val, 20 % test).
    """
    rng = np.random.default_rng(seed)
    spec = LAYOUTS[layout]
    names = [f"event {k}" for k in range(num_events)]
    rows, cls, spans = [], rng.integers(0, num_events, num_clips), []
    for n in range(num_clips):
        start = int(rng.integers(0, 8))
        end = int(rng.integers(start + 1, 11))
        rows.append(AVEAnnotation(names[cls[n]], f"clip{n:04d}", "good", start, end))
        spans.append((start, end))
    v_shape, a_dim = tuple(spec["visual_shape"]), int(spec["audio_dim"])
    v_proto = rng.standard_normal((num_events, *v_shape)).astype(np.float32)
    a_proto = rng.standard_normal((num_events, a_dim)).astype(np.float32)
    visual = 0.5 * rng.standard_normal((num_clips, 10, *v_shape)).astype(np.float32)
    audio = 0.5 * rng.standard_normal((num_clips, 10, a_dim)).astype(np.float32)
    for n, (start, end) in enumerate(spans):
        visual[n, start:end] += signal * v_proto[cls[n]]
        audio[n, start:end] += signal * a_proto[cls[n]]
    if layout == "vgg19-vggish":  # pool5 maps and VGGish embeddings are post-ReLU
        visual, audio = np.maximum(visual, 0), np.maximum(audio, 0)
    fractions = splits or {"train": 0.6, "val": 0.2, "test": 0.2}
    bounds = np.cumsum([0] + [int(round(f * num_clips)) for f in fractions.values()])
    split_rows = {k: list(range(bounds[i], min(bounds[i + 1], num_clips))) for i, k in enumerate(fractions)}
    text = None
    if spec["text"]:
        text = (names, rng.standard_normal((num_events, 512)), rng.standard_normal((num_events, 512)))
    return write_ave(root, rows, visual, audio, split_rows, layout, text)
