"""Run batch jobs in persistent worker processes, with a per-job time limit and crash isolation.

Why processes and not threads: a hang inside FFmpeg or a native crash (segfault) cannot be
interrupted or survived from inside the process. Each worker is started once and reused for many
videos (imports and model loading are paid once); a worker that exceeds the time limit is
SIGKILLed and replaced (its video becomes an error record), one that dies is replaced (its video
is retried once, alone, then becomes an error record), and the batch goes on.

Jobs are handed out one at a time per worker, so with one worker the results come back in input
order; with several they come back as they finish. With ``in_flight`` K > 1 a worker holds up to K
jobs at once (threads sharing its model, :mod:`avlocate.runners.in_flight`), each with its own deadline
from the moment it was handed over. When one of them times out the worker is killed: that video
becomes an error record and the others are handed out again. When a worker dies (a segfault, or a
SIGKILL from outside such as the OOM killer's), every job it held runs once more, alone (a
"suspect" gets a fresh worker to itself): a kill that does not recur costs nothing, and with
several jobs in flight the culprit is found. Only a job that kills its worker alone becomes an
error record.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AvlocateError

#: Seconds a worker may take to import and warm up before it counts as broken.
STARTUP_LIMIT = 300.0

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # so `-m avlocate...` works uninstalled


class WorkerStartupError(RuntimeError):
    """A worker died or hung before it was ready: an environment problem, not a bad video."""


class WorkerFatalError(AvlocateError):
    """A worker could not build what every video needs (its warm-up failed with a user error):
    the batch stops with that line and its exit code, before any video."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class _Slot:
    proc: subprocess.Popen | None = None
    fd: int = -1
    buffer: bytearray = field(default_factory=bytearray)
    state: str = "dead"  # dead | starting | ready
    jobs: dict[str, float] = field(default_factory=dict)  # video -> its deadline
    alone: bool = False  # runs a suspect, which gets the worker to itself
    deadline: float = float("inf")  # of the start-up

    def next_deadline(self) -> float:
        if self.state == "starting":
            return self.deadline
        return min(self.jobs.values(), default=float("inf"))


@dataclass
class JobFailure:
    """Why a job produced no record: ``kind`` is "timeout" or "crash"."""

    video: str
    kind: str
    detail: str


