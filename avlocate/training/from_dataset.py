"""``avlocate train --dataset`` / ``train-segment --dataset``: the whole path in one call.

Pull the data set when it is missing or incomplete (:mod:`avlocate.datasets.fetch`), train with
the head's paper recipe (:func:`avlocate.training.dense.train` /
:func:`avlocate.training.segment.train_segment`), evaluate on the test split with the official
metric (mAP at tIoU 0.1...0.9 for UnAV-100, with the official code's label handling; segment
accuracy for AVE), and write the model under the head's name into ``$AVLOCATE_HOME``, where
``avlocate run --model NAME`` finds it. The card records the data set (every file's source,
check and sha256), avlocate's commit, the measured numbers and the paper's.

AVSGN's CLIP/CLAP features of AVE are published nowhere: before training they are extracted from
the AVE videos into the data set's folder, resumably (:mod:`avlocate.extraction.ave_dataset`),
and the card records what extracted them.

The paper's numbers (:data:`PAPER`) are copied from the papers in ``../shared/papers/``; a
column a paper does not report is ``None`` and printed as "-".
"""
from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datasets.fetch import dataset_dir, pull, read_record
from ..datasets.registry import Dataset, FeatureSet, get
from ..datasets.unav import FEATURE_FORMATS, DatasetError
from ..datasets.verify import verify
from ..errors import AvlocateError, UsageError

TIOUS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

#: (head, features) -> the paper's numbers on the test split (percent).
PAPER: dict[tuple[str, str], dict[str, Any]] = {
    ("esgnet", "i3d-vggish"): {"source": "ESG-Net paper, Table I (I3D + VGGish)",
                               "mAP": {0.5: 53.5, 0.6: 48.2, 0.7: 41.9, 0.8: 33.6, 0.9: 21.2}, "avg": 49.9},
    ("esgnet", "one-peace"): {"source": "ESG-Net paper, Table II (ONE-PEACE)",
                              "mAP": {0.5: 58.6, 0.6: 53.4, 0.7: 46.4, 0.8: 37.1, 0.9: 23.2}, "avg": 54.7},
    ("unav", "i3d-vggish"): {"source": "CCNet paper, Table 1, row DAVEL (Geng et al. 2023; I3D + VGGish)",
                             "mAP": {0.5: 50.6, 0.6: 45.8, 0.7: 39.8, 0.8: 32.4, 0.9: 21.1}, "avg": 47.8},
    ("unav", "one-peace"): {"source": "CCNet paper, Table 1, row Δ DAVEL (ONE-PEACE)",
                            "mAP": {0.5: 53.8, 0.6: 48.7, 0.7: 42.2, 0.8: 33.8, 0.9: 20.4}, "avg": 51.0},
    ("ccnet", "i3d-vggish"): {"source": "CCNet paper, Table 1 (I3D + VGGish)",
                              "mAP": {0.5: 51.9, 0.6: 47.2, 0.7: 41.5, 0.8: 34.1, 0.9: 23.0}, "avg": 49.2},
    ("ccnet", "one-peace"): {"source": "CCNet paper, Table 1, row Δ CCNet (ONE-PEACE)",
                             "mAP": {0.5: 57.3, 0.6: 52.2, 0.7: 46.2, 0.8: 38.1, 0.9: 25.6}, "avg": 54.1},
    ("vscg", "vgg19-vggish"): {"source": "VSCG paper, comparison table (fully supervised; VGG-19 + VGGish)",
                               "accuracy": 79.7},
    ("vscg-weakly", "vgg19-vggish"): {"source": "VSCG paper, comparison table (weakly supervised)", "accuracy": 74.8},
    # The AVSGN paper's encoders are Swin-V2-L CLIP and HTS-AT CLAP; avlocate's clip-clap extractor
    # is ViT-B/32 CLIP: the number is the paper's, for other features.
    ("avsgn", "clip-clap"): {"source": "AVSGN paper, Table 1 (fully supervised; its encoders Swin-V2-L CLIP + "
                                       "HTS-AT CLAP, not avlocate's ViT-B/32 CLIP: not the same features)",
                             "accuracy": 83.1},
    ("avsgn-weakly", "clip-clap"): {"source": "AVSGN paper, Table 1 (weakly supervised; Swin-V2-L CLIP + HTS-AT "
                                              "CLAP, not the same features)", "accuracy": 78.8},
}


def avlocate_commit() -> str:
    """``git:<rev>`` of the checkout avlocate runs from (``+dirty`` with local changes), else
    ``version:<x.y.z>`` (an installed wheel has no git)."""
    from .. import __version__

    root = Path(__file__).resolve().parents[2]
    if (root / ".git").exists():
        try:
            rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=10).stdout.strip()
            if rev:
                return f"git:{rev}" + ("+dirty" if dirty else "")
        except (OSError, subprocess.SubprocessError):
            pass
    return f"version:{__version__}"


