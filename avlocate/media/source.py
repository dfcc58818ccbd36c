"""What the user named: a file, a URL, standard input (``-``), or a list file of those.

A URL is anything that starts with ``scheme://`` (http, https, rtsp, rtmp, srt, udp, ...: what
the bundled FFmpeg reads). It is never turned into a Path: ``Path("http://h/x")`` would collapse
the double slash into ``http:/h/x``. URLs and ``-`` are read in one pass (onepass.py); files are
probed and then decoded as before.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from .inputs import STDIN, is_list_file, is_stream, is_url, read_list  # noqa: F401 - re-exported
from .clip import Clip, open_clip
from .probe import MediaInfo, probe
from .specs import AudioSpec, VideoSpec

Request = Callable[[MediaInfo], "tuple[VideoSpec | None, AudioSpec | None]"]


def open_input_clip(name: str | os.PathLike[str], request: Request, stream_options=None,  # noqa: ANN001
                    stdin: BinaryIO | None = None) -> Clip:
    """A Clip of a file, URL or ``-``; ``request(info)`` gives the specs the consumer wants.

    The one way in for an input: a file is probed once here and its findings handed on (to
    ``request`` and to the Clip), then opened again only to decode; a URL or ``-`` is opened
    once for both (onepass.py)."""
    if is_stream(name):
        from .onepass import open_stream_clip

        return open_stream_clip(str(name), request, stream_options, stdin)
    info = probe(name)
    vspec, aspec = request(info)
    return open_clip(name, vspec, aspec, info=info)
