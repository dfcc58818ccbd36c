"""``avlocate batch``: every video of a folder, one JSON line each, resumable.

Each line is written as soon as its video is done, then flushed and fsynced, so a crash loses at
most the video in flight. A failed video becomes a line with an ``"error"`` field and the batch
goes on. On a re-run the videos already in the output are skipped (``overwrite`` redoes them);
a torn last line (from a kill mid-write) is cut off before appending. The output file is locked
while a batch writes it (a second batch on it refuses), and a failed write (full disk) leaves no
partial line: see :mod:`avlocate.runners.jsonl`. By default the videos run in a supervised
worker process (:mod:`avlocate.runners.supervisor`; one, reused, its model loaded once), so a
crash inside a decoder or an OOM kill does not stop the batch; with a per-video ``timeout`` a hang
does not either. ``in_process`` runs them in this process instead (no isolation).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EXIT_INTERNAL, AvlocateError, InputNotFoundError, TimeoutError_, UsageError
from .jsonl import ResultsFile
from .supervisor import JobFailure, Supervisor, WorkerStartupError
from .worker import resolve
from ..results import Result


class BatchWorkerError(AvlocateError):
    """Worker processes could not be started (an environment problem, not a bad video)."""

    exit_code = EXIT_INTERNAL

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".flv", ".wmv", ".3gp", ".ogv"}
)


def find_videos(folder: Path, skipped: list[Path] | None = None,
                duplicates: list[str] | None = None) -> list[Path] | list[str]:
    """Video files under ``folder`` (recursive, sorted, symlink loops ignored); the other files
    are appended to ``skipped`` when given (so the CLI can say what it left out). For a list file
    (LIST.txt): the paths and URLs it names, in its order (media/source.py).

    Each video is kept once, by its resolved path (a list naming it twice, ``a/../a/x.mp4``, a
    link to a file of the folder); the later spellings go to ``duplicates``. A subfolder that
    cannot be read refuses the batch before it starts (one line naming it): skipping it would
    report a complete batch that is not."""
    from ..media.inputs import is_list_file, read_list

    if is_list_file(folder):
        return _unique(read_list(folder), duplicates)
    if not folder.exists():
        raise InputNotFoundError(f"{folder}: no such folder; check the path")
    if not folder.is_dir():
        raise InputNotFoundError(f"{folder}: not a folder; use `avlocate run` for single files")
    found: list[Path] = []
    unreadable: list[OSError] = []
    seen_dirs: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(folder, followlinks=True, onerror=unreadable.append):
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
            elif skipped is not None:
                skipped.append(p)
    if unreadable:
        exc = unreadable[0]
        more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
        raise InputNotFoundError(f"{exc.filename}: cannot read this folder ({exc.strerror or exc}){more}; make it "
                                 f"readable or move it out of {folder}, then re-run (nothing was processed)")
    return _unique(sorted(found), duplicates)


def _unique(videos: list, duplicates: list[str] | None) -> list:  # noqa: ANN001 - Paths or strings, kept as given
    """``videos`` with each file once (by resolved path; URLs by their text), first spelling kept."""
    from ..media.inputs import is_stream

    seen: set[str] = set()
    kept = []
    for video in videos:
        key = str(video) if is_stream(str(video)) else os.path.realpath(video)
        if key in seen:
            if duplicates is not None:
                duplicates.append(str(video))
            continue
        seen.add(key)
        kept.append(video)
    return kept


def _read_done(out: Path) -> set[str]:
    """Videos already in ``out``; a torn (unterminated or invalid) last line is removed."""
    if not out.exists():
        return set()
    with ResultsFile(out) as results:
        return set(results.done)


@dataclass
class BatchSummary:
    total: int
    skipped: int
    succeeded: int
    failed: int


def split_devices(device: str | None) -> list[str]:
    """``--device cuda:0,cuda:1`` -> one device per worker, round robin; one device -> [device]."""
    devices = [d.strip() for d in (device or "auto").split(",")]
    if any(not d for d in devices):
        raise UsageError(f"--device {device!r}: give devices separated by commas, e.g. cuda:0,cuda:1")
    return devices


def record_all(records: Iterator[dict], results: ResultsFile, summary: BatchSummary,
               on_done: Callable[[dict], None] | None, settings: dict | None = None) -> None:
    """Append each record as it comes (whole line, fsynced) and count it; every engine uses this.
    ``settings`` (threshold, precision) is written into each line, so a resumed batch can check
    that it runs with the same ones (:mod:`avlocate.runners.resume_check`)."""
    for record in records:
        if settings is not None:
            record = {**record, "settings": settings}
        results.append(record)
        if "error" in record:
            summary.failed += 1
        else:
            summary.succeeded += 1
        if on_done is not None:
            on_done(record)


def batch_options(model: str | None, options: Any) -> dict:
    """What a batch hands its workers (JSON to a worker process, pickled to a Ray actor): the
    model name and the run's :class:`~avlocate.pipeline.options.RunOptions` as a flat dict."""
    return {"model": model, **options.to_dict()}


_held: tuple[tuple, Any] | None = None  # this process's loaded model: (what it was loaded for, model)


def held_model(options: dict) -> Any:
    """The model a batch process (in process, a worker, a Ray actor) holds for its videos:
    loaded through the one door on first use, kept while the batch's options and the weights
    search path stay the same (a process runs one batch's videos; tests run several)."""
    global _held
    from ..pipeline.models import load
    from ..pipeline.options import RunOptions
    from ..weights.store import search_path

    key = (repr(sorted(options.items())), tuple(str(p) for p in search_path()))
    if _held is None or _held[0] != key:
        _held = None
        # fetch=False: the batch command fetched once, before any worker started
        _held = (key, load(options.get("model"), RunOptions.from_dict(options), fetch=False))
    return _held[1]