def ensure_dataset(name: str, features: str | None, directory: Path | str | None, timeout: float,
                   log: Callable[[str], None]) -> tuple[Dataset, FeatureSet, Path]:
    """The data set's folder, pulled first when it is missing or incomplete, then verified."""
    ds = get(name)
    fs = ds.feature_set(features)
    folder = dataset_dir(name, directory)
    if not folder.is_dir() or not verify(name, fs.name, directory).ok:
        log(f"pulling {ds.title} ({fs.name}) into {folder}")
        pull(name, fs.name, False, directory, None, timeout, log)
    report = verify(name, fs.name, directory)
    if not report.ok:
        raise DatasetError(report.summary())
    return ds, fs, folder


def _dataset_provenance(ds: Dataset, fs: FeatureSet, folder: Path) -> dict[str, Any]:
    return {"name": ds.name, "title": ds.title, "features": fs.name, "folder": str(folder),
            "files": read_record(folder).get("files", {})}


@dataclass
class DatasetRun:
    card_path: Path
    measured: dict[str, Any]
    paper: dict[str, Any] | None

    def table(self) -> str:
        return comparison_table(self.measured, self.paper)


def comparison_table(measured: dict[str, Any], paper: dict[str, Any] | None) -> str:
    """Measured beside the paper's: mAP (%) per tIoU and averages, or the accuracy."""
    def cell(v: float | None) -> str:
        return f"{v:8.2f}" if v is not None else f"{'-':>8}"

    source = paper["source"] if paper else "no published number for this head and these features"
    if "accuracy" in measured:
        return (f"{'':12}{'measured':>8}  {'paper':>8}\n"
                f"{'accuracy %':12}{cell(measured['accuracy'])}  {cell(paper.get('accuracy') if paper else None)}\n"
                f"paper: {source}")
    lines = [f"{'mAP (%)':12}{'measured':>8}  {'paper':>8}"]
    pm = (paper or {}).get("mAP", {})
    for t, v in zip(TIOUS, measured["mAP_per_tiou"]):
        lines.append(f"{'tIoU ' + format(t, '.1f'):12}{cell(100 * v)}  {cell(pm.get(t))}")
    mid = [100 * v for t, v in zip(TIOUS, measured["mAP_per_tiou"]) if t >= 0.5]
    # the papers print no 0.5:0.9 average: that cell of theirs stays "-" (nothing derived)
    lines.append(f"{'avg 0.5:0.9':12}{cell(sum(mid) / len(mid))}  {cell(None)}")
    lines.append(f"{'avg 0.1:0.9':12}{cell(100 * measured['average_mAP'])}  {cell((paper or {}).get('avg'))}")
    lines.append(f"paper: {source}")
    return "\n".join(lines)


def _default_out() -> Path:
    from ..weights.store import cache_dir

    return cache_dir()


def train_dense_on_dataset(head: str, dataset: str = "unav100", features: str | None = None,
                           out_dir: Path | None = None, name: str | None = None,
                           directory: Path | str | None = None, timeout: float = 30.0,
                           head_overrides: dict[str, Any] | None = None, device: str = "cpu",
                           log: Callable[[str], None] = print, **train_overrides: Any) -> DatasetRun:
    """Pull, train ``head``, evaluate on the test split, install as ``name`` (default: the head's)."""
    from ..metrics.evaluate_dense import evaluate
    from ..weights.card import ModelCard
    from .dense import train

    ds, fs, folder = ensure_dataset(dataset, features, directory, timeout, log)
    if ds.kind != "dense":
        raise UsageError(f"data set {dataset} is segment-level: `avlocate train-segment --head vscg|avsgn --dataset {dataset}`")
    fmt = fs.format or ""
    if fmt not in FEATURE_FORMATS:
        raise DatasetError(f"{ds.title} {fs.name}: no training format {fmt!r}")
    tl = FEATURE_FORMATS[fmt]["timeline"]
    # the head reads the features' own time grid (ONE-PEACE, lite: not the I3D default)
    overrides = {"fps": tl.fps, "window": tl.window, "stride": tl.stride, **(head_overrides or {})}
    out_dir = Path(out_dir) if out_dir is not None else _default_out()
    name = name or head
    annotations = folder / ds.annotations_file
    feat_dir = folder / fs.folder
    res = train(head, annotations, feat_dir, out_dir, name=name, fmt=fmt, subset="train", log=log,
                head_overrides=overrides, device=device, **train_overrides)
    card_path = out_dir / f"{res.card.name}.json"
    ev = evaluate(str(card_path), annotations, feat_dir, subset="test", fmt=fmt, official_label_quirk=True,
                  log=lambda s: None)
    measured = {"split": "test", "metric": "mAP at tIoU 0.1:0.1:0.9 (official metric, its label handling)",
                **ev.result.to_dict()}
    paper = PAPER.get((head, fs.name))
    card = ModelCard.load(card_path)
    card.provenance = {**card.provenance, "dataset": _dataset_provenance(ds, fs, folder),
                       "avlocate": avlocate_commit(), "evaluation": measured,
                       "paper": paper or "no published number for this head and these features",
                       "metric": measured["metric"]}
    card.save(card_path)
    return DatasetRun(card_path, measured, paper)


