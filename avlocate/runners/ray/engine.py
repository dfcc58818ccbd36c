"""``avlocate batch --engine ray``: the local batch's per-video pipeline on Ray Data actors.

What it does, and why:

* **Same work, same lines.** Each video goes through :func:`avlocate.runners.batch._run_one` (the local
  batch's function), inside a Ray Data actor (:mod:`avlocate.runners.ray.actor`) that loads the
  model once (:func:`avlocate.runners.batch.held_model`: each actor holds its loaded model). A video that fails
  becomes an error line, exactly as in the local batch, and the job goes on. A video that kills
  its actor (out of memory, a native crash) is retried once on a fresh actor, then recorded as an
  error line (exit code 70) instead of aborting the whole job; the videos that died beside it in
  the same actor call are run again (see :func:`_stream`). A decoder crash kills only its
  decoding task, and becomes that video's error line.
* **Decoding on CPU workers, models on (GPU) actors** (``decode="tasks"``, the default). Every
  decoding pass an actor's extractor starts runs as a Ray task on a CPU worker, which streams the
  chunks back with backpressure (:mod:`avlocate.runners.ray.decode`): a 2-hour video is streamed,
  never held in memory. Each actor reserves ``ray_decode.DECODE_CPUS`` per video in flight for
  its decoding tasks on top of its own CPUs, so they can always start. ``decode="actor"`` decodes on a thread inside the actor instead (no object-store traffic;
  the better choice when the actors' nodes have spare cores and the network is slow).
* **Videos in flight.** ``in_flight`` K > 1 hands each actor K videos per call; they run on
  threads sharing the actor's model, their network forwards batched together
  (:mod:`avlocate.runners.in_flight`), which gives a GPU actor larger batches.
* **GPUs.** With ``device`` ``cuda[:N]`` (or ``auto`` on a cluster that has GPUs) each actor
  asks Ray for one GPU and runs on ``cuda``: Ray shows each actor only its own GPU, so an index
  would point at a GPU that the actor cannot see. (Not exercised by the tests: no GPU there.)
* **Shards + merged file.** Each actor appends its lines to its own shard,
  ``<shards_dir>/<host>-<pid>-<id>.jsonl`` (default ``shards_dir``: ``<out>.shards/``), fsynced
  line by line. The driver appends every line it receives to ``out`` through
  :class:`~avlocate.runners.jsonl.ResultsFile`: the same lock, whole-line and torn-line
  guarantees as the local batch. Lines lie in the order the videos finish, not sorted.
* **Resume.** Before computing what is left to do, lines that reached a shard but not ``out``
  (the driver died first) are folded into ``out``; then only videos missing from ``out`` run.
  ``overwrite`` empties ``out`` and removes the old shards.
* **Where it runs.** ``address=None`` starts a private local Ray instance (``num_cpus`` CPUs, no
  dashboard) and stops it at the end; an ``address`` connects to a running cluster. If this
  process is already connected to Ray (a notebook, a test), that connection is used and left
  open. On a cluster every node must see the videos (and ``shards_dir``, for the shard
  recovery) at the same path; give absolute paths there. Actors start in the driver's working
  directory where that exists on their node, so relative names resolve as they do locally.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..batch import BatchSummary, find_videos, record_all
from ...errors import EXIT_INTERNAL, UsageError
from ..jsonl import ResultsFile
from . import decode as _ray_decode  # noqa: F401 - registers the "ray" prefetch mode
from ...results import Result
from .actor import DEFAULT_TARGET, StartLog, VideoActor
from .ray_quiet import quiet_init, quiet_ray

RAY_MISSING = "--engine ray needs Ray: pip install 'avlocate[ray]'"
DECODE_PLACES = ("tasks", "actor")  # where videos are decoded: Ray CPU tasks, or inside the model actor
# Settings the weights search reads (avlocate.weights.store/manager): forwarded to the actors,
# which on a cluster do not inherit this process's environment.
FORWARDED_ENV = ("AVLOCATE_WEIGHTS", "AVLOCATE_HOME", "AVLOCATE_MANIFEST", "HF_HUB_OFFLINE")
_log = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks (as in hardening/jsonl.py)
    fcntl = None  # type: ignore[assignment]


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the [data] extra; a bare `pip install ray` lacks pyarrow
    except ImportError:
        raise UsageError(RAY_MISSING) from None
    return ray


def default_shards_dir(out: Path) -> Path:
    return Path(out).with_name(Path(out).name + ".shards")


# --- shards on the driver --------------------------------------------------------------------

def _locked(path: Path) -> bool:
    """Whether a live process holds the shard's lock (an actor that is still writing it)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops our lock
    return False


