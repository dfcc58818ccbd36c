"""Decoding ahead of the models, and the count of what was decoded.

``Clip.chunks()`` goes through :func:`counted_chunks`, so every extractor gets both for free:

* **Prefetch** (``mode="thread"``, the default): a decoding thread runs the demux + decode pass and
  hands chunks over a bounded queue (``depth`` chunks), so decoding the next chunk overlaps the
  model working on this one, and memory stays bounded (the decoder blocks when the queue is
  full). PyAV releases the GIL while it decodes and scales, so the thread really runs beside the
  extractor. ``"process"`` does the same in a decoding process (forkserver; chunks cross as
  numpy arrays; it exits by itself when the consumer dies): it also frees the Python around the
  decoder from the GIL, but measured on the 2-core build machine it was not faster than the
  thread, and a plain fork deadlocked in processes full of threads (Ray). Like any
  multiprocessing start method but fork, it needs the ``if __name__ == "__main__":`` guard in a
  script that calls avlocate at top level. ``"off"`` decodes inline.
* **Accounting** (:class:`DecodeStats`): frames and samples delivered, the seconds the decoder was
  busy, and the seconds the consumer waited for it. With prefetch, ``wait`` is the part of the
  decoding the models could not hide.

A failure in the worker (a MediaError on a damaged file) is re-raised in the consumer with its own
message and exit code. Truncation found by the worker (new duration, warnings) is copied back to
the Clip when the stream ends, exactly as inline decoding would have set it.
"""
from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clip import Clip
    from .specs import ClipChunk

MODES = ("process", "thread", "off")  # the modes of one machine
DEFAULT_DEPTH = 4

#: Decoding modes added by the layers above (a runner that decodes elsewhere, e.g. "ray": a Ray
#: task on a CPU worker, registered by avlocate.runners.ray.decode). The media layer never imports
#: a runner; the runner registers its producer here: fn(clip, frames_per_chunk,
#: audio_chunk_seconds, depth, stats) -> iterator of chunks.
_REGISTERED_MODES: dict[str, Callable[..., Iterator[ClipChunk]]] = {}


def register_decode_mode(name: str, chunks: Callable[..., Iterator[ClipChunk]]) -> None:
    """Let ``AVLOCATE_PREFETCH=name`` decode through ``chunks`` (called by the runner that owns it)."""
    _REGISTERED_MODES[name] = chunks


def known_modes() -> tuple[str, ...]:
    return MODES + tuple(sorted(_REGISTERED_MODES))


def default_mode() -> str:
    """``$AVLOCATE_PREFETCH`` when set, else a thread."""
    mode = os.environ.get("AVLOCATE_PREFETCH", "").strip().lower()
    if mode:
        if mode not in known_modes():
            from ..errors import UsageError

            raise UsageError(f"AVLOCATE_PREFETCH={mode!r}: use one of {', '.join(known_modes())}")
        return mode
    return "thread"


@dataclass
class DecodeStats:
    frames: int = 0  # video frames delivered (after fps selection)
    samples: int = 0  # audio samples delivered
    decode_seconds: float = 0.0  # time the decoder was busy producing chunks
    wait_seconds: float = 0.0  # time the consumer waited for a chunk
    decoder_pid: int | None = None  # the process that decoded the last complete pass

    def add(self, other: "DecodeStats") -> None:
        self.frames += other.frames
        self.samples += other.samples
        self.decode_seconds += other.decode_seconds
        self.wait_seconds += other.wait_seconds
        self.decoder_pid = other.decoder_pid if other.decoder_pid is not None else self.decoder_pid


_END = "end"
_CHUNK = "chunk"
_ERROR = "error"


def _timed(it: Iterator[ClipChunk]) -> Iterator[tuple[ClipChunk | None, float]]:
    """(chunk, seconds the decoder spent on it); a final (None, seconds) when the stream ends."""
    while True:
        t0 = time.perf_counter()
        try:
            chunk = next(it)
        except StopIteration:
            yield None, time.perf_counter() - t0
            return
        yield chunk, time.perf_counter() - t0


