"""``avlocate datasets verify``: is a pulled data set complete and in the layout training reads?

Checks the annotation files against their pinned checks, then that every annotated video has its
feature files with the expected channels (UnAV-100: ``<id>_rgb.npy`` / ``_flow.npy`` 1024,
``_vggish.npy`` 128, read from the .npy headers only), or (AVE) that the feature .h5 files hold
one row per annotation line with the official shapes and the split files index into them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .fetch import dataset_dir
from .registry import Dataset, FeatureSet, get
from .unav import DatasetError


@dataclass
class VerifyReport:
    dataset: str
    features: str | None
    folder: Path
    videos: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return (f"ok: {self.dataset} ({self.features}) in {self.folder}: {self.videos} annotated videos, "
                    f"{self.files} feature files checked")
        more = f" (and {len(self.problems) - 3} more)" if len(self.problems) > 3 else ""
        return f"{self.dataset} ({self.features}) in {self.folder}: {len(self.problems)} problem(s): " + \
            "; ".join(self.problems[:3]) + more


def npy_shape(path: Path) -> tuple[int, ...]:
    """The shape in a .npy header (nothing else is read)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, _ = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, _ = np.lib.format.read_array_header_2_0(f)
    return tuple(shape)


def _annotation_checks(ds: Dataset, folder: Path, report: VerifyReport) -> None:
    from ..weights.download import Check

    for f in ds.annotations:
        path = folder / f.dest
        if not path.is_file():
            report.problems.append(f"{f.dest} is missing (`avlocate datasets pull {ds.name}`)")
            continue
        problem = Check.parse(f.check).problem(path)
        if problem is not None:
            report.problems.append(f"{f.dest}: {problem}")


def _verify_dense(ds: Dataset, fs: FeatureSet, folder: Path, report: VerifyReport) -> None:
    from .unav import load_annotations

    ann = folder / ds.annotations_file
    if not ann.is_file():
        return
    database = load_annotations(ann)
    feat_dir = folder / fs.folder
    report.videos = len(database)
    for vid in sorted(database):
        for suffix, dim in fs.dims.items():
            path = feat_dir / f"{vid}{suffix}"
            if not path.is_file():
                report.problems.append(f"{vid}{suffix} is missing")
                continue
            try:
                shape = npy_shape(path)
            except (OSError, ValueError) as exc:
                report.problems.append(f"{vid}{suffix}: not a .npy file ({exc})")
                continue
            if len(shape) != 2 or shape[0] < 1 or shape[1] != dim:
                report.problems.append(f"{vid}{suffix}: shape {list(shape)}, expected [T, {dim}]")
                continue
            report.files += 1


def _verify_ave(ds: Dataset, fs: FeatureSet, folder: Path, report: VerifyReport) -> None:
    from .ave import load_ave

    if not (folder / ds.annotations_file).is_file():
        return
    try:
        data = load_ave(folder / fs.folder, fs.format or "vgg19-vggish")
        report.videos = len(data.rows)
        report.files = 2
        for split in ("train", "val", "test"):
            data.split(split)
    except DatasetError as exc:
        report.problems.append(str(exc))


def verify(name: str, features: str | None = None, directory: Path | str | None = None) -> VerifyReport:
    ds = get(name)
    fs = ds.feature_set(features)
    folder = dataset_dir(name, directory)
    report = VerifyReport(name, fs.name, folder)
    if not folder.is_dir():
        raise DatasetError(f"data set {name} is not pulled into {folder}; `avlocate datasets pull {name}`")
    _annotation_checks(ds, folder, report)
    if ds.kind == "dense":
        _verify_dense(ds, fs, folder, report)
    else:
        _verify_ave(ds, fs, folder, report)
    return report