def fold_shards(shards_dir: Path, results: ResultsFile) -> int:
    """Append to ``results`` the shard lines of videos it lacks; return how many were added.

    A locked shard is skipped: its actor is alive, so its lines reach ``out`` through the run
    that owns it (the lock on ``out`` rules out a second run on the same output)."""
    if not shards_dir.is_dir():
        return 0
    added = 0
    for shard in sorted(shards_dir.glob("*.jsonl")):
        if _locked(shard):
            continue
        with ResultsFile(shard):  # cuts a torn last line (an actor killed mid-write)
            data = shard.read_bytes()
        for line in data.splitlines():
            record = json.loads(line)
            if record["video"] not in results.done:
                results.append(record)
                added += 1
    return added


def _clear_shards(shards_dir: Path) -> None:
    if shards_dir.is_dir():
        for shard in shards_dir.glob("*.jsonl"):
            shard.unlink(missing_ok=True)


# --- running the job -------------------------------------------------------------------------

def check_reachable(address: str) -> None:
    """Fail fast on a HOST:PORT where nothing listens: ray.init would retry for minutes."""
    if "://" in address or address == "auto":
        return  # ray:// (Ray Client) and auto resolve inside Ray
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address {address!r}: give the Ray head as HOST:PORT (e.g. head-node:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise UsageError(f"--address {address}: no Ray head answers there ({exc.strerror or exc}); "
                         "start one with `ray start --head` or check HOST:PORT") from None


@contextlib.contextmanager
def _ray_session(ray: Any, address: str | None, num_cpus: int | None) -> Iterator[None]:
    if ray.is_initialized():
        yield  # the caller's own connection: use it and leave it open
        return
    try:
        if address is None:
            # "local", not None: None would join whatever cluster RAY_ADDRESS or a `ray start` on
            # this machine points at, where num_cpus is refused.
            with quiet_init():
                ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)
        else:
            check_reachable(address)
            with quiet_init():
                ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"--address {address}" if address else "a local Ray instance"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{where}: Ray could not start or connect ({first})") from None
    quiet_ray(ray)  # a successful batch prints avlocate's lines only (see ray_quiet)
    try:
        yield
    finally:
        ray.shutdown()