def decode_items(clip: Clip, fpc: int, audio_s: float, producer_pid: int | None = None) -> Iterator[tuple]:
    """The decoder's side of every mode: (kind, payload, busy seconds) items -- a chunk each, then
    the end marker (new duration, warnings, the decoding process) or the error that stopped it."""
    from .stream import stream_chunks

    it = stream_chunks(clip, fpc, audio_s)
    try:
        for chunk, busy in _timed(it):
            if chunk is None:
                yield (_END, {"duration": clip.duration, "warnings": dict(clip.warnings),
                              "pid": producer_pid if producer_pid is not None else os.getpid()}, busy)
                return
            yield (_CHUNK, chunk, busy)
    except Exception as exc:  # noqa: BLE001 — everything goes back to the consumer
        yield (_ERROR, exc, 0.0)
    finally:
        it.close()


def _picklable(exc: BaseException) -> BaseException:
    """``exc`` itself when it survives pickling (avlocate errors do), else its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _produce(clip: Clip, fpc: int, audio_s: float, put: Any, stop: Any = None) -> None:
    """Runs in the worker (thread or process): hand every decode item to ``put``."""
    items = decode_items(clip, fpc, audio_s)
    try:
        for item in items:
            put(item)
            if stop is not None and stop.is_set():
                return
    except BaseException as exc:  # noqa: BLE001 - e.g. Ctrl-C in the worker: the consumer still hears
        put((_ERROR, exc, 0.0))
    finally:
        items.close()


def to_wire(item: tuple) -> tuple:
    """Chunks cross the process boundary as numpy arrays (plain pickled bytes over the pipe):
    torch's shared-memory tensors need the sending process alive until the receiver has mapped
    them, which a decoder that finishes and exits does not guarantee."""
    kind, payload, busy = item
    if kind == _CHUNK:
        payload = {k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in vars(payload).items()}
    elif kind == _ERROR:
        payload = _picklable(payload)  # only what crosses a process boundary must pickle
    return kind, payload, busy


def from_wire(item: tuple) -> tuple:
    kind, payload, busy = item
    if kind == _CHUNK:
        import torch

        from .specs import ClipChunk

        payload = ClipChunk(**{k: (torch.from_numpy(_writable(v)) if hasattr(v, "dtype") else v)
                               for k, v in payload.items()})
    return kind, payload, busy


def _writable(array: Any) -> Any:
    """Ray hands numpy arrays out as read-only views of its shared object store: copy those, so a
    consumer may change its frames in place and the store can drop the object at once."""
    return array if array.flags.writeable else array.copy()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else (cannot be our consumer, but alive)
        return True


def _child_main(clip: Clip, fpc: int, audio_s: float, q: Any, consumer: int) -> None:
    """The decoding process: exits on its own when the consumer process is gone (e.g. a batch
    worker killed on --timeout), instead of blocking forever on a full queue."""
    import torch

    torch.set_num_threads(1)

    def put(item: tuple) -> None:
        wire = to_wire(item)
        while True:
            try:
                q.put(wire, timeout=1.0)
                return
            except queue.Full:
                if not _alive(consumer):
                    os._exit(1)

    _produce(clip, fpc, audio_s, put)


def _inline(clip: Clip, fpc: int, audio_s: float, stats: DecodeStats) -> Iterator[ClipChunk]:
    from .stream import stream_chunks

    it = stream_chunks(clip, fpc, audio_s)
    try:
        for chunk, busy in _timed(it):
            stats.decode_seconds += busy
            stats.wait_seconds += busy  # inline: the consumer waits for every bit of decoding
            if chunk is None:
                stats.decoder_pid = os.getpid()
                return
            _count(stats, chunk)
            yield chunk
    finally:
        it.close()


def _count(stats: DecodeStats, chunk: ClipChunk) -> None:
    stats.frames += int(chunk.frames.shape[0])
    stats.samples += int(chunk.audio.shape[0])


def consume_items(clip: Clip, get: Any, stats: DecodeStats) -> Iterator[ClipChunk]:
    while True:
        t0 = time.perf_counter()
        kind, payload, busy = get()
        stats.wait_seconds += time.perf_counter() - t0
        stats.decode_seconds += busy
        if kind == _CHUNK:
            _count(stats, payload)
            yield payload
        elif kind == _END:
            stats.decoder_pid = payload.get("pid")
            clip.duration = payload["duration"]
            clip.warnings.clear()
            clip.warnings.update(payload["warnings"])
            return
        else:
            raise payload


def _threaded(clip: Clip, fpc: int, audio_s: float, depth: int, stats: DecodeStats) -> Iterator[ClipChunk]:
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    worker = threading.Thread(target=_produce, args=(clip, fpc, audio_s, put, stop), daemon=True,
                              name="avlocate-decode")
    worker.start()
    try:
        yield from consume_items(clip, q.get, stats)
    finally:
        stop.set()
        worker.join(timeout=5)


def _process_context() -> Any:
    """forkserver: children are forked from a clean single-threaded server that has imported the
    decoder once, so they start fast (no imports) and are safe in hosts full of threads (a plain
    fork deadlocked on a lock held by another thread, e.g. under Ray); they do not inherit the
    consumer's file descriptors either."""
    import multiprocessing as mp

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["avlocate.media.stream", "avlocate.media.prefetch", "torch"])
    return ctx


