"""The model actor of ``avlocate batch --engine ray`` (see :mod:`avlocate.runners.ray.engine`).

One :class:`VideoActor` per Ray Data actor: it loads the model once, runs each video it is handed
through the local batch's per-video function and appends the record to its own shard. Before it
starts a call's videos it tells the driver's :class:`StartLog` which ones, so that when an actor
dies the driver knows which videos were running in it (suspects) and which never started.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import decode as _ray_decode  # noqa: F401 - registers the "ray" prefetch mode
from ..batch import _warm_up
from ...errors import OutputError
from ..jsonl import ResultsFile
from ..worker import resolve

DEFAULT_TARGET = "avlocate.runners.batch:_run_one"
_log = logging.getLogger(__name__)


class StartLog:
    """A small Ray actor on the driver's side: the videos actors started since the last ``take``."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def mark(self, videos: list[str]) -> None:
        self.started.extend(videos)

    def take(self) -> list[str]:
        started, self.started = self.started, []
        return started


class VideoActor:
    """A Ray Data callable class: one instance per actor, one video per batch."""

    def __init__(self, options: dict, shards_dir: str, target: str, cwd: str, threads: int,
                 in_flight: int = 1, decode: str = "tasks", start_log: Any = None) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        from ...allocator import pin_mmap_threshold

        pin_mmap_threshold()  # flat memory on long videos (see avlocate/allocator.py)
        if decode == "tasks":
            os.environ["AVLOCATE_PREFETCH"] = "ray"  # every Clip.chunks() pass decodes in a Ray task
        elif os.environ.get("AVLOCATE_PREFETCH", "").strip().lower() != "off":
            # A plain forked decoder broke inside Ray Data actors (gRPC threads; Ray 2.52): decode
            # prefetching stays in a thread here unless the user turned it off.
            os.environ["AVLOCATE_PREFETCH"] = "thread"
        if os.path.isdir(cwd):
            os.chdir(cwd)  # relative video names resolve as on the driver
        self.options = options
        self.start_log = start_log
        self.function: Callable[[str, dict], dict] = resolve(target)
        self.in_flight = max(1, in_flight)
        self.counter = None
        if target == DEFAULT_TARGET:
            try:
                _warm_up(options)
            except Exception:  # noqa: BLE001 - a model that does not load fails each video with its
                pass  # own error line, as in the local batch, instead of killing the actor
        if self.in_flight > 1:  # the videos of a batch run together, their forwards batched
            from ..batch import _share_model
            from ..in_flight import InFlightCounter

            self.counter = InFlightCounter()
            if target == DEFAULT_TARGET:
                _share_model(options, self.counter)
        self.shard_path = Path(shards_dir) / f"{_safe(socket.gethostname())}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self.shard: ResultsFile | None = None
        self.shard_broken = False

    def _write_shard(self, record: dict) -> None:
        """Shards are a recovery aid (the driver receives every record anyway): a shard that cannot
        be written is reported once and then left alone, never a reason to fail a video."""
        if self.shard_broken:
            return
        try:
            if self.shard is None:
                self.shard = ResultsFile(self.shard_path)  # held (and locked) for the actor's life
            self.shard.append(record)
        except OutputError as exc:
            self.shard_broken = True
            _log.warning("avlocate: shard not written, recovery of this actor's lines is off: %s", exc)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        raws = [bytes(raw) for raw in batch["path"]]
        if self.start_log is not None:  # recorded before any work: a crash now names its suspects
            import ray

            ray.get(self.start_log.mark.remote([os.fsdecode(raw) for raw in raws]))
        paths, lines = [], []
        for raw, record in self._records(raws):
            self._write_shard(record)
            paths.append(raw)
            lines.append(json.dumps(record, ensure_ascii=True))  # ASCII: Arrow needs valid UTF-8
        return {"path": np.array(paths, dtype=object), "record": np.array(lines, dtype=object)}

    def _records(self, raws: list[bytes]) -> Iterator[tuple[bytes, dict]]:
        if self.counter is None or len(raws) == 1:
            for raw in raws:
                yield raw, self.function(os.fsdecode(raw), self.options)
            return
        from ..in_flight import run_in_flight

        def job(raw: bytes) -> dict:
            return {"raw": raw, "record": self.function(os.fsdecode(raw), self.options)}

        for done in run_in_flight(raws, job, self.in_flight, self.counter):
            yield done["raw"], done["record"]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "host"
