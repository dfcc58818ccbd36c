"""``avlocate batch``: every video of a folder, one JSON line each, resumable.

Each line is written as soon as its video is done, then flushed and fsynced, so a crash loses at
most the video in flight. A failed video becomes a line with an ``"error"`` field and the batch
goes on. On a re-run the videos already in the output are skipped (``overwrite`` redoes them);
a torn last line (from a kill mid-write) is cut off before appending.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .errors import AvlocateError, InputNotFoundError, OutputError
from .results import Result

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".flv", ".wmv", ".3gp", ".ogv"}
)


def find_videos(folder: Path) -> list[Path]:
    """Video files under ``folder`` (recursive, sorted, symlink loops ignored)."""
    if not folder.exists():
        raise InputNotFoundError(f"{folder}: no such folder; check the path")
    if not folder.is_dir():
        raise InputNotFoundError(f"{folder}: not a folder; use `avlocate run` for single files")
    found: list[Path] = []
    seen_dirs: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        st = os.stat(root)
        if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop: do not descend again
            dirs[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirs.sort()
        for name in files:
            p = Path(root) / name
            if p.suffix.lower() in VIDEO_EXTENSIONS:
                found.append(p)
    return sorted(found)


def _read_done(out: Path) -> set[str]:
    """Videos already in ``out``; a torn (unterminated or invalid) last line is removed."""
    if not out.exists():
        return set()
    data = out.read_bytes()
    done: set[str] = set()
    good_end = 0
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break  # last line has no newline: torn
        line = data[pos:nl]
        try:
            done.add(json.loads(line)["video"])
        except (ValueError, KeyError, TypeError):
            break  # an invalid line can only be the torn end of a killed run
        good_end = nl + 1
        pos = nl + 1
    if good_end < len(data):
        with open(out, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return done


@dataclass
class BatchSummary:
    total: int
    skipped: int
    succeeded: int
    failed: int


def _run_one(video: str, options: dict) -> dict:
    from .pipeline import locate

    try:
        return locate(video, **options).to_dict()
    except AvlocateError as exc:
        return Result.failure(video, str(exc), exc.exit_code).to_dict()
    except Exception as exc:  # noqa: BLE001 — a batch records every failure and goes on
        msg = f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return Result.failure(video, msg, 70).to_dict()


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)  # several workers share the cores


def run_batch(
    folder: Path,
    out: Path,
    options: dict,
    workers: int = 1,
    overwrite: bool = False,
    on_done: Callable[[dict], None] | None = None,
) -> BatchSummary:
    videos = find_videos(folder)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if overwrite and out.exists():
            out.unlink()
        done = _read_done(out)
        handle = open(out, "a", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{out}: cannot write results ({exc.strerror or exc}); choose a writable --out") from None
    todo = [str(v) for v in videos if str(v) not in done]
    summary = BatchSummary(total=len(videos), skipped=len(videos) - len(todo), succeeded=0, failed=0)

    def results() -> Iterator[dict]:
        if workers <= 1 or len(todo) <= 1:
            for v in todo:
                yield _run_one(v, options)
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
                yield from pool.map(_run_one, todo, [options] * len(todo))

    with handle:
        for record in results():
            line = json.dumps(record, ensure_ascii=False) + "\n"
            try:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as exc:
                raise OutputError(f"{out}: writing failed ({exc.strerror or exc}); results so far are kept") from None
            if "error" in record:
                summary.failed += 1
            else:
                summary.succeeded += 1
            if on_done is not None:
                on_done(record)
    return summary
