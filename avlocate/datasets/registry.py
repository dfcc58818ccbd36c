"""The public data sets avlocate can fetch: every file, where it lives, how it is checked, and
where it goes (the layout ``avlocate train`` / ``train-segment`` read).

Every fact here is from ``../shared/DATA_SOURCES.md`` (read from the official repositories at the
pinned commits); what is not published is ``None`` / "unknown". A source is ``drive:ID`` (a
public Google Drive file, fetched with :mod:`avlocate.weights.drive`) or a URL (raw git at a
pinned commit, fetched and verified with :mod:`avlocate.weights.download`).

``$AVLOCATE_DATASETS`` may name a JSON file in the schema ``avlocate datasets list --json``
prints: it replaces this built-in table (a mirror, an air-gapped copy on a local server, tests).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .unav import DatasetError

UNAV_GIT = "https://raw.githubusercontent.com/ttgeng233/UnAV/60144ed39473b2b54dc38d7412bc073280a7cd00"
AVE_GIT = "https://raw.githubusercontent.com/YapengTian/AVE-ECCV18/93f843fed72fb17394df76330df958b0c2dbde76"


@dataclass(frozen=True)
class DataFile:
    """One upstream file and what becomes of it."""

    name: str  # short name in messages and in the pull record
    source: str  # "drive:ID" or a URL
    check: str  # "sha256:HEX", "git-blob-sha1:ID" or "none" (nothing published to check against)
    dest: str  # relative to the data set's folder: the file itself, or the folder an archive unpacks into
    unpack: bool = False  # an archive (or one file) whose members go flat into ``dest``
    keep_tree: bool = False  # unpack keeping the archive's folders (videos), not flat
    size: str = "unknown"  # as the source states it
    bytes: int | None = None  # exact size where known
    format: str = ""
    members: str = "*"  # which archive members to keep (a glob on the member's file name)

    @property
    def manual(self) -> str:
        """Where to get the file by hand (a browser)."""
        if self.source.startswith("drive:"):
            return f"https://drive.google.com/file/d/{self.source[6:]}/view"
        return self.source


@dataclass(frozen=True)
class FeatureSet:
    """A choice of features for a data set (``--features NAME``)."""

    name: str
    files: tuple[DataFile, ...] = ()
    format: str | None = None  # unav: a key of datasets.unav.FEATURE_FORMATS; ave: a layout of datasets.ave
    dims: dict[str, int] = field(default_factory=dict)  # unav: per-file suffix -> channels; ave: file -> shape text
    folder: str = "."  # where the feature files are, relative to the data set's folder
    extractor: str | None = None  # avlocate's extractor giving the same features (what `run` uses)
    unavailable: str | None = None  # one line: why `pull` cannot get it (e.g. Baidu only)


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    kind: str  # "dense" (UnAV-100 format, `avlocate train`) or "segments" (AVE format, `train-segment`)
    licence: str
    annotations: tuple[DataFile, ...]
    features: dict[str, FeatureSet]
    default_features: str
    annotations_file: str  # the file train/verify read, relative to the data set's folder
    videos: DataFile | None = None
    notes: str = ""

    def feature_set(self, name: str | None) -> FeatureSet:
        name = name or self.default_features
        if name not in self.features:
            raise DatasetError(f"data set {self.name} has no features {name!r}; choose from {', '.join(self.features)}")
        return self.features[name]


_UNAV100 = Dataset(
    name="unav100", title="UnAV-100", kind="dense",
    licence="CC BY 4.0 (annotations); video copyright with the owners (unav100.github.io)",
    annotations=(
        DataFile("annotations", f"{UNAV_GIT}/data/unav100_annotations.json",
                 "sha256:2fdfc587ad36fc405496b5520d967b5df54b2d82027d16d69e968b5cf04d3dba",
                 "annotations/unav100_annotations.json", size="2,991,422 bytes", bytes=2_991_422,
                 format="JSON {version, database: {ytid: {duration, subset, annotations}}}; 10,790 videos "
                        "(train 6,489 / validation 2,134 / test 2,167), 30,059 events, 100 classes"),
    ),
    features={
        "i3d-vggish": FeatureSet(
            name="i3d-vggish", format="i3d_vggish", folder="features/i3d-vggish", extractor="i3d-vggish",
            dims={"_rgb.npy": 1024, "_flow.npy": 1024, "_vggish.npy": 128},
            files=(
                DataFile("i3d-rgb", "drive:14i0F37OKmDJ5yhd_tThtBbVUqKt_NqbZ", "none", "features/i3d-vggish",
                         unpack=True, size="5.55 GB", members="*_rgb.npy",
                         format="per video <ytid>_rgb.npy, T x 1024; container unknown (detected by content)"),
                DataFile("i3d-flow", "drive:15by2wgj6ty9bsxOcmeFhT4-M3xOvUBG9", "none", "features/i3d-vggish",
                         unpack=True, size="5.05 GB", members="*_flow.npy",
                         format="per video <ytid>_flow.npy, T x 1024; container unknown (detected by content)"),
                DataFile("vggish", "drive:1nLWXpdOJ-geYjoIQfgeZtwzjf_jwBEG2", "none", "features/i3d-vggish",
                         unpack=True, size="263.4 MB", members="*_vggish.npy",
                         format="per video <ytid>_vggish.npy, T x 128 (0.32-s steps, aligned with I3D); "
                                "container unknown (detected by content)"),
            )),
        "one-peace": FeatureSet(
            name="one-peace", format="onepeace", folder="features/one-peace", extractor="one-peace",
            dims={"_one_peace_video_finetune.npy": 1536, "_one_peace_audio.npy": 1536},
            unavailable="ONE-PEACE features are on Baidu only (pan.baidu.com/s/1uBRdq6mXTfnRODMbZ0-QnA, "
                        "password zyfm; a browser and an account): download them there, then `avlocate datasets "
                        "pull unav100 --features one-peace --from DIR`"),
    },
    default_features="i3d-vggish",
    annotations_file="annotations/unav100_annotations.json",
    notes="Whether the Drive copy of the annotations (1aJ562jizOlybguWR4NkrCuLlBt8SGpWT) is byte-identical to "
          "the git copy is unknown; the git copy is the one checked. Raw videos: Hugging Face dataset "
          "ttgeng233/UnAV-100 (layout unknown).",
)

_AVE = Dataset(
    name="ave", title="AVE", kind="segments", licence="none stated",
    annotations=(
        DataFile("annotations", f"{AVE_GIT}/data/Annotations.txt",
                 "sha256:0d24a9ec5cd4ceb779ebd83d74e83ec8e55c5e468cede3f320fb57346c9dd321", "Annotations.txt",
                 size="144,287 bytes", bytes=144_287,
                 format="Category&VideoID&Quality&StartTime&EndTime, 4,143 lines, no header"),
        DataFile("train-order", f"{AVE_GIT}/data/train_order.h5",
                 "git-blob-sha1:8df32a923a3c86f44366ecff2399c5921149a244", "train_order.h5",
                 size="28,856 bytes", bytes=28_856, format="h5, key 'order': 3,339 rows of Annotations.txt"),
        DataFile("val-order", f"{AVE_GIT}/data/val_order.h5",
                 "git-blob-sha1:c7f94d55eaf0c0fdbae258c82a85a5cdadba674e", "val_order.h5",
                 size="5,360 bytes", bytes=5_360, format="h5, key 'order': 402 rows"),
        DataFile("test-order", f"{AVE_GIT}/data/test_order.h5",
                 "git-blob-sha1:d9d68256aab78be560dbc7a5249fd87358db3253", "test_order.h5",
                 size="5,360 bytes", bytes=5_360, format="h5, key 'order': 402 rows"),
    ),
    features={
        "vgg19-vggish": FeatureSet(
            name="vgg19-vggish", format="vgg19-vggish", extractor="vgg19-vggish",
            files=(
                DataFile("audio-features", "drive:1F6p4BAOY-i0fDXUOhG7xHuw_fnO5exBS", "none", "audio_feature.h5",
                         size="unknown", format="audio_feature.h5, key avadataset, (4143, 10, 128)"),
                DataFile("visual-features", "drive:1hQwbhutA3fQturduRnHMyfRqdrRHgmC9", "none", "visual_feature.h5",
                         size="7.7 GB", format="visual_feature.h5, key avadataset, (4143, 10, 7, 7, 512)"),
            )),
        "clip-clap": FeatureSet(
            name="clip-clap", format="clip-clap", extractor="clip-clap",
            unavailable="no CLIP/CLAP features of AVE are published: `avlocate train-segment --head avsgn --dataset "
                        "ave --extract-only` pulls the videos and extracts them (resumable), or pull the videos "
                        "(`avlocate datasets pull ave --videos`) and run `avlocate extract DIR/videos -e clip-clap "
                        "--layout ave -o DIR` (DIR: `avlocate datasets path ave`)"),
    },
    default_features="vgg19-vggish",
    annotations_file="Annotations.txt",
    videos=DataFile("videos", "drive:1FjKwe79e0u96vdjIVwfRQ1V6SoDHe7kK", "none", "videos", unpack=True,
                    keep_tree=True, size="unknown",
                    format="AVE_Dataset.zip: AVE/ videos, Annotations.txt, trainSet.txt, valSet.txt, testSet.txt"),
    notes="Labels are built from Annotations.txt (data/labels.h5 is not needed). Third-party hub mirrors exist "
          "with unknown relation to the original; they are not used.",
)

BUILTIN: dict[str, Dataset] = {d.name: d for d in (_UNAV100, _AVE)}


def _file_from(data: dict[str, Any]) -> DataFile:
    return DataFile(**data)


def _dataset_from(data: dict[str, Any]) -> Dataset:
    feats = {}
    for name, fs in data["features"].items():
        fs = dict(fs)
        fs["files"] = tuple(_file_from(f) for f in fs.get("files", ()))
        feats[name] = FeatureSet(**fs)
    return Dataset(
        name=data["name"], title=data["title"], kind=data["kind"], licence=data.get("licence", "unknown"),
        annotations=tuple(_file_from(f) for f in data["annotations"]), features=feats,
        default_features=data["default_features"], annotations_file=data["annotations_file"],
        videos=_file_from(data["videos"]) if data.get("videos") else None, notes=data.get("notes", ""))


def datasets() -> dict[str, Dataset]:
    """The known data sets: the built-in table, or ``$AVLOCATE_DATASETS``'s."""
    path = os.environ.get("AVLOCATE_DATASETS")
    if not path:
        return dict(BUILTIN)
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return {d["name"]: _dataset_from(d) for d in raw["datasets"]}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"AVLOCATE_DATASETS={path}: not a data set table ({type(exc).__name__}: {exc})") from None


def get(name: str) -> Dataset:
    known = datasets()
    if name not in known:
        raise DatasetError(f"no data set named {name!r}; choose from {', '.join(sorted(known))} "
                           "(`avlocate datasets list`)")
    return known[name]


def as_records(table: dict[str, Dataset] | None = None) -> list[dict[str, Any]]:
    """The table (default: the one in use) as JSON-able records (``datasets list --json``; also
    what ``$AVLOCATE_DATASETS`` reads)."""
    out = []
    for d in (datasets() if table is None else table).values():
        rec = asdict(d)
        rec["annotations"] = [asdict(f) for f in d.annotations]
        rec["features"] = {k: {**asdict(fs), "files": [asdict(f) for f in fs.files]} for k, fs in d.features.items()}
        out.append(rec)
    return out
