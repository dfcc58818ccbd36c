"""Batching across videos: forwards requested by several threads at once run as one.

Each extractor already batches its own windows (24 RAFT pairs, 32 CLIP frames, ...). With
several videos in flight in one process (``batch --videos-in-flight K``), every network call
goes through a :class:`Coalescer`: calls that arrive together with compatible inputs (same
per-row shape, dtype and device, same keyword arguments) are concatenated along the batch axis,
run as a single forward, and each caller gets back its own rows. On a GPU that turns K small
batches into one large one; on a CPU, where a single video already keeps the cores busy, it
mainly overlaps one video's decoding with another's inference.

There is no extra thread: the first caller that finds no forward running becomes the leader,
waits for the other in-flight videos to submit (until ``expected()`` callers are queued, or at
most half the last forward's duration, capped by ``max_wait_s``: waiting is worth it only while
it is short next to the forward it saves), runs the oldest request's group, and hands the rows
out.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

__all__ = ["Coalescer", "CoalescedModule", "split_rows"]


def _tensor_args(args: tuple) -> list[torch.Tensor]:
    return [a for a in args if isinstance(a, torch.Tensor)]


def _key(args: tuple, kwargs: dict) -> tuple:
    """Calls with equal keys can share a forward: per-row shapes, dtypes, devices, other args."""
    parts: list[Any] = []
    for a in args:
        if isinstance(a, torch.Tensor):
            parts.append(("T", tuple(a.shape[1:]), a.dtype, str(a.device)))
        else:
            parts.append(("V", repr(a)))
    parts.append(tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
    return tuple(parts)


def split_rows(output: Any, sizes: list[int]) -> list[Any]:
    """Split a batch-first output (tensor, or list/tuple of them, nested) into per-caller parts."""
    if isinstance(output, torch.Tensor):
        if output.shape[0] != sum(sizes):
            raise ValueError(f"a coalesced forward returned {output.shape[0]} rows for {sum(sizes)} inputs")
        return list(torch.split(output, sizes))
    if isinstance(output, (list, tuple)):
        columns = [split_rows(item, sizes) for item in output]
        return [type(output)(col[i] for col in columns) for i in range(len(sizes))]
    raise TypeError(f"cannot split a {type(output).__name__} output by rows")


@dataclass(eq=False)
class _Request:
    args: tuple
    kwargs: dict
    key: tuple
    rows: int
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class Coalescer:
    """Thread-safe wrapper of ``fn(*batch_first_tensors, **kwargs)``; see the module docstring.

    ``expected``: how many callers may be submitting (the videos in flight); the leader stops
    waiting as soon as that many requests are queued. It waits at least ``min_wait_s`` (unless
    all are there) and at most ``max_wait_s``. ``calls`` and ``rows`` count the forwards
    run and the rows they carried (for tests and benchmarks).
    """

    def __init__(self, fn: Callable[..., Any], max_batch: int = 64, max_wait_s: float = 0.1,
                 expected: Callable[[], int] = lambda: 1, min_wait_s: float = 0.005) -> None:
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.min_wait_s = min_wait_s
        self.expected = expected
        self.calls = 0
        self.rows = 0
        self._cond = threading.Condition()
        self._pending: list[_Request] = []
        self._running = False
        self._last_forward_s = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tensors = _tensor_args(args)
        if not tensors or any(isinstance(v, torch.Tensor) for v in kwargs.values()):
            return self.fn(*args, **kwargs)  # nothing batch-first to merge (tensor keywords are not merged)
        req = _Request(args, kwargs, _key(args, kwargs), int(tensors[0].shape[0]))
        with self._cond:
            self._pending.append(req)
            self._cond.notify_all()
            while not req.done:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                group = self._gather()
                self._cond.release()
                try:
                    self._run(group)
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
        if req.error is not None:
            raise req.error
        return req.result

    def _gather(self) -> list[_Request]:
        """(Lock held.) Wait briefly for company, then take the oldest request's group."""
        deadline = time.monotonic() + min(self.max_wait_s, max(self.min_wait_s, 0.5 * self._last_forward_s))
        while True:
            key = self._pending[0].key
            rows = sum(r.rows for r in self._pending if r.key == key)
            left = deadline - time.monotonic()
            if rows >= self.max_batch or len(self._pending) >= self.expected() or left <= 0:
                break
            self._cond.wait(min(left, 0.005))  # wakes on a new request; re-reads expected() (videos finish)
        group, rows = [], 0
        for r in list(self._pending):
            if r.key == key and (not group or rows + r.rows <= self.max_batch):
                group.append(r)
                rows += r.rows
        for r in group:
            self._pending.remove(r)
        return group

    def _run(self, group: list[_Request]) -> None:
        """(Lock released.) One forward for the whole group; each request gets its rows."""
        started = time.monotonic()
        try:
            if len(group) == 1:
                outputs = [self.fn(*group[0].args, **group[0].kwargs)]
            else:
                merged = tuple(
                    torch.cat([r.args[i] for r in group]) if isinstance(a, torch.Tensor) else a
                    for i, a in enumerate(group[0].args)
                )
                outputs = split_rows(self.fn(*merged, **group[0].kwargs), [r.rows for r in group])
            for r, out in zip(group, outputs):
                r.result = out
            self.calls += 1
            self.rows += sum(r.rows for r in group)
            self._last_forward_s = time.monotonic() - started
        except BaseException as exc:  # noqa: BLE001 — every caller of the group gets the error
            for r in group:
                r.error = exc
        finally:
            for r in group:
                r.done = True


class CoalescedModule(nn.Module):
    """An ``nn.Module`` whose forward goes through a :class:`Coalescer` (parameters stay visible)."""

    def __init__(self, inner: nn.Module, **coalescer_args: Any) -> None:
        super().__init__()
        self.inner = inner
        self.coalescer = Coalescer(inner, **coalescer_args)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.coalescer(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:  # e.g. open_clip's visual.image_size: answered by the wrapped module
            return getattr(self._modules["inner"], name)