class Supervisor:
    """A fixed number of worker processes running ``target(video, options) -> dict``."""

    def __init__(self, target: str, options: dict, workers: int = 1,
                 timeout: float | Callable[[str], float | None] | None = None,
                 warmup: str | None = None, env: dict[str, str] | None = None,
                 per_worker: list[dict] | None = None, in_flight: int = 1, share: str | None = None) -> None:
        """``per_worker[i % len]`` overrides options for worker i (e.g. its own GPU); ``in_flight``
        jobs per worker at once, ``share`` ("module:function") wraps their model's networks.
        ``timeout``: seconds per video, or a function giving each video its own (None: no limit)."""
        self.config = {"target": target, "warmup": warmup, "options": options,
                       "threads": 1 if workers > 1 else None, "in_flight": max(1, in_flight), "share": share}
        self.in_flight = max(1, in_flight)
        self.pending: deque[str] = deque()
        self.suspects: deque[str] = deque()
        self.per_worker = per_worker or [{}]
        self.timeout = timeout
        self.limits: dict[str, float] = {}  # video -> the limit it was given (for the error line)
        self.slots = [_Slot() for _ in range(max(1, workers))]
        self.env = dict(os.environ if env is None else env)
        self.env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, self.env.get("PYTHONPATH")) if p)
        self.selector = selectors.DefaultSelector()

    # -- process management -------------------------------------------------------------------
    def _start(self, slot: _Slot) -> None:
        read_fd, write_fd = os.pipe()
        try:
            slot.proc = subprocess.Popen(
                [sys.executable, "-m", "avlocate.runners.worker", str(write_fd), str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(write_fd,), env=self.env,
            )
        finally:
            os.close(write_fd)
        slot.fd, slot.buffer, slot.state, slot.jobs, slot.alone = read_fd, bytearray(), "starting", {}, False
        slot.deadline = time.monotonic() + STARTUP_LIMIT
        self.selector.register(read_fd, selectors.EVENT_READ, slot)
        own = self.per_worker[self.slots.index(slot) % len(self.per_worker)]
        self._send(slot, {**self.config, "options": {**self.config["options"], **own}})

    def _send(self, slot: _Slot, message: dict) -> bool:
        assert slot.proc is not None and slot.proc.stdin is not None
        try:
            slot.proc.stdin.write((json.dumps(message) + "\n").encode("ascii"))  # ASCII: any file name passes
            slot.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False  # the worker is gone; its EOF on the channel reports it

    def _stop(self, slot: _Slot, kill: bool) -> str:
        """End the slot's worker; returns how it ended ("exit code N" / "signal NAME")."""
        proc = slot.proc
        if slot.fd >= 0:
            self.selector.unregister(slot.fd)
            os.close(slot.fd)
        slot.fd, slot.state, slot.proc, slot.jobs, slot.alone = -1, "dead", None, {}, False
        if proc is None:
            return "not running"
        if kill and proc.poll() is None:
            proc.kill()
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if code < 0:
            try:
                return f"signal {signal.Signals(-code).name}"
            except ValueError:
                return f"signal {-code}"
        return f"exit code {code}"

    def close(self) -> None:
        for slot in self.slots:
            if slot.proc is not None:
                # Idle workers end on stdin EOF; busy ones (an interrupted batch) are killed.
                self._stop(slot, kill=slot.state != "ready" or bool(slot.jobs))
        self.selector.close()

    # -- scheduling ----------------------------------------------------------------------------
    def run(self, videos: list[str], make_failure: Callable[[JobFailure], dict]) -> Iterator[dict]:
        """Records of ``videos`` as they finish (input order with one worker, one job at a time)."""
        self.pending, self.suspects = deque(videos), deque()
        try:
            while self.pending or self.suspects or any(s.jobs for s in self.slots):
                for slot in self.slots:
                    if (self.pending or self.suspects) and slot.state == "dead":
                        self._start(slot)
                    if slot.state == "ready":
                        self._fill(slot)
                yield from self._wait(make_failure)
        finally:
            self.close()

    def _fill(self, slot: _Slot) -> None:
        if slot.alone:
            return
        if self.suspects:  # suspects first; busy workers take nothing new until one is free for them
            if not slot.jobs:
                slot.alone = True
                self._hand(slot, self.suspects.popleft())
            return
        while self.pending and len(slot.jobs) < self.in_flight:
            self._hand(slot, self.pending.popleft())

    def _hand(self, slot: _Slot, video: str) -> None:
        limit = self.timeout(video) if callable(self.timeout) else self.timeout
        if limit:
            self.limits[video] = limit
        slot.jobs[video] = time.monotonic() + limit if limit else float("inf")
        self._send(slot, {"video": video})

    def _wait(self, make_failure: Callable[[JobFailure], dict]) -> Iterator[dict]:
        now = time.monotonic()
        next_deadline = min((s.next_deadline() for s in self.slots), default=float("inf"))
        wait = None if next_deadline == float("inf") else max(0.0, next_deadline - now)
        for key, _ in self.selector.select(wait):
            slot: _Slot = key.data
            chunk = os.read(slot.fd, 1 << 16)
            if not chunk:
                yield from self._died(slot, make_failure)
                continue
            slot.buffer += chunk
            while b"\n" in slot.buffer:
                line, _, rest = bytes(slot.buffer).partition(b"\n")
                slot.buffer = bytearray(rest)
                message = json.loads(line)
                if "fatal" in message:
                    self._stop(slot, kill=True)
                    raise WorkerFatalError(str(message["fatal"]), int(message.get("code") or 70))
                if message.get("ready"):
                    slot.state, slot.deadline = "ready", float("inf")
                elif "result" in message and message.get("job") in slot.jobs:
                    del slot.jobs[message["job"]]
                    slot.alone = slot.alone and bool(slot.jobs)
                    yield message["result"]
        now = time.monotonic()
        for slot in self.slots:
            late = [v for v, deadline in slot.jobs.items() if now >= deadline]
            if late:
                others = [v for v in slot.jobs if v not in late]
                self._stop(slot, kill=True)
                self.pending.extendleft(reversed(others))  # innocent: handed out again first
                for video in late:
                    yield make_failure(JobFailure(video, "timeout", f"no result within {self.limits[video]:g} s"))
            elif slot.state == "starting" and now >= slot.deadline:
                self._stop(slot, kill=True)
                raise WorkerStartupError(f"a batch worker process was not ready after {STARTUP_LIMIT:g} s")

    def _died(self, slot: _Slot, make_failure: Callable[[JobFailure], dict]) -> Iterator[dict]:
        state, jobs, alone = slot.state, list(slot.jobs), slot.alone
        how = self._stop(slot, kill=True)
        if state == "starting":
            raise WorkerStartupError(f"a batch worker process ended before it was ready ({how}); "
                                     "run with --debug or with --in-process to see why")
        if alone and len(jobs) == 1:  # it already had a worker to itself: this video kills workers
            yield make_failure(JobFailure(jobs[0], "crash", how))
        else:  # a kill from outside (OOM) may not recur, and with several in flight the culprit is
            self.suspects.extend(jobs)  # unknown: each runs once more, alone