def _forked(clip: Clip, fpc: int, audio_s: float, depth: int, stats: DecodeStats) -> Iterator[ClipChunk]:
    ctx = _process_context()
    q = ctx.Queue(maxsize=depth)
    proc = ctx.Process(target=_child_main, args=(clip, fpc, audio_s, q, os.getpid()), daemon=True,
                       name="avlocate-decode")
    proc.start()

    def get() -> Any:
        while True:
            try:
                return from_wire(q.get(timeout=1.0))
            except queue.Empty:
                if not proc.is_alive() and q.empty():
                    from ..errors import MediaError

                    raise MediaError(f"{clip.path}: the decoding process died (exit code {proc.exitcode}); "
                                     "check that the file plays in a media player") from None

    try:
        yield from consume_items(clip, get, stats)
    finally:
        if proc.is_alive():
            proc.kill()  # the consumer stopped early (or failed): nothing more is wanted
        proc.join(timeout=5)
        q.close()
        q.cancel_join_thread()


def counted_chunks(clip: Clip, frames_per_chunk: int, audio_chunk_seconds: float, stats: DecodeStats,
                   mode: str | None = None, depth: int = DEFAULT_DEPTH) -> Iterator[ClipChunk]:
    """The chunks of ``clip`` (see Clip.chunks), decoded per ``mode``, counted into ``stats``."""
    if frames_per_chunk < 1:
        raise ValueError(f"frames_per_chunk must be >= 1, got {frames_per_chunk}")
    mode = mode or default_mode()
    if mode == "process":
        import multiprocessing

        if multiprocessing.current_process().daemon or sys.platform == "win32":
            mode = "thread"  # daemonic processes may not have children; no forkserver on Windows
    if mode not in known_modes():
        from ..errors import UsageError

        raise UsageError(f"prefetch mode {mode!r}: use one of {', '.join(known_modes())}")
    if mode in _REGISTERED_MODES or mode == "process":
        # Decoded in another process, which opens the file itself: the container the probe left
        # open here is closed now, not held idle for the whole pass.
        clip.release()
    if mode in _REGISTERED_MODES:
        return _REGISTERED_MODES[mode](clip, frames_per_chunk, audio_chunk_seconds, max(1, depth), stats)
    if mode == "process":
        return _forked(clip, frames_per_chunk, audio_chunk_seconds, max(1, depth), stats)
    if mode == "thread":
        return _threaded(clip, frames_per_chunk, audio_chunk_seconds, max(1, depth), stats)
    return _inline(clip, frames_per_chunk, audio_chunk_seconds, stats)
