"""A batch worker process: reads jobs on stdin, writes one JSON message per line on a private fd.

Started by :mod:`avlocate.runners.supervisor` as ``python -m avlocate.runners.worker FD PPID``.
Protocol (one JSON object per line):

* stdin, first line: ``{"target": "module:function", "warmup": "module:function" | null,
  "options": {...}, "threads": int | null, "in_flight": int, "share": "module:function" | null}``;
  then one ``{"video": path}`` per job.
* FD: ``{"ready": true}`` once imports and warm-up are done (so a time limit never counts the
  start-up), then ``{"result": record, "job": path}`` per job: in order with ``in_flight`` 1;
  with ``in_flight`` K > 1 up to K jobs run at once on threads sharing the model (``share``
  wraps its networks, see :mod:`avlocate.runners.in_flight`) and results come as they finish.

Stdout is redirected to stderr: a library that prints must not corrupt the protocol. The worker
ignores Ctrl-C (the supervisor decides when it ends) and dies with its parent, so a SIGKILLed
``avlocate batch`` leaves no hung decoder behind.
"""
from __future__ import annotations

import importlib
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def resolve(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _die_with_parent(parent: int) -> None:
    """Linux: ask the kernel to SIGKILL us when the supervisor dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):  # pragma: no cover - exotic libc
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def main(argv: list[str]) -> int:
    fd, parent = int(argv[0]), int(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    from ..allocator import pin_mmap_threshold

    pin_mmap_threshold()  # flat memory on long videos (see avlocate/allocator.py)
    channel = os.fdopen(fd, "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    config = json.loads(sys.stdin.readline() or "{}")
    if config.get("threads"):
        import torch

        torch.set_num_threads(int(config["threads"]))  # several workers share the cores
    target = resolve(config["target"])
    options = config.get("options") or {}
    if config.get("warmup"):
        from ..errors import AvlocateError

        try:
            resolve(config["warmup"])(options)
        except AvlocateError as exc:
            # The model cannot be built here (an unknown extractor, weights that do not fit, an
            # absent GPU): every video would fail the same way, so the batch stops with this one
            # line before any video instead of writing an error line for each.
            channel.write(json.dumps({"fatal": str(exc), "code": exc.exit_code}) + "\n")
            return
        except Exception:  # noqa: BLE001 - the first job reports the same problem as its error line
            pass
    in_flight = max(1, int(config.get("in_flight") or 1))
    run = _threaded_jobs(target, options, in_flight, config.get("share"), channel) if in_flight > 1 else None
    channel.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        if run is not None:
            run(job["video"])
            continue
        record = target(job["video"], options)
        _send(channel, record, job["video"])
    # stdin ended: the supervisor has nothing more for this worker and no job of it is running.
    # Everything owed is on the channel, so the interpreter's teardown (torch's alone takes about
    # half a second) is skipped: the batch waits for this exit at its end.
    channel.flush()
    sys.stderr.flush()
    os._exit(0)


def _send(channel: Any, record: dict, video: str) -> None:
    # ASCII escapes: names that are not UTF-8 survive
    channel.write(json.dumps({"result": record, "job": video}) + "\n")


def _threaded_jobs(target: Callable[..., Any], options: dict, in_flight: int, share: str | None,
                   channel: Any) -> Callable[[str], None]:
    """A function that starts one job on the worker's in-flight threads (the supervisor never
    sends more than ``in_flight`` at once). A job that raises ends the worker, as it does without
    threads, so that the supervisor reports it instead of waiting for a result that never comes."""
    import threading
    import traceback
    from concurrent.futures import ThreadPoolExecutor

    from .in_flight import InFlightCounter

    counter = InFlightCounter()
    if share:
        resolve(share)(options, counter)
    pool = ThreadPoolExecutor(in_flight, thread_name_prefix="avlocate-video")
    lock = threading.Lock()

    def job(video: str) -> None:
        try:
            with counter:
                record = target(video, options)
            with lock:
                _send(channel, record, video)
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
            os._exit(70)

    def start(video: str) -> None:
        pool.submit(job, video)

    return start


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