def _run_one(video: str, options: dict) -> dict:
    try:
        return held_model(options).locate(video).to_dict()
    except AvlocateError as exc:
        return Result.failure(video, str(exc), exc.exit_code).to_dict()
    except Exception as exc:  # noqa: BLE001 — a batch records every failure and goes on
        msg = f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return Result.failure(video, msg, EXIT_INTERNAL).to_dict()


def _warm_up(options: dict) -> None:
    """Load the model once in a fresh worker, so that --timeout never counts the loading."""
    held_model(options)


def _share_model(options: dict, counter: Any) -> None:
    """Share the networks of the model every video's ``locate()`` gets (held per process)."""
    from .in_flight import share_extractor

    try:
        loaded = held_model(options)
    except AvlocateError:
        return  # each video reports the error on its own line, as without --videos-in-flight
    share_extractor(loaded.extractor, counter)


def _in_flight_records(todo: list[str], options: dict, target: str, in_flight: int) -> Iterator[dict]:
    from .in_flight import InFlightCounter, run_in_flight

    counter = InFlightCounter()
    if target == "avlocate.runners.batch:_run_one" and todo:
        _share_model(options, counter)
    function = resolve(target)
    return run_in_flight(todo, lambda video: function(video, options), in_flight, counter)


def _failure_record(failure: JobFailure, timeout: float | None) -> dict:
    if failure.kind == "timeout":
        if timeout is None:  # the default limit (time_limit.py)
            from .time_limit import describe_default

            why = (f"the default limit, {describe_default()}); stopped and skipped, set a larger --timeout "
                   "or --no-timeout if the video is just slow")
        else:
            why = f"--timeout {timeout:g}); stopped and skipped, raise --timeout if the video is just long"
        return Result.failure(failure.video, f"{failure.video}: {failure.detail} ({why}",
                              TimeoutError_.exit_code).to_dict()
    return Result.failure(
        failure.video,
        f"{failure.video}: the worker process died while processing it, also when retried alone "
        f"({failure.detail}); the file may crash the decoder, check that it plays in a media player",
        EXIT_INTERNAL,
    ).to_dict()


def run_batch(
    folder: Path,
    out: Path,
    options: dict,
    workers: int = 1,
    overwrite: bool = False,
    on_done: Callable[[dict], None] | None = None,
    timeout: float | None = None,
    target: str = "avlocate.runners.batch:_run_one",
    env: dict[str, str] | None = None,
    in_flight: int = 1,
    in_process: bool = False,
    settings: dict | None = None,
    default_limit: bool = False,
    videos: list | None = None,
) -> BatchSummary:
    """Process every video of ``folder`` into ``out`` (see the module docstring).

    Videos run in supervised worker processes (one by default; ``workers`` of them, or one per
    device of ``options["device"]`` = "cuda:0,cuda:1": worker i uses device i mod n): a video that
    takes longer than ``timeout`` becomes an error line (exit code 9); one whose worker dies is
    retried once alone, then becomes an error line (exit code 70); the worker is replaced and the
    batch goes on. ``in_process`` runs them in this process instead: no process start-up, but a
    crash or an OOM kill ends the batch (resume it by running it again). ``in_flight`` > 1
    processes that many videos at a time (per worker process, or in this process) on threads
    sharing one model, their network forwards batched together (:mod:`avlocate.runners.in_flight`); with a
    ``timeout`` each video's limit runs from the moment its worker gets it.
    ``default_limit`` (the CLI's default): without ``timeout``, each video gets a limit
    proportional to its length (:mod:`avlocate.runners.time_limit`).
    ``target`` ("module:function", called as
    ``function(video, options) -> dict``) and ``env`` (the workers' environment) exist for tests.
    """
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout {timeout:g} must be positive (seconds per video)")
    devices = split_devices(options.get("device"))
    if in_flight < 1:
        raise UsageError(f"--videos-in-flight {in_flight} must be at least 1")
    if len(devices) > 1:  # one worker process per device at least, each loading its model there
        workers = max(workers, len(devices))
    if in_process and (timeout is not None or workers > 1 or len(devices) > 1):
        raise UsageError("--in-process runs the videos inside the batch process: it does not combine with "
                         "--timeout, --workers or several devices, which need worker processes")
    videos = find_videos(folder) if videos is None else videos  # the walk the batch start made, not a second
    with ResultsFile(out, overwrite=overwrite) as results:
        todo = [str(v) for v in videos if str(v) not in results.done]
        summary = BatchSummary(total=len(videos), skipped=len(videos) - len(todo), succeeded=0, failed=0)
        records: Iterator[dict]
        if in_process:
            if in_flight > 1:
                records = _in_flight_records(todo, options, target, in_flight)
            else:
                function = resolve(target)
                records = (function(v, options) for v in todo)
        else:
            limit = timeout
            if limit is None and default_limit:
                from .time_limit import default_limit as limit  # type: ignore[assignment]
            supervisor = Supervisor(target, options, workers=min(workers, max(1, len(todo))), timeout=limit,
                                    warmup="avlocate.runners.batch:_warm_up" if target == "avlocate.runners.batch:_run_one" else None,
                                    env=env, per_worker=[{"device": d} for d in devices], in_flight=in_flight,
                                    share="avlocate.runners.batch:_share_model" if target == "avlocate.runners.batch:_run_one" else None)
            records = supervisor.run(todo, lambda failure: _failure_record(failure, timeout))
        try:
            record_all(records, results, summary, on_done, settings)
        except WorkerStartupError as exc:
            raise BatchWorkerError(str(exc)) from None
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()  # stops the worker processes, also on an error or Ctrl-C
    return summary
