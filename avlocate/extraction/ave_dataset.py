"""The CLIP/CLAP features of the pulled AVE data set, made in place (AVSGN's features exist nowhere).

``train-segment --head avsgn --dataset ave`` (and its ``--extract-only``) calls
:func:`prepare_clip_clap`: pull the annotations and the video archive when missing, extract every
annotated clip with the clip-clap extractor into the data set's folder through the same code as
``avlocate extract VIDEOS -e clip-clap --layout ave -o FOLDER`` (:func:`extract_many`: per-clip
arrays and a sidecar written last, so an interrupted run skips the clips already done when run
again), assemble the AVE .h5 files in the order of ``Annotations.txt``, and write the label-text
embeddings of the data's classes (``label_text.h5``) with the same extractor.

The extractor is built only when something is left to make, after the optional libraries are
checked and before the videos are pulled: a missing ``open_clip`` is one line, not one line after
gigabytes of download.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets.ave import ANNOTATIONS, LAYOUTS, _h5py, class_list, read_annotations
from ..datasets.fetch import pull
from ..datasets.registry import Dataset
from ..datasets.unav import DatasetError
from ..features.base import Extractor
from ..features.store import FAILURES_FILE
from .folder import extract_many
from .progress import ExtractProgress
from .video import build_extractor

EXTRACTOR = "clip-clap"
_NOTES_SHOWN = 5


def clip_clap_ready(folder: Path) -> bool:
    """Whether the folder holds the assembled features and the label texts."""
    spec = LAYOUTS[EXTRACTOR]
    return all((folder / spec[k]).is_file() for k in ("visual", "audio", "text"))


def build_clip_clap(config: dict[str, Any] | None = None, log: Callable[[str], None] = print) -> Extractor:
    """The registered clip-clap extractor: its libraries checked, its missing weights fetched
    (unless an offline switch is set: its own missing-weights error then says what to do)."""
    from ..registry import EXTRACTORS
    from ..weights.fetch import ensure_extractor_weights

    check = getattr(EXTRACTORS.get(EXTRACTOR), "check_libraries", None)
    if check is not None:
        check()
    ensure_extractor_weights(EXTRACTOR, say=log)
    return build_extractor(EXTRACTOR, config)


def annotated_videos(folder: Path, videos: Path) -> list[Path]:
    """The video of every clip of ``folder/Annotations.txt`` (file stem = video id), in its order,
    once each; a clip without a video is an error before anything is extracted."""
    ids = list(dict.fromkeys(row.video_id for row in read_annotations(folder / ANNOTATIONS)))
    from ..runners.batch import find_videos

    found: dict[str, Path] = {}
    for path in find_videos(videos):
        found.setdefault(Path(path).stem, Path(path))
    missing = [i for i in ids if i not in found]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise DatasetError(f"{ANNOTATIONS} lists {len(missing)} clip(s) with no video under {videos}: "
                           f"{', '.join(missing[:3])}{more}")
    return [found[i] for i in ids]


def write_label_text(folder: Path, extractor: Extractor) -> Path:
    """``label_text.h5`` of the classes of ``folder/Annotations.txt`` (first-appearance order, as
    :func:`avlocate.datasets.ave.class_list`), from the extractor's text towers; written atomically."""
    classes = class_list(read_annotations(folder / ANNOTATIONS))[:-1]
    emb = extractor.label_text(classes)  # type: ignore[attr-defined]
    path = folder / LAYOUTS[EXTRACTOR]["text"]
    tmp = path.with_name(path.name + ".tmp")
    try:
        with _h5py().File(tmp, "w") as f:
            f.create_dataset("clip", data=np.asarray(emb.clip.detach().cpu(), dtype=np.float32))
            f.create_dataset("clap", data=np.asarray(emb.clap.detach().cpu(), dtype=np.float32))
            f.create_dataset("classes", data=[c.encode("utf-8") for c in classes])
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def prepare_clip_clap(ds: Dataset, folder: Path, directory: Path | str | None, timeout: float,
                      extractor: Extractor | Callable[[], Extractor], log: Callable[[str], None],
                      progress: bool | None = None) -> None:
    """Make ``folder``'s clip-clap features (see the module doc); nothing is done when they are there.

    ``extractor``: a built one, or a function that builds it (called only when needed)."""
    spec = LAYOUTS[EXTRACTOR]
    if clip_clap_ready(folder):
        return
    ext = extractor if isinstance(extractor, Extractor) else extractor()
    if not ((folder / spec["visual"]).is_file() and (folder / spec["audio"]).is_file()):
        _extract(ds, folder, directory, timeout, ext, log, progress)
    log(f"writing the label-text embeddings of the {ds.title} classes ({spec['text']})")
    write_label_text(folder, ext)


def _extract(ds: Dataset, folder: Path, directory: Path | str | None, timeout: float, ext: Extractor,
             log: Callable[[str], None], progress: bool | None) -> None:
    spec = LAYOUTS[EXTRACTOR]
    if ds.videos is None:
        raise DatasetError(f"data set {ds.name} has no video archive in the table: nothing to extract "
                           f"{EXTRACTOR} features from")
    pull(ds.name, None, True, directory, None, timeout, log)  # what is there already is not fetched again
    videos = annotated_videos(folder, folder / ds.videos.dest)
    log(f"extracting {EXTRACTOR} features of {len(videos)} {ds.title} videos into {folder} (resumable: "
        "run again after an interruption, the videos already done are skipped)")
    with ExtractProgress(len(videos), f"extract ({EXTRACTOR})", log, enabled=progress) as bar:
        summary = extract_many(videos, ext, folder, "ave", on_done=bar.done)
    log(f"{summary.succeeded} extracted, {summary.failed} failed, {summary.skipped} already in {folder}")
    if summary.failed:
        first = summary.failures[0]["error"]
        raise DatasetError(f"{summary.failed} of {summary.total} {ds.title} videos could not be extracted "
                           f"(first: {first}; all in {folder / FAILURES_FILE}); run the command again to "
                           "retry them")
    notes = summary.notes
    for note in notes[:_NOTES_SHOWN]:
        log(note)
    if len(notes) > _NOTES_SHOWN:
        log(f"... and {len(notes) - _NOTES_SHOWN} more such notes")
    if not ((folder / spec["visual"]).is_file() and (folder / spec["audio"]).is_file()):
        unwritten = next((n for n in notes if "not written" in n), "the AVE .h5 files were not written")
        raise DatasetError(unwritten)