def _placement(ray: Any, options: dict, todo: int, cpus_per_actor: float,
               decode_cpus: float = 0.0) -> tuple[dict, int, float, float]:
    """(options for the actors, number of actors, GPUs per actor, CPUs per actor).

    ``decode_cpus``: the CPUs the decoding tasks of one actor need (its videos in flight times
    ``ray_decode.DECODE_CPUS``; 0 when the actor decodes itself). They are kept free beside each
    actor: actors that took every CPU would leave their own decoding tasks waiting forever. A
    cluster smaller than one actor and its decoding (``--workers 1``) gets one actor with the CPUs
    that are left."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    cpus = float(resources.get("CPU", 1))
    device = str(options.get("device") or "auto")
    if device.startswith("cuda") and gpus < 1:
        raise UsageError(f"--device {device}: the Ray cluster has no GPU; use --device cpu or add GPU nodes")
    slots = int(cpus // (cpus_per_actor + decode_cpus) + 1e-9)
    if decode_cpus > 0 and slots < 1:
        if cpus - decode_cpus < 0.25:
            raise UsageError(f"the Ray cluster's {cpus:g} CPUs cannot hold one actor and its decoding tasks "
                             f"({decode_cpus:g} CPUs); add CPUs, lower --videos-in-flight, or decode inside the "
                             "actors with --ray-decode actor")
        slots, cpus_per_actor = 1, cpus - decode_cpus
    if device.startswith("cuda") or (device == "auto" and gpus >= 1):
        return {**options, "device": "cuda"}, max(1, min(todo, gpus, slots)), 1.0, cpus_per_actor
    return options, max(1, min(todo, slots)), 0.0, cpus_per_actor


def _lost(video: str, why: str) -> dict:
    """The error line of a video that produced no record of its own (exit code 70)."""
    return Result.failure(video, f"{video}: {why}", EXIT_INTERNAL).to_dict()


DIED = ("the Ray worker died while processing it, twice; the file may crash the decoder or need more "
        "memory than a worker has, check that it plays in a media player")
NEVER_STARTED = ("not processed: the Ray actors died before they started any video (model loading or worker "
                 "start-up failed); run one video with `avlocate run` to see why")


def _stream(ray: Any, todo: list[str], options: dict, shards_dir: Path, target: str,
            cpus_per_actor: float, in_flight: int = 1, decode: str = "tasks") -> Iterator[dict]:
    """Records of ``todo`` as they finish; one per video, also for videos whose actor died.

    Runs in rounds, because Ray Data (2.52) hangs when the only actor of a pool is restarted, so
    actors are never restarted here. A round runs its videos on a fresh actor pool; when an actor
    dies its call's videos are lost. The :class:`StartLog` then tells which of the lost videos had
    started (suspects) and which had not (innocent: queued again). A suspect that died together
    with other videos runs alone in a later round; one that died alone twice becomes an error line.
    """
    start_log = ray.remote(num_cpus=0)(StartLog).remote()
    queue, alone = list(todo), []
    deaths: dict[str, int] = {}
    while queue or alone:
        videos, k = (queue, in_flight) if queue else (alone, 1)
        queue, alone = ([], alone) if videos is queue else (queue, [])
        done: set[str] = set()
        for video, record in _round(ray, videos, options, shards_dir, target, cpus_per_actor, k, decode, start_log):
            done.add(video)
            yield record
        lost = [v for v in videos if v not in done]
        if not lost:
            continue
        started = set(ray.get(start_log.take.remote()))
        if not done and not started & set(lost):  # no progress at all: the actors cannot work
            for video in sorted(lost + queue + alone):
                yield _lost(video, NEVER_STARTED)
            return
        for video in lost:
            if video not in started:
                queue.append(video)
            elif k > 1:
                alone.append(video)  # died with others: find out alone whether it is the cause
            else:
                deaths[video] = deaths.get(video, 0) + 1
                if deaths[video] >= 2:
                    yield _lost(video, DIED)
                else:
                    alone.append(video)  # once more, on a fresh actor (a crash may be transient)


def _round(ray: Any, videos: list[str], options: dict, shards_dir: Path, target: str, cpus_per_actor: float,
           in_flight: int, decode: str, start_log: Any) -> Iterator[tuple[str, dict]]:
    """(video, record) of the videos whose actor did not die, as they finish."""
    from .decode import DECODE_CPUS

    decode_cpus = in_flight * DECODE_CPUS if decode == "tasks" else 0.0
    actor_options, actors, gpus, cpus_per_actor = _placement(ray, options, len(videos), cpus_per_actor, decode_cpus)
    env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    remote_args: dict[str, Any] = {"runtime_env": {"env_vars": env}} if env else {}
    # One video per block: a block is what an actor receives, so this balances the actors and a
    # crash takes only its own call's videos down. The path travels as bytes: a file name that is
    # not valid UTF-8 (Linux allows any bytes) cannot be an Arrow string.
    ds = ray.data.from_items([{"path": os.fsencode(v)} for v in videos], override_num_blocks=len(videos))
    ds = ds.map_batches(
        VideoActor,
        batch_size=in_flight,  # one video per call, or the videos an actor runs together
        # All actors start at once (one video in flight each, so Ray Data's autoscaler would never
        # grow the pool); min_size=1 lets the job go on where the cluster fits fewer of them.
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors, initial_size=actors,
                                           max_tasks_in_flight_per_actor=1),
        fn_constructor_kwargs={"options": actor_options, "shards_dir": str(shards_dir), "target": target,
                               "cwd": os.getcwd(), "threads": max(1, round(cpus_per_actor)), "in_flight": in_flight,
                               "decode": decode, "start_log": start_log},
        num_cpus=cpus_per_actor + decode_cpus,  # the actor holds its decoding tasks' CPUs too
        num_gpus=gpus,
        # No restarts, no retries: a dead actor's videos come back to _stream, which decides.
        max_restarts=0,
        max_task_retries=0,
        **remote_args,
    )
    ds.context.max_errored_blocks = -1  # a lost video is handled by _stream, not an abort
    ds.context.enable_progress_bars = False  # the CLI draws its own
    rows = ds.iter_rows()
    try:
        for row in rows:
            yield os.fsdecode(bytes(row["path"])), json.loads(row["record"])
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()


def run_batch_ray(
    folder: Path,
    out: Path,
    options: dict,
    address: str | None = None,
    num_cpus: int | None = None,
    overwrite: bool = False,
    on_done: Callable[[dict], None] | None = None,
    shards_dir: Path | None = None,
    *,
    cpus_per_actor: float = 1.0,
    target: str = DEFAULT_TARGET,
    in_flight: int = 1,
    decode: str = "tasks",
    settings: dict | None = None,
    videos: list | None = None,
) -> BatchSummary:
    """Process every video of ``folder`` into ``out`` on Ray (see the module docstring).

    ``num_cpus`` sizes the local Ray instance (default: all CPUs; ignored with ``address``).
    ``target`` ("module:function", called as ``function(video, options) -> dict``) exists for
    tests, as in :func:`avlocate.runners.batch.run_batch`. ``in_flight`` > 1: each actor runs that many
    videos together, their network forwards batched (:mod:`avlocate.runners.in_flight`); a video that
    kills its actor then takes the other videos of its batch down with it (retried once, then
    error lines). ``decode``: ``"tasks"`` (decode on Ray CPU workers) or ``"actor"`` (a thread
    inside each actor).
    """
    ray = _import_ray()
    folder, out = Path(folder), Path(out)
    shards = Path(shards_dir) if shards_dir is not None else default_shards_dir(out)
    if cpus_per_actor <= 0:
        raise UsageError(f"cpus_per_actor {cpus_per_actor:g} must be positive")
    if in_flight < 1:
        raise UsageError(f"--videos-in-flight {in_flight} must be at least 1")
    if decode not in DECODE_PLACES:
        raise UsageError(f"--ray-decode {decode!r}: choose one of {', '.join(DECODE_PLACES)}")
    videos = find_videos(folder) if videos is None else videos  # the walk the batch start made, not a second
    with ResultsFile(out, overwrite=overwrite) as results:
        if overwrite:
            _clear_shards(shards)
        else:
            fold_shards(shards, results)
        todo = [str(v) for v in videos if str(v) not in results.done]
        summary = BatchSummary(total=len(videos), skipped=len(videos) - len(todo), succeeded=0, failed=0)
        if not todo:
            return summary
        shards.mkdir(parents=True, exist_ok=True)
        with _ray_session(ray, address, num_cpus):
            records = _stream(ray, todo, options, shards, target, cpus_per_actor, in_flight, decode)
            try:
                record_all(records, results, summary, on_done, settings)
            finally:
                records.close()  # stops the dataset's actors, also on an error or Ctrl-C
    return summary