def train_segment_on_dataset(head: str, dataset: str = "ave", out_dir: Path | None = None, name: str | None = None,
                             directory: Path | str | None = None, timeout: float = 30.0, config: Any = None,
                             log: Callable[[str], None] = print, extractor: Any = None,
                             extractor_config: dict[str, Any] | None = None) -> DatasetRun:
    """Pull, train a segment head, evaluate its test accuracy, install as ``name`` (default: the head's).

    AVSGN's clip-clap features are extracted from the videos first (:func:`prepare_segment_features`;
    ``extractor``/``extractor_config`` as there)."""
    from ..weights.card import ModelCard
    from .segment import evaluate_segment, train_segment

    ds, fs, folder = prepare_segment_features(head, dataset, directory, timeout, log, extractor, extractor_config,
                                              getattr(config, "progress", None) if config is not None else None)
    out_dir = Path(out_dir) if out_dir is not None else _default_out()
    res = train_segment(folder / fs.folder, head, out_dir, name or head, config, log=log)
    device = getattr(config, "device", "cpu") if config is not None else "cpu"
    acc = evaluate_segment(str(res.card_path), folder / fs.folder, "test", 64, device)
    measured = {"split": "test", "metric": "AVE segment accuracy (%)", "accuracy": acc,
                "val_accuracy": res.val_accuracy}
    paper = PAPER.get((head, fs.name))
    card = ModelCard.load(res.card_path)
    provenance = _dataset_provenance(ds, fs, folder)
    extraction = _extraction_provenance(folder, fs)
    if extraction is not None:
        provenance["extraction"] = extraction
    card.provenance = {**card.provenance, "dataset": provenance,
                       "avlocate": avlocate_commit(), "evaluation": measured,
                       "paper": paper or "no published number for this head and these features"}
    card.save(res.card_path)
    return DatasetRun(res.card_path, measured, paper)


def prepare_segment_features(head: str, dataset: str = "ave", directory: Path | str | None = None,
                             timeout: float = 30.0, log: Callable[[str], None] = print, extractor: Any = None,
                             extractor_config: dict[str, Any] | None = None,
                             progress: bool | None = None) -> tuple[Dataset, FeatureSet, Path]:
    """The data set of a segment head, pulled and verified; for AVSGN (clip-clap, published
    nowhere) with its features extracted from the videos first, resumably, and the label-text
    embeddings written (:func:`avlocate.extraction.ave_dataset.prepare_clip_clap`).

    ``extractor``: a built clip-clap extractor (Python callers, tests); default: the registered
    one with ``extractor_config``, built only when something is left to extract. ``progress``: the
    extraction's bar (None: on a terminal)."""
    from .segment import LAYOUT

    if head not in LAYOUT:
        raise UsageError(f"unknown segment model {head!r}; choose from {', '.join(LAYOUT)}")
    ds = get(dataset)
    if ds.kind != "segments":
        raise UsageError(f"data set {dataset} is dense: `avlocate train --head esgnet|unav|ccnet --dataset {dataset}`")
    if LAYOUT[head] == "clip-clap":
        from ..extraction.ave_dataset import build_clip_clap, prepare_clip_clap

        build = extractor if extractor is not None else (lambda: build_clip_clap(extractor_config, log))
        prepare_clip_clap(ds, dataset_dir(dataset, directory), directory, timeout, build, log, progress)
    return ensure_dataset(dataset, LAYOUT[head], directory, timeout, log)


def _extraction_provenance(folder: Path, fs: FeatureSet) -> dict[str, Any] | None:
    """What made the features avlocate extracted itself (AVSGN's): the extractor, its settings and
    weights, as the sidecar of the first annotated clip records them; None for downloaded ones
    (VSCG's h5 files, beside which AVSGN's sidecars may lie in the same folder)."""
    from ..datasets.ave import ANNOTATIONS, read_annotations
    from ..features.store import read_sidecar

    if fs.files:
        return None
    try:
        first = read_annotations(folder / ANNOTATIONS)[0].video_id
        side = read_sidecar(folder, first)
    except (AvlocateError, OSError):
        return None
    if side["extractor"]["name"] != fs.extractor:
        return None
    return {"extractor": side["extractor"]["name"],
            "config": side["extractor"].get("config", {}), "weights": side["provenance"].get("weights"),
            "avlocate": side["provenance"].get("avlocate")}
