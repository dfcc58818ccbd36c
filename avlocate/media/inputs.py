"""What a video argument names (a file, a URL, ``-``, a list file), checked before any work.

Light on purpose (no PyAV, no torch): a batch reads its list and checks its paths with it.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import InputNotFoundError, MediaError

STDIN = "-"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def check_input(video: str | Path) -> Path:
    """``video`` as a path to an existing file, else a one-line error that says what to do."""
    path = Path(video)
    if not path.exists():
        raise InputNotFoundError(f"{video}: no such file; check the path")
    if path.is_dir():
        raise InputNotFoundError(f"{video}: is a directory; use `avlocate batch {video}` for folders")
    return path


def is_url(name: str | os.PathLike[str]) -> bool:
    return isinstance(name, str) and bool(_URL.match(name))


def is_stream(name: str | os.PathLike[str]) -> bool:
    """A URL or standard input: read once, never probed ahead, never a Path."""
    return isinstance(name, str) and (name == STDIN or is_url(name))


def video_stem(video: str | os.PathLike[str]) -> str:
    """The name a video's output files get: a file's stem; ``stdin`` for ``-``; for a URL, the
    stem of its last path part (``http://h/a/demo1.mp4?t=1`` -> ``demo1``), else its host
    (``rtsp://cam.local:554/`` -> ``cam.local``). Characters a file name should not hold become ``_``."""
    if isinstance(video, str) and video == STDIN:
        return "stdin"
    if isinstance(video, str) and is_url(video):
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(video)
        last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
        stem = Path(last).stem if last else (parts.hostname or "")
        return _UNSAFE.sub("_", stem).strip("._") or "stream"
    return Path(video).stem or "video"


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
