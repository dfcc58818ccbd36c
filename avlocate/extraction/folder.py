"""Many videos into one feature folder, resumably (the folder part of ``avlocate extract``).

As ``avlocate batch``: files and folders (searched recursively with ``batch.find_videos``) in,
ids whose sidecar already exists skipped (the sidecar is written last, so it means "complete"),
``overwrite`` to redo them, and a video that fails recorded (summary + ``failures.jsonl``) while
the others go on. The AVE layout's .h5 files are assembled once at the end.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import AvlocateError, InputNotFoundError, UsageError, naming
from ..features.store import FAILURES_FILE, read_sidecar, resolve_layout, sidecar_path
from .video import extract_features
from ..features.base import Extractor


@dataclass
class ExtractSummary:
    total: int = 0
    skipped: int = 0
    succeeded: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def collect_videos(inputs: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders searched recursively (as ``batch``), in order, without repeats."""
    from ..runners.batch import find_videos

    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out.extend(find_videos(p))
        elif p.exists():
            out.append(p)
        else:
            raise InputNotFoundError(f"{item}: no such file or folder; check the path")
    return list(dict.fromkeys(out))


def _record_failure(out: Path, summary: ExtractSummary, video: Path, exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, AvlocateError):
        record = {"video": str(video), "error": str(exc), "code": exc.exit_code}
    else:  # a bug in an extractor: recorded, and the other videos still run
        record = {"video": str(video), "error": f"internal error: {type(exc).__name__}: {exc}".splitlines()[0], "code": 70}
    record["error"] = naming(video, record["error"])  # the path once, at the start
    record["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    summary.failed += 1
    summary.failures.append(record)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with open(out / FAILURES_FILE, "a", encoding="utf-8") as f:  # one short append: a log, not a result
        f.write(line)
    return record


def extract_many(inputs: Iterable[str | Path], extractor: Extractor, out_dir: str | Path, layout: str = "auto",
                 overwrite: bool = False, on_done: Callable[[str, dict[str, Any]], None] | None = None) -> ExtractSummary:
    """Extract every video of ``inputs`` (files and folders) into ``out_dir``, resumably.

    Ids whose sidecar exists are skipped (``overwrite`` redoes them); a video that fails is
    recorded in the summary and in ``failures.jsonl`` and the others go on. ``on_done(status,
    record)`` is called per video with status ``done``, ``skipped`` or ``failed``.
    """
    layout = resolve_layout(extractor, layout)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    videos = collect_videos(inputs)
    summary = ExtractSummary(total=len(videos))
    owner: dict[str, Path] = {}
    for video in videos:
        vid = video.stem
        try:
            if vid in owner:
                raise UsageError(f"same id {vid!r} as {owner[vid]}: ids are file stems and must be unique in one -o folder")
            owner[vid] = video
            side = sidecar_path(out, vid)
            if side.is_file() and not overwrite:
                old = read_sidecar(out, vid)
                if old["extractor"]["name"] != extractor.name or old["layout"] != layout:
                    raise UsageError(f"{side} holds {old['extractor']['name']} features in layout {old['layout']}; "
                                     "use --overwrite or another -o folder")
                summary.skipped += 1
                if on_done:
                    on_done("skipped", {"video": str(video)})
                continue
            extract_features(video, extractor, out, layout, video_id=vid)
            summary.succeeded += 1
            if on_done:
                on_done("done", {"video": str(video)})
        except Exception as exc:  # noqa: BLE001 - one bad video must not stop a folder
            record = _record_failure(out, summary, video, exc)
            if on_done:
                on_done("failed", record)
    if layout == "ave":
        from .ave import assemble_ave

        try:
            summary.notes.extend(assemble_ave(out, extractor.name))
        except AvlocateError as exc:
            summary.notes.append(f"AVE .h5 files not written: {exc}")
    return summary
