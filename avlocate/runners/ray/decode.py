"""Decoding on Ray CPU workers, ahead of a model actor: the ``"ray"`` prefetch mode.

With ``avlocate batch --engine ray`` (``--ray-decode tasks``, the default) every ``Clip.chunks()``
pass inside a model actor starts one Ray task that demuxes and decodes the file on a CPU worker
(anywhere in the cluster) and streams the chunks back through Ray's object store:

* **Bounded.** The task is a streaming generator with backpressure: it runs at most ``depth``
  chunks ahead of the model, then waits, so a 2-hour video is streamed, never held in memory --
  the same bound as the thread and process prefetch modes (media/prefetch.py).
* **Same chunks.** The task runs the very producer the other modes run
  (:func:`avlocate.media.prefetch.decode_items`), so the frames, audio, truncation warnings and
  errors are those of local decoding; a MediaError raised in the task is re-raised in the actor
  with its own message and exit code.
* **A task that dies** (a decoder crash, out of memory) becomes a MediaError for that video, not
  a crash of the model actor; it is not retried (the same file would crash it again).
* **Resources.** The model actor reserves ``DECODE_CPUS`` (half a core: decoding is far cheaper
  than the models it feeds, and waits on backpressure most of the time) per video in flight on
  top of its own CPUs, and its decoding tasks ask Ray for none. Tasks that asked for CPUs of their
  own could wait forever behind actors holding every CPU, and Ray Data would count them against
  its own budget for the actors.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...errors import MediaError, UsageError
from ...media.prefetch import register_decode_mode

if TYPE_CHECKING:
    from ...media.clip import Clip
    from ...media.prefetch import DecodeStats
    from ...media.specs import ClipChunk

DECODE_CPUS = 0.5
_REMOTE: dict[str, Any] = {}  # the remote function, built once per process on first use


def _decode_task(clip: Clip, frames_per_chunk: int, audio_chunk_seconds: float) -> Iterator[tuple]:
    """Runs on a Ray worker: every (kind, payload, busy seconds) item of the decode, wire-ready."""
    import torch

    from ...media.prefetch import decode_items, to_wire

    torch.set_num_threads(1)  # its share is DECODE_CPUS; the decoder needs no torch threads
    for item in decode_items(clip, frames_per_chunk, audio_chunk_seconds, producer_pid=os.getpid()):
        yield to_wire(item)


def _remote(ray: Any, depth: int) -> Any:
    key = f"depth={depth}"
    if key not in _REMOTE:
        _REMOTE[key] = ray.remote(_decode_task).options(
            num_cpus=0,  # reserved by the model actor that starts it (see ray_engine._placement)
            max_retries=0,  # a file that crashed its decoder would crash it again
            _generator_backpressure_num_objects=max(1, depth),
        )
    return _REMOTE[key]


def ray_chunks(clip: Clip, frames_per_chunk: int, audio_chunk_seconds: float, depth: int,
               stats: DecodeStats) -> Iterator[ClipChunk]:
    """The chunks of ``clip``, decoded by a Ray task; only inside a process connected to Ray."""
    try:
        import ray
        from ray.exceptions import RayError
    except ImportError:
        raise UsageError("AVLOCATE_PREFETCH=ray needs Ray: pip install 'avlocate[ray]'") from None
    if not ray.is_initialized():
        raise UsageError("AVLOCATE_PREFETCH=ray decodes on Ray workers: use it inside `avlocate batch "
                         "--engine ray` (or after ray.init()); elsewhere use thread, process or off")
    from ...media.prefetch import consume_items, from_wire

    stream = _remote(ray, depth).remote(clip, frames_per_chunk, audio_chunk_seconds)

    def get() -> tuple:
        try:
            ref = next(stream)
            return from_wire(ray.get(ref))
        except StopIteration:
            raise MediaError(f"{clip.path}: the decoding task on a Ray worker ended early; "
                             "check that the file plays in a media player") from None
        except RayError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise MediaError(f"{clip.path}: the decoding task on a Ray worker failed ({first}); "
                             "check that the file plays in a media player") from None

    finished = False
    try:
        yield from consume_items(clip, get, stats)
        finished = True
    finally:
        if not finished:  # the consumer stopped early or failed: nothing more is wanted
            try:
                ray.cancel(stream, force=False)
            except Exception:  # noqa: BLE001 - best effort; the task also ends with its owner
                pass


# The media layer knows no runner: this module plugs its producer in (imported by the actor).
register_decode_mode("ray", ray_chunks)
