"""Several videos in flight in one process, their network forwards batched together.

``batch --videos-in-flight K`` runs K videos at a time on threads that share one loaded model.
Decoding (PyAV) and the tensor ops release the GIL, so the threads overlap; each network of the
extractor is wrapped once in a :class:`avlocate.runners.coalesce.CoalescedModule`, so forwards requested
by different videos at the same moment run as one batch (see :mod:`avlocate.runners.coalesce`). What is
not shared: the dense head (one call per video, sequences of different lengths).
"""
from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

# coalesce loads torch: only share_extractor needs it (imported there), so a batch worker whose
# job needs no torch starts in a fraction of the time.
if TYPE_CHECKING:
    from .coalesce import CoalescedModule, Coalescer

__all__ = ["InFlightCounter", "share_extractor", "run_in_flight"]

# Rows per shared forward. RAFT's all-pairs correlation is the memory bound: ~30 MB per frame
# pair at 256x344, so 48 pairs (two videos' stacks) stay around 1.5 GB.
MAX_ROWS = {"raft": 48}
DEFAULT_MAX_ROWS = 64


class InFlightCounter:
    """How many videos are being processed right now (a coalescer's leader waits for no more)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active = 0

    def __enter__(self) -> "InFlightCounter":
        with self._lock:
            self.active += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.active -= 1


class _Target:
    """Points at the counter of the run in progress (a cached model outlives one run)."""

    def __init__(self, counter: InFlightCounter) -> None:
        self.counter = counter


def share_extractor(extractor: Any, counter: InFlightCounter, max_wait_s: float = 0.1,
                    min_wait_s: float = 0.005) -> dict[str, Coalescer]:
    """Wrap ``extractor``'s networks once (idempotent); returns the coalescers by network name."""
    from .coalesce import CoalescedModule

    target: _Target | None = getattr(extractor, "_avlocate_in_flight", None)
    if target is not None:
        target.counter = counter
        return extractor._avlocate_coalescers
    target = _Target(counter)
    shared: dict[str, Coalescer] = {}

    def wrap(name: str, module: Any) -> CoalescedModule:
        wrapped = CoalescedModule(module, max_batch=MAX_ROWS.get(name, DEFAULT_MAX_ROWS), max_wait_s=max_wait_s,
                                  min_wait_s=min_wait_s, expected=lambda: max(1, target.counter.active))
        shared[name] = wrapped.coalescer
        return wrapped

    extractor.share_forwards(wrap)
    extractor._avlocate_coalescers = shared
    extractor._avlocate_in_flight = target
    return shared


def run_in_flight(videos: Iterable[str], function: Callable[[str], dict], in_flight: int,
                  counter: InFlightCounter) -> Iterator[dict]:
    """``function(video)`` for every video, ``in_flight`` at a time; records in completion order.

    Closing the generator (an error or Ctrl-C in the consumer) starts no new video; the ones
    already running finish first (threads cannot be stopped from outside).
    """
    if in_flight < 1:
        raise ValueError("in_flight must be >= 1")
    todo = iter(videos)

    def job(video: str) -> dict:
        with counter:
            return function(video)

    pool = ThreadPoolExecutor(in_flight, thread_name_prefix="avlocate-video")
    try:
        running: set[Future] = {pool.submit(job, v) for v in itertools.islice(todo, in_flight)}
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                following = next(todo, None)
                if following is not None:
                    running.add(pool.submit(job, following))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
