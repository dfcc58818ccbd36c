"""Streams that can be read only once (a URL, standard input, a live camera): opened ONE time.

A file is opened once too (probe.Probed), but its probe may read ahead (a first frame for the
rotation, the whole file when it declares no duration). A pipe or a live URL cannot be read
ahead so: what was read is gone, and a live stream never ends. So a stream is described from its
header alone (no packet is consumed here: FFmpeg's own stream-info probing keeps the packets it
read for the demuxer), and the same open container is then demuxed once, video and audio
together, by the ordinary chunk pass (stream.py) of a :class:`OnePassClip`.

Differences from a file, on purpose:

* the duration is not known in advance (``math.inf``): the clip ends where the decoded data
  ends, and no truncation or padding warning is made from a declared length;
* rotation comes from the stream's ``rotate`` tag only (a file's probe decodes a first frame for
  the display matrix; that would consume packets here);
* decoding ahead runs in a thread, never in another process (the open container cannot travel).

Failures become one-line errors with their own exit codes (errors.py): refused connection (11),
not found (12), unknown host (13), no video (14); a stall or a dropped connection ends the clip
with ``warnings["stream"]`` saying so, which the caller turns into exit code 10.
"""
from __future__ import annotations

import math
import os
import select
import socket
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import av
import av.error

from ..errors import (ConnectionRefusedError_, MediaError, NoVideoStreamError, RemoteNotFoundError, ServerError,
                      StreamEndedEarlyError,
                      UnknownHostError)
from ._io import AV_ERRORS, pick_streams, reason
from .clip import Clip
from .probe import MediaInfo, clip_origin
from .specs import AudioSpec, ClipChunk, VideoSpec
from .video import output_size

#: Seconds without data after which a network stream or a pipe counts as stalled (``--stall-timeout``).
DEFAULT_STALL_TIMEOUT_S = 30.0
#: The key of Clip.warnings that says a stream ended early (stalled or dropped).
ENDED_EARLY = "stream"
#: Bytes of an MP4 header looked at, from a pipe, before giving up on finding its index.
_MP4_PEEK_LIMIT = 1 << 20
_FASTSTART_HINT = ("an MP4 whose index (moov atom) sits at the end cannot be read from a pipe; "
                   "pass the file itself, or rewrite it with `ffmpeg -i in.mp4 -c copy -movflags +faststart "
                   "out.mp4`, or send MPEG-TS: `ffmpeg -i in.mp4 -c copy -f mpegts -`")
#: URL schemes whose host is looked up by name (others, e.g. pipe:, file:, need no network).
_NETWORK_SCHEMES = frozenset({"http", "https", "rtsp", "rtsps", "rtmp", "rtmps", "rtmpt", "rtmpe", "srt", "tcp",
                              "udp", "rtp", "mms", "mmsh", "mmst", "ftp", "sftp", "tls", "hls"})


@dataclass(frozen=True)
class StreamOptions:
    """How to open a stream. ``stall_timeout``: seconds without data before giving up (a network
    stream, or standard input from a pipe)."""

    stall_timeout: float = DEFAULT_STALL_TIMEOUT_S
    open_timeout: float | None = None  # default: the stall timeout

    def __post_init__(self) -> None:
        # From Python too: NaN meant "never", 1e300 overflowed the select() timeout (exit 70).
        import math

        from ..errors import UsageError

        for name in ("stall_timeout", "open_timeout"):
            value = getattr(self, name)
            if value is None and name == "open_timeout":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not 0 < value <= 1e9:
                raise UsageError(f"{name} {value!r} must be a finite number of seconds above 0 (at most 1e9)")


class _PeekedReader:
    """A read-only, non-seekable file object over a byte stream, replaying bytes read ahead.

    PyAV reads from it through its Python I/O; having no ``seek`` makes FFmpeg treat it as the
    pipe it is.
    """

    def __init__(self, raw: BinaryIO, head: bytes) -> None:
        self.raw = raw
        self.head = head

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0 or n >= len(self.head):
                out, self.head = self.head, b""
                return out if n < 0 else out + (self.raw.read(n - len(out)) if n > len(out) else b"")
            out, self.head = self.head[:n], self.head[n:]
            return out
        data = self.raw.read1(n) if hasattr(self.raw, "read1") and n > 0 else self.raw.read(n)
        return data


