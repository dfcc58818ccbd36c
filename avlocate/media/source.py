"""What the user named: a file, a URL, standard input (``-``), or a list file of those.

A URL is anything that starts with ``scheme://`` (http, https, rtsp, rtmp, srt, udp, ...: what
the bundled FFmpeg reads). It is never turned into a Path: ``Path("http://h/x")`` would collapse
the double slash into ``http:/h/x``. Every input is opened once: URLs and ``-`` in one pass
(onepass.py), files probed on the container that is then decoded (probe.Probed).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from .inputs import STDIN, is_list_file, is_stream, is_url, read_list  # noqa: F401 - re-exported
from .clip import Clip, open_clip
from .probe import MediaInfo, probe_open
from .specs import AudioSpec, VideoSpec

Request = Callable[[MediaInfo], "tuple[VideoSpec | None, AudioSpec | None]"]


def open_input_clip(name: str | os.PathLike[str], request: Request, stream_options=None,  # noqa: ANN001
                    stdin: BinaryIO | None = None) -> Clip:
    """A Clip of a file, URL or ``-``; ``request(info)`` gives the specs the consumer wants.

    The one way in for an input: it is opened ONCE and probed there, and its findings are handed
    on (to ``request`` and to the Clip) with the open container, which the first decoding pass
    reads on from where the probe stopped (a file: probe.Probed; a URL or ``-``: onepass.py)."""
    if is_stream(name):
        from .onepass import open_stream_clip

        return open_stream_clip(str(name), request, stream_options, stdin)
    probed = probe_open(name)
    try:
        vspec, aspec = request(probed.info)
    except BaseException:
        probed.close()
        raise
    return open_clip(name, vspec, aspec, probed=probed)
