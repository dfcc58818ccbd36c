"""Resuming a batch safely: the lines already in ``--out`` must come from the same model.

A re-run skips the videos already in the output. That is only right when those lines were made
with the same model, weights and settings; otherwise the file would silently mix two models.
:func:`check_resume` refuses such a re-run (exit 2, one line) and reports the videos whose line
is an error, so the re-run still exits 1 for them. :func:`drop_failed_lines` removes those error
lines (``--retry-failed``) under the batch's lock, by an atomic rewrite, so the batch redoes them.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OutputError, UsageError
from .jsonl import ResultsFile, open_regular, refusal, scan_fd
from .preflight import BatchPlan


#: What resume compares; a line's other fields (events, scores) are not kept in memory.
_RESUME_KEYS = ("video", "model", "weights", "settings", "error")


def last_lines(out: Path) -> dict[str, dict]:
    """The last valid line of each video in ``out`` (empty when there is no file yet), reduced
    to what resume compares. ``out`` must be a regular file (never a FIFO or a device) whose
    lines are avlocate result lines; it is read line by line (see :mod:`.jsonl`)."""
    try:
        fd = open_regular(Path(out), os.O_RDONLY)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise OutputError(f"{out}: cannot read existing results ({exc.strerror or exc}); choose another --out") from None
    lines: dict[str, dict] = {}

    def keep(record: dict) -> None:
        lines[record["video"]] = {k: record[k] for k in _RESUME_KEYS if k in record}

    try:
        scan = scan_fd(fd, os.fstat(fd).st_size, out, on_record=keep)
    except OSError as exc:
        raise OutputError(f"{out}: cannot read existing results ({exc.strerror or exc}); choose another --out") from None
    finally:
        os.close(fd)
    why = refusal(out, scan)
    if why:
        raise OutputError(why)
    return lines


def _describe(model: object, weights: object) -> str:
    return f"model {model!r} (weights {weights})"


@dataclass
class ResumeState:
    failed: list[str] = field(default_factory=list)  # videos of this batch whose line is an error


def check_resume(out: Path, plan: BatchPlan, videos: list[str], shards: list[Path] | None = None) -> ResumeState:
    """Refuse when a finished line of ``out`` was made with another model, weights or settings.
    ``shards``: Ray shard files not yet folded into ``out`` (their lines count as if they were)."""
    state = ResumeState()
    wanted = set(videos)
    lines = last_lines(out)
    for shard in shards or []:
        for video, record in last_lines(shard).items():
            lines.setdefault(video, record)
    for video, record in lines.items():
        if "error" in record:
            if video in wanted:
                state.failed.append(video)
            continue
        settings = record.get("settings")  # absent on lines written before it was recorded
        if (record.get("model"), record.get("weights")) != (plan.model, plan.weights):
            raise UsageError(
                f"{out}: {video} was done with {_describe(record.get('model'), record.get('weights'))}, this run uses "
                f"{_describe(plan.model, plan.weights)}; use --overwrite to start over, or another --out")
        if settings is not None and settings != plan.settings:
            raise UsageError(
                f"{out}: {video} was done with settings {json.dumps(settings)}, this run uses "
                f"{json.dumps(plan.settings)}; give the same options, --overwrite to start over, or another --out")
    return state


def drop_failed_lines(out: Path, videos: list[str], shards: list[Path] | None = None) -> int:
    """Remove the lines of ``videos`` (whose last line is an error) from ``out`` and from the Ray
    ``shards`` that feed it (else the next fold would bring them back); returns how many videos.

    Each file is rewritten under the batch lock (a temporary file, fsynced, renamed over it), so a
    crash leaves either the old file or the new one, never a mix.
    """
    out = Path(out)
    if not videos:
        return 0
    drop = set(videos)
    for path in [out, *(shards or [])]:
        _rewrite_without(Path(path), drop)
    return len(drop)


def _rewrite_without(path: Path, drop: set[str]) -> None:
    _rewrite(path, lambda lines: [raw for raw in lines if json.loads(raw).get("video") not in drop])


def video_order(out: Path) -> list[str]:
    """The videos of ``out``'s lines, in file order (read before ``--retry-failed`` drops some)."""
    out = Path(out)
    if not out.exists():
        return []
    with ResultsFile(out) as results:
        data = os.pread(results.fd, os.fstat(results.fd).st_size, 0)
    return [json.loads(raw).get("video") for raw in data.splitlines()]


def put_back_in_place(out: Path, order: list[str], retried: set[str]) -> None:
    """After a ``--retry-failed`` run: each retried video's new line takes the place its error
    line had (``order``: the file's videos before the error lines were dropped), so the output
    reads as if the video had succeeded the first time. Same lock and atomic rewrite."""
    if not retried:
        return

    def reorder(lines: list[bytes]) -> list[bytes]:
        videos = [json.loads(raw).get("video") for raw in lines]
        latest = dict(zip(videos, lines))  # a video's last line in the file now
        result: list[bytes] = []
        placed: set[str] = set()
        for video in order:  # the earlier lines' order, each video with its latest line
            if video in latest and video not in placed:
                result.append(latest[video])
                placed.add(video)
        result += [raw for video, raw in zip(videos, lines) if video not in placed]  # videos new to this file
        return result

    _rewrite(Path(out), reorder)


def _rewrite(path: Path, change) -> None:  # noqa: ANN001 - lines -> lines
    if not path.exists():
        return
    with ResultsFile(path) as results:  # the lock, and a torn last line repaired first
        data = os.pread(results.fd, os.fstat(results.fd).st_size, 0)
        lines = data.splitlines(keepends=True)
        kept = change(lines)
        if kept == lines:
            return  # nothing to change here
        tmp = path.with_name(f".{path.name}.retry.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(b"".join(kept))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"{path}: cannot rewrite the results to retry failed videos ({exc.strerror or exc}); "
                              "make room and re-run") from None
