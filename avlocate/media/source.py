"""What the user named: a file, a URL, standard input (``-``), or a list file of those.

A URL is anything that starts with ``scheme://`` (http, https, rtsp, rtmp, srt, udp, ...: what
the bundled FFmpeg reads). It is never turned into a Path: ``Path("http://h/x")`` would collapse
the double slash into ``http:/h/x``. URLs and ``-`` are read in one pass (onepass.py); files are
probed and then decoded as before.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import InputNotFoundError, MediaError
from .clip import Clip, open_clip
from .probe import MediaInfo, probe
from .specs import AudioSpec, VideoSpec

STDIN = "-"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")

Request = Callable[[MediaInfo], "tuple[VideoSpec | None, AudioSpec | None]"]


def is_url(name: str | os.PathLike[str]) -> bool:
    return isinstance(name, str) and bool(_URL.match(name))


def is_stream(name: str | os.PathLike[str]) -> bool:
    """A URL or standard input: read once, never probed ahead, never a Path."""
    return isinstance(name, str) and (name == STDIN or is_url(name))


def open_input_clip(name: str | os.PathLike[str], request: Request, stream_options=None,  # noqa: ANN001
                    stdin: BinaryIO | None = None) -> Clip:
    """A Clip of a file, URL or ``-``; ``request(info)`` gives the specs the consumer wants."""
    if is_stream(name):
        from .onepass import open_stream_clip

        return open_stream_clip(str(name), request, stream_options, stdin)
    info = probe(name)
    vspec, aspec = request(info)
    return open_clip(name, vspec, aspec)


def read_list(path: Path) -> list[str]:
    """The inputs of a list file: one path or URL per line; blank lines and ``#`` comments skipped.

    Relative paths are taken relative to the list file's folder, so a list travels with its
    videos; URLs and absolute paths are kept as written.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputNotFoundError(f"{path}: no such list file; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"{path}: cannot read the list ({exc}); pass a UTF-8 text file, one path or URL per line") \
            from None
    items: list[str] = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if entry == STDIN:
            raise MediaError(f"{path}: '-' (standard input) cannot be a list entry; name files or URLs")
        if is_url(entry) or os.path.isabs(entry):
            items.append(entry)
        else:
            items.append(str(path.parent / entry))
    return items


def is_list_file(path: Path) -> bool:
    """``batch LIST.txt``: a text file (``.txt``/``.list``) names its inputs, a folder holds them."""
    return path.suffix.lower() in (".txt", ".list") and not path.is_dir()
