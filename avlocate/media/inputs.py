"""What a video argument names, checked before any work."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputNotFoundError


def check_input(video: str | Path) -> Path:
    """``video`` as a path to an existing file, else a one-line error that says what to do."""
    path = Path(video)
    if not path.exists():
        raise InputNotFoundError(f"{video}: no such file; check the path")
    if path.is_dir():
        raise InputNotFoundError(f"{video}: is a directory; use `avlocate batch {video}` for folders")
    return path
