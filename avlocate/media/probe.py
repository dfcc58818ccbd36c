"""probe(): what a media file contains (streams, duration, fps, rotation), without decoding it all.

Conventions (shared with the decoder in clip.py, so that counts agree):

* ``start_time`` is the clip origin: the earliest start of the audio/video streams used. Output
  frame k sits at ``start_time + k / fps`` and audio sample 0 at ``start_time``.
* ``duration`` is measured from that origin to the end of the longest audio/video stream; it
  comes from the streams' own durations when they declare one (mp4), else from the container
  (mkv/webm), else from a scan of the packet timestamps (raw streams without an index).
* ``rotation`` is the CLOCKWISE angle that turns the coded picture upright, as the legacy
  ``rotate`` tag and phone cameras use it (a portrait iPhone clip says 90). FFmpeg's display
  matrix reads counter-clockwise (PyAV's ``VideoFrame.rotation`` gives -90 for that clip), so
  we negate it. ``width``/``height`` are the upright size: swapped for 90/270.
* Sample aspect ratio (anamorphic video) is ignored: width/height are pixel counts, as
  nearly all web video has square pixels.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..errors import MediaError
from ._io import AV_ERRORS, check_path, open_input, pick_streams, reason

# Packets to read while looking for the first decodable video frame (rotation side data).
_FIRST_FRAME_PACKET_LIMIT = 256


@dataclass(frozen=True)
class MediaInfo:
    path: str
    container: str  # FFmpeg format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm"
    duration: float  # seconds from start_time to the end of the longest audio/video stream
    start_time: float  # seconds of the clip origin (earliest audio/video timestamp)
    has_video: bool
    video_codec: str | None
    fps: Fraction | None  # average frame rate
    width: int  # upright (display) width, 0 without video
    height: int  # upright (display) height, 0 without video
    rotation: int  # clockwise degrees to display upright: 0, 90, 180 or 270
    num_frames: int | None  # as declared by the container (None when it does not say)
    has_audio: bool
    audio_codec: str | None
    sample_rate: int | None
    channels: int | None


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Describe a media file. Raises InputNotFoundError / MediaError with a one-line message."""
    p = check_path(path)
    container = open_input(p)
    try:
        return probe_container(container, p)
    except AV_ERRORS as exc:
        raise MediaError(f"{p}: not a readable video/audio file ({reason(exc)}); check that the file is complete") from exc
    finally:
        container.close()


def probe_container(container: av.container.InputContainer, path: Path) -> MediaInfo:
    """probe() on an open container. Reads packets (for rotation): reopen before decoding."""
    video, audio = pick_streams(container)
    if video is None and audio is None:
        if len(container.streams.video) + len(container.streams.audio):
            raise MediaError(
                f"{path}: its audio/video codecs are not supported by this PyAV build; "
                "check the file, or re-encode it (e.g. to H.264/AAC mp4)"
            )
        raise MediaError(f"{path}: has no audio or video stream; pass a video or audio file")
    t0 = clip_origin(container, video, audio)
    duration = _duration(container, path, video, audio, t0)

    width = height = rotation = 0
    fps: Fraction | None = None
    num_frames: int | None = None
    if video is not None:
        rotation = _rotation(container, video)
        width, height = video.codec_context.width, video.codec_context.height
        if rotation in (90, 270):
            width, height = height, width
        fps = video.average_rate or video.guessed_rate or None
        num_frames = video.frames or None

    if duration <= 0 and video is not None and fps:
        # A one-frame file without durations: one frame period is the best we know.
        duration = float(1 / fps)
    return MediaInfo(
        path=str(path),
        container=container.format.name,
        duration=float(duration),
        start_time=float(t0),
        has_video=video is not None,
        video_codec=video.codec_context.name if video is not None else None,
        fps=Fraction(fps) if fps else None,
        width=int(width),
        height=int(height),
        rotation=rotation,
        num_frames=num_frames,
        has_audio=audio is not None,
        audio_codec=audio.codec_context.name if audio is not None else None,
        sample_rate=int(audio.codec_context.sample_rate) if audio is not None else None,
        channels=int(audio.codec_context.channels) if audio is not None else None,
    )


def _seconds(value: int | None, time_base: Fraction | None) -> Fraction | None:
    if value is None or time_base is None:
        return None
    return Fraction(value) * time_base


def clip_origin(container: av.container.InputContainer, *streams: av.stream.Stream | None) -> Fraction:
    starts = [_seconds(s.start_time, s.time_base) for s in streams if s is not None]
    known = [s for s in starts if s is not None]
    if known:
        return min(known)
    if container.start_time is not None:
        return Fraction(container.start_time, av.time_base)
    return Fraction(0)


def _duration(container: av.container.InputContainer, path: Path, video, audio, t0: Fraction) -> float:
    ends = []
    for s in (video, audio):
        if s is None:
            continue
        start = _seconds(s.start_time, s.time_base)
        length = _seconds(s.duration, s.time_base)
        if start is not None and length is not None and length > 0:
            ends.append(start + length)
    if ends:
        return float(max(ends) - t0)
    if container.duration is not None and container.duration > 0:
        c_start = Fraction(container.start_time or 0, av.time_base)
        return float(Fraction(container.duration, av.time_base) + c_start - t0)
    return float(_scan_end(path, video, audio) - t0)


def _scan_end(path: Path, video, audio) -> Fraction:
    """End of the last packet, for files that declare no duration (raw streams): demux only.

    Packets without timestamps (raw H.264) are laid end to end by their durations.
    """
    indices = {s.index for s in (video, audio) if s is not None}
    end = Fraction(0)
    running: dict[int, Fraction] = {}
    with open_input(path) as container:
        streams = [s for s in container.streams if s.index in indices]
        for packet in container.demux(streams):
            tb = packet.time_base
            if tb is None or not (packet.duration or packet.pts is not None):
                continue
            start = Fraction(packet.pts) * tb if packet.pts is not None else running.get(packet.stream_index, Fraction(0))
            stop = start + Fraction(packet.duration or 0) * tb
            running[packet.stream_index] = stop
            end = max(end, stop)
    return end


def _rotation(container: av.container.InputContainer, video) -> int:
    """Clockwise display rotation, from the first frame's display matrix or the legacy tag."""
    ccw = None
    try:
        for i, packet in enumerate(container.demux(video)):
            frames = packet.decode()
            if frames:
                ccw = frames[0].rotation
                break
            if i >= _FIRST_FRAME_PACKET_LIMIT:
                break
    except AV_ERRORS:
        ccw = None  # undecodable start: probe stays descriptive, decoding reports the error
    if ccw:
        return int(round(-ccw / 90.0)) * 90 % 360
    tag = video.metadata.get("rotate")
    try:
        return int(round(float(tag) / 90.0)) * 90 % 360 if tag else 0
    except ValueError:
        return 0