class _TimedPipeReader:
    """Standard input read straight from its file descriptor, waiting at most ``timeout`` seconds
    for each piece: a pipe whose writer is alive but sends nothing (a hung camera feed, ffmpeg
    stuck on its source) raises TimeoutError, which ends the clip as a network stall does
    (``warnings["stream"]``, exit code 10). Unbuffered on purpose: bytes held in a Python buffer
    would be invisible to ``select``. A regular file redirected to stdin is always ready."""

    def __init__(self, fd: int, timeout: float) -> None:
        self.fd, self.timeout = fd, timeout

    def read(self, n: int = -1) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], self.timeout)
        if not ready:
            raise TimeoutError(f"stalled: no data on standard input for {self.timeout:g} s")
        return os.read(self.fd, n if n > 0 else 1 << 16)


def _stdin_reader(timeout: float) -> BinaryIO:
    """The process's standard input, with the stall timeout where ``select`` can watch it (POSIX
    pipes, sockets, terminals); elsewhere the buffered stream as is."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.stdin.buffer
    if os.name != "posix":  # select() takes only sockets on Windows
        return sys.stdin.buffer
    return _TimedPipeReader(fd, timeout)  # type: ignore[return-value]


def _read_exact(raw: BinaryIO, n: int) -> bytes:
    out = b""
    while len(out) < n:
        piece = raw.read(n - len(out))
        if not piece:
            break
        out += piece
    return out


def check_mp4_head(raw: BinaryIO) -> bytes:
    """Read the top-level MP4 box headers up to ``moov`` or ``mdat`` and return the bytes read.

    Not an MP4 (no ``ftyp`` first): returns what was read, untouched. An MP4 whose ``mdat`` comes
    before its ``moov`` cannot be demuxed from a pipe: MediaError with the fix.
    """
    head = _read_exact(raw, 8)
    if len(head) < 8 or head[4:8] != b"ftyp":
        return head
    pos = 0
    while len(head) < _MP4_PEEK_LIMIT:
        if len(head) < pos + 8:
            head += _read_exact(raw, pos + 8 - len(head))
            if len(head) < pos + 8:
                return head
        size, kind = struct.unpack(">I4s", head[pos:pos + 8])
        if kind == b"moov":
            return head
        if kind == b"mdat":
            raise MediaError(f"-: {_FASTSTART_HINT}")
        if size < 8:  # size 0 (to the end) or 1 (64-bit) before moov: not a layout we can read
            return head
        need = pos + size + 8 - len(head)
        if need > 0:
            head += _read_exact(raw, need)
        pos += size
    return head


def check_host(url: str) -> None:
    """An unknown host becomes UnknownHostError (exit 13) before FFmpeg says "I/O error"."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme.lower() not in _NETWORK_SCHEMES or not host:
        return
    try:
        socket.getaddrinfo(host, parts.port or None)
    except (socket.gaierror, UnicodeError):
        raise UnknownHostError(f"{url}: unknown host {host!r}; check the URL's host name and your network") from None


def _open_error(name: str, exc: BaseException) -> MediaError | StreamEndedEarlyError:
    if isinstance(exc, av.error.HTTPNotFoundError):
        return RemoteNotFoundError(f"{name}: the server has no such stream (HTTP 404); check the URL's path")
    if isinstance(exc, av.error.HTTPClientError):
        return RemoteNotFoundError(f"{name}: the server refused the request ({reason(exc)}); check the URL and "
                                   "its access rights")
    if isinstance(exc, av.error.HTTPServerError):
        return ServerError(f"{name}: the server failed ({reason(exc)}); try again later")
    if isinstance(exc, (av.error.ConnectionRefusedError, ConnectionRefusedError)):
        return ConnectionRefusedError_(f"{name}: connection refused; check that the server is running and the port "
                                       "is right")
    if isinstance(exc, av.error.ExitError) or "timed out" in reason(exc) or isinstance(exc, TimeoutError):
        # A stall, only earlier than usual: the same exit code as a stall mid-stream (README table).
        return StreamEndedEarlyError(f"{name}: no data arrived before the time limit ({reason(exc)}); check that the "
                                     "stream is live, or raise --stall-timeout")
    return MediaError(f"{name}: not a readable video/audio stream ({reason(exc)}); check that it plays in a media "
                      "player (ffplay URL)")


