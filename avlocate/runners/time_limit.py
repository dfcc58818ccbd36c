"""The default per-video time limit of ``batch``: proportional to the video's length.

Without ``--timeout``, a video whose processing hangs (or whose work explodes) would hold a
worker forever. Each video therefore gets ``max(FLOOR_S, PER_SECOND * its length)`` by default.
The factor must fit the slowest extractor on a CPU: ``i3d-vggish`` (RAFT optical flow) ran at
about 1/140 of real time on the 2-core machine of benchmarks/README.md, so 500x leaves a margin
of 3.5 for slower or busier machines; for the fast extractors it is a bound on a hang, not a
speed target. The length is the file's
own (its container's header, read in the supervisor when the video is handed out; nothing is
decoded there); a file that cannot be probed
gets the floor (its worker reports why it cannot be read, well within it). A URL or ``-`` has no
length known in advance: no default limit.

``--timeout SECONDS`` replaces it with one fixed limit; ``--no-timeout`` lifts it.
"""
from __future__ import annotations

import math

#: Seconds of processing allowed per second of video by default.
PER_SECOND = 500.0
#: The least limit (seconds): start-up of the decoder and a short clip's fixed costs.
FLOOR_S = 600.0


def default_limit(video: str) -> float | None:
    """The default limit for ``video`` (seconds), or None (no limit) for a stream."""
    from ..media.inputs import is_stream

    if is_stream(video):
        return None
    try:
        length = _declared_length(video)
    except Exception:  # noqa: BLE001 - any unreadable file: the worker gives the real error line
        return FLOOR_S
    if not math.isfinite(length) or length <= 0:
        return FLOOR_S
    return max(FLOOR_S, PER_SECOND * length)


def _declared_length(video: str) -> float:
    """The container's declared length, from its header: no frame is decoded here, in the
    supervisor (a file that crashes a decoder must crash a worker, never the batch)."""
    import av

    with av.open(video, mode="r") as container:
        if container.duration is not None and container.duration > 0:
            return container.duration / av.time_base
        lengths = [float(s.duration * s.time_base) for s in container.streams
                   if s.duration is not None and s.time_base is not None]
        return max(lengths, default=math.nan)


def describe_default() -> str:
    return f"{PER_SECOND:g}x the video's length, at least {FLOOR_S:g} s"
