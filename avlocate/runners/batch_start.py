"""Everything ``avlocate batch`` settles before its first video: options, model, folder, output.

Order matters: nothing is written until the options, the model and the folder have passed, and
an existing output is checked for compatibility before it is extended (see resume_check).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputNotFoundError
from .preflight import BatchPlan, check_batch
from .resume_check import check_resume, drop_failed_lines, video_order


@dataclass
class BatchStart:
    plan: BatchPlan
    videos: list[Path]
    skipped_files: list[Path] = field(default_factory=list)  # files without a video extension
    duplicates: list[str] = field(default_factory=list)  # inputs naming a video already listed
    failed_before: list[str] = field(default_factory=list)  # error lines kept from an earlier run
    retried: int = 0  # error lines removed by --retry-failed
    order: list[str] = field(default_factory=list)  # the output's videos before they were removed
    retried_videos: set[str] = field(default_factory=set)


def _extensions() -> str:
    from .batch import VIDEO_EXTENSIONS

    return " ".join(sorted(VIDEO_EXTENSIONS))


def prepare_batch(folder: Path, out: Path, options: dict[str, Any], in_process: bool,
                  overwrite: bool, retry_failed: bool, shards_dir: Path | None = None) -> BatchStart:
    """Check everything, then look at ``out``: refuse a mismatch, and with ``retry_failed`` remove
    the error lines (also from the Ray shards in ``shards_dir``) so that the batch redoes them."""
    from .batch import find_videos

    from .jsonl import check_results_file

    plan = check_batch(options, in_process)
    check_results_file(out, overwrite)  # not a regular file, or not results: one line, nothing read or cut
    skipped: list[Path] = []
    duplicates: list[str] = []
    videos = find_videos(folder, skipped, duplicates)
    if not videos:
        raise InputNotFoundError(
            f"{folder}: no videos found ({len(skipped)} other file(s) skipped); avlocate reads files ending in "
            f"{_extensions()}: check the folder")
    start = BatchStart(plan, videos, skipped, duplicates)
    if overwrite:
        return start
    shards = sorted(shards_dir.glob("*.jsonl")) if shards_dir is not None and shards_dir.is_dir() else []
    state = check_resume(out, plan, [str(v) for v in videos], shards)
    if retry_failed:
        start.order = video_order(out)
        start.retried_videos = set(state.failed)
        start.retried = drop_failed_lines(out, state.failed, shards)
    else:
        start.failed_before = state.failed
    return start