def open_stream(target: str, options: StreamOptions | None = None, stdin: BinaryIO | None = None
                ) -> av.container.InputContainer:
    """Open a URL, or ``-`` (standard input), for one pass of reading."""
    options = options or StreamOptions()
    if target == "-":
        if stdin is None and sys.stdin.isatty():
            from ..errors import UsageError

            raise UsageError("-: standard input is a terminal; pipe a video into it (e.g. `ffmpeg -i in.mp4 -f mpegts - "
                             "| avlocate run -`)")
        raw = stdin if stdin is not None else _stdin_reader(float(options.stall_timeout))
        try:
            head = check_mp4_head(raw)
        except TimeoutError as exc:
            raise _open_error("-", exc) from None
        if not head:
            raise MediaError("-: standard input is empty; pipe a video into it (e.g. `ffmpeg -i in.mp4 -f mpegts - | "
                             "avlocate run -`)")
        try:
            return av.open(_PeekedReader(raw, head), mode="r")
        except AV_ERRORS as exc:
            raise _open_error("-", exc) from exc
    check_host(target)
    read_timeout = float(options.stall_timeout)
    open_timeout = float(options.open_timeout if options.open_timeout is not None else read_timeout)
    try:
        return av.open(target, mode="r", timeout=(open_timeout, read_timeout))
    except AV_ERRORS as exc:
        raise _open_error(target, exc) from exc


def header_info(container: av.container.InputContainer, name: str) -> MediaInfo:
    """MediaInfo from the stream header alone; the duration is ``math.inf`` (see module doc)."""
    video, audio = pick_streams(container)
    if video is None and audio is None:
        raise MediaError(f"{name}: the stream carries no audio or video that this PyAV build can decode; check the "
                         "URL or the data piped in")
    t0 = clip_origin(container, video, audio)
    width = height = rotation = 0
    fps: Fraction | None = None
    if video is not None:
        tag = video.metadata.get("rotate")
        try:
            rotation = int(round(float(tag) / 90.0)) * 90 % 360 if tag else 0
        except ValueError:
            rotation = 0
        width, height = video.codec_context.width, video.codec_context.height
        if rotation in (90, 270):
            width, height = height, width
        fps = video.average_rate or video.guessed_rate or None
    return MediaInfo(
        path=name, container=container.format.name, duration=math.inf, start_time=float(t0),
        has_video=video is not None, video_codec=video.codec_context.name if video is not None else None,
        fps=Fraction(fps) if fps else None, width=int(width), height=int(height), rotation=rotation,
        num_frames=None, has_audio=audio is not None,
        audio_codec=audio.codec_context.name if audio is not None else None,
        sample_rate=int(audio.codec_context.sample_rate) if audio is not None else None,
        channels=int(audio.codec_context.channels) if audio is not None else None,
    )


class OnePassClip(Clip):
    """A Clip over a container opened once; ``chunks()`` may be called ONE time."""

    def __init__(self, name: str, container: av.container.InputContainer, info: MediaInfo,
                 video: VideoSpec | None, audio: AudioSpec | None) -> None:
        self._container: av.container.InputContainer | None = container
        super().__init__(Path(name), info, video, audio)
        self.name = name
        self.path = name  # type: ignore[assignment]  # messages name the URL as given, never a mangled Path

    def open_container(self) -> tuple[av.container.InputContainer, list[av.Packet]]:
        container, self._container = self._container, None
        if container is None:
            raise MediaError(f"{self.name}: a stream can be read only once")
        return container, []  # the header alone was read: no packet to replay

    def chunks(self, frames_per_chunk: int = 64, audio_chunk_seconds: float = 10.0) -> Iterator[ClipChunk]:
        from .prefetch import counted_chunks

        self._reset()
        mode = "off" if self.prefetch == "off" else "thread"  # the container cannot go to another process
        return counted_chunks(self, frames_per_chunk, audio_chunk_seconds, self.stats, mode)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __repr__(self) -> str:
        return f"OnePassClip({self.name!r}, video={self.video}, audio={self.audio})"


def open_stream_clip(target: str, request, options: StreamOptions | None = None,  # noqa: ANN001
                     stdin: BinaryIO | None = None) -> OnePassClip:
    """Open ``target`` (URL or ``-``) once; ``request(info) -> (VideoSpec|None, AudioSpec|None)``
    says what the consumer wants (an extractor's ``media_request``)."""
    container = open_stream(target, options, stdin)
    try:
        info = header_info(container, target)
        vspec, aspec = request(info)
        if vspec is not None and not info.has_video:
            raise NoVideoStreamError(f"{target}: the stream has no video (audio only); this model needs video, pass a "
                                     "stream with pictures")
        clip = OnePassClip(target, container, info, vspec, aspec)
        if vspec is not None and min(output_size(info, vspec)) < 1:
            raise MediaError(f"{target}: the video stream reports no picture size; check the stream")
        return clip
    except BaseException:
        container.close()
        raise


def ended_early_code(warnings_of_results) -> int:  # noqa: ANN001
    """Exit code 10 when any result's warnings say its stream ended early, else 0."""
    from ..errors import StreamEndedEarlyError

    return StreamEndedEarlyError.exit_code if any(ENDED_EARLY in w for w in warnings_of_results) else 0
