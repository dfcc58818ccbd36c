"""Opening files with PyAV, and turning every way that can fail into a one-line avlocate error.

No raw ``av.error.*`` exception may leave the media layer: callers (CLI, batch) print
``str(error)`` on one line and go on with the next file.
"""
from __future__ import annotations

import os
from pathlib import Path

import av
import av.error

from ..errors import InputNotFoundError, MediaError

#: Exceptions PyAV raises while opening, demuxing or decoding. FFmpegError covers av.error.*;
#: the others come from PyAV's own checks (e.g. a resampler fed a frame it was not set up for).
AV_ERRORS: tuple[type[BaseException], ...] = (av.error.FFmpegError, ValueError, RuntimeError, EOFError, OSError)

#: The video decoder's threads: frame + slice threads, near PyAV's raw decode speed. Set by
#: whoever opens the decoder first (the probe that keeps its container, or the decoding pass).
DECODE_THREADS = "AUTO"

_HINT_INCOMPLETE = "check that the file is complete and is a video or audio file"


def reason(exc: BaseException) -> str:
    """A short lower-case reason from an exception ("invalid data found when processing input")."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    text = " ".join(str(text).split())
    return text[:1].lower() + text[1:]


def check_path(path: str | os.PathLike[str]) -> Path:
    """The path as a Path, after the checks that need no decoding.

    A missing path and a directory raise InputNotFoundError ("not the kind of path expected"; exit
    code 3); an empty or unreadable file raises MediaError (exit code 4).
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise InputNotFoundError(f"{p}: is a directory, not a video/audio file; pass a file (folders go to `avlocate batch`)")
    if not p.is_file():
        raise MediaError(f"{p}: not a regular file; pass a video or audio file")
    try:
        size = p.stat().st_size
    except OSError as exc:  # pragma: no cover - a race with deletion
        raise MediaError(f"{p}: cannot be read ({reason(exc)}); check the file") from exc
    if size == 0:
        raise MediaError(f"{p}: empty file (0 bytes); check that the file was copied or downloaded completely")
    if not os.access(p, os.R_OK):
        raise MediaError(f"{p}: cannot be read (permission denied); check the file permissions")
    return p


def open_input(path: Path) -> av.container.InputContainer:
    """Open ``path`` for reading; failures become MediaError naming the file."""
    try:
        return av.open(str(path), mode="r")
    except av.error.PermissionError as exc:
        raise MediaError(f"{path}: cannot be read (permission denied); check the file permissions") from exc
    except AV_ERRORS as exc:
        raise MediaError(f"{path}: not a readable video/audio file ({reason(exc)}); {_HINT_INCOMPLETE}") from exc


def decode_failure(path: Path, what: str, exc: BaseException) -> MediaError:
    """The error for a stream from which nothing at all could be decoded."""
    return MediaError(
        f"{path}: no {what} could be decoded ({reason(exc)}); check that the file plays in a media "
        "player (it may be corrupt or truncated, or use a codec this PyAV build lacks)"
    )


def is_attached_picture(stream: av.stream.Stream) -> bool:
    """Cover art in m4a/mp3 shows up as a one-frame video stream: it is not video."""
    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):  # pragma: no cover - older PyAV without Disposition
        return False


def pick_streams(container: av.container.InputContainer) -> tuple[av.video.stream.VideoStream | None, av.audio.stream.AudioStream | None]:
    """The first real video stream and the first audio stream that can be decoded (None when absent)."""
    video = next((s for s in container.streams.video if not is_attached_picture(s) and _decodable(s)), None)
    audio = next((s for s in container.streams.audio if _decodable(s)), None)
    return video, audio


def _decodable(stream: av.stream.Stream) -> bool:
    # PyAV gives no codec context to streams whose codec this FFmpeg build cannot decode.
    return getattr(stream, "codec_context", None) is not None
