"""The default per-video time limit of ``batch``: proportional to the video's length.

Without ``--timeout``, a video whose processing hangs (or whose work explodes) would hold a
worker for hours. Each video therefore gets ``max(FLOOR_S, PER_SECOND * its length)`` by default:
generous for any extractor on a CPU (the slowest bundled family runs at about real time on two
cores; 10x leaves room for a loaded machine), small next to "hours". The length is the file's
own (a cheap probe, in the supervisor, when the video is handed out); a file that cannot be probed
gets the floor (its worker reports why it cannot be read, well within it). A URL or ``-`` has no
length known in advance: no default limit.

``--timeout SECONDS`` replaces it with one fixed limit; ``--no-timeout`` lifts it.
"""
from __future__ import annotations

import math

#: Seconds of processing allowed per second of video by default.
PER_SECOND = 10.0
#: The least limit (seconds): start-up of the decoder and a short clip's fixed costs.
FLOOR_S = 300.0


def default_limit(video: str) -> float | None:
    """The default limit for ``video`` (seconds), or None (no limit) for a stream."""
    from ..media.inputs import is_stream

    if is_stream(video):
        return None
    try:
        from ..media.probe import probe

        length = probe(video).duration
    except Exception:  # noqa: BLE001 - any unreadable file: the worker gives the real error line
        return FLOOR_S
    if not math.isfinite(length) or length <= 0:
        return FLOOR_S
    return max(FLOOR_S, PER_SECOND * length)


def describe_default() -> str:
    return f"{PER_SECOND:g}x the video's length, at least {FLOOR_S:g} s"
