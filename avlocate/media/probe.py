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
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from ..errors import MediaError
from ._io import AV_ERRORS, DECODE_THREADS, check_path, open_input, pick_streams, reason

# Packets to read while looking for the first decodable video frame (rotation side data).
_FIRST_FRAME_PACKET_LIMIT = 256
# Packets (of both streams) the probe keeps for the decoder; beyond it the file is reopened to
# decode (audio far ahead of the first picture), so that memory stays bounded.
_HEAD_PACKET_LIMIT = 4096


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
        info, _ = _describe(container, p, keep=False)
        return info
    finally:
        container.close()


@dataclass
class Probed:
    """A file opened ONCE: what its probe found, and the container, ready for the decoder.

    ``head`` holds the packets the probe read (to decode the first frame for the rotation), in
    demux order; the decoder decodes them first and then demuxes on from where the probe
    stopped, so every packet is read once and the file is not opened again. ``container`` is
    None when the probe could not leave it so (it failed to read, read too far ahead, or measured a
    file without a declared duration): the decoder then opens the file itself, as it did before.
    """

    info: MediaInfo
    container: av.container.InputContainer | None
    head: list[av.Packet] = field(default_factory=list)

    def take(self) -> tuple[av.container.InputContainer | None, list[av.Packet]]:
        """The container and its head packets, handed over once (the taker closes the container)."""
        container, head = self.container, self.head
        self.container, self.head = None, []
        return container, head

    def close(self) -> None:
        container, _ = self.take()
        if container is not None:
            container.close()


def probe_open(path: str | os.PathLike[str]) -> Probed:
    """probe(), keeping the file open for the decoder (see :class:`Probed`): the one open of a file."""
    p = check_path(path)
    container = open_input(p)
    try:
        info, head = _describe(container, p, keep=True)
    except BaseException:
        container.close()
        raise
    if head is None:
        container.close()
        return Probed(info, None)
    return Probed(info, container, head)


def _describe(container: av.container.InputContainer, path: Path, keep: bool
              ) -> tuple[MediaInfo, list[av.Packet] | None]:
    """probe_container(), raising MediaError for anything PyAV raises."""
    try:
        return probe_container(container, path, keep)
    except AV_ERRORS as exc:
        raise MediaError(f"{path}: not a readable video/audio file ({reason(exc)}); check that the file is complete") from exc


def probe_container(container: av.container.InputContainer, path: Path, keep: bool = False
                    ) -> tuple[MediaInfo, list[av.Packet] | None]:
    """The MediaInfo of an open container, and (``keep``) the packets read to find it, so that
    decoding can go on from here: None when it cannot (see :class:`Probed`; always without ``keep``)."""
    video, audio = pick_streams(container)
    if video is None and audio is None:
        if len(container.streams.video) + len(container.streams.audio):
            raise MediaError(
                f"{path}: its audio/video codecs are not supported by this PyAV build; "
                "check the file, or re-encode it (e.g. to H.264/AAC mp4)"
            )
        raise MediaError(f"{path}: has no audio or video stream; pass a video or audio file")
    t0 = clip_origin(container, video, audio)
    scanned = _declared_end(container, video, audio, t0)
    if scanned is None:
        # No duration declared (a raw stream): measured by demuxing the whole file, in a container
        # of its own. The decoder opens the file again after it: such a file is opened twice.
        duration = float(_scan_end(path, video, audio) - t0)
        keep = False
    else:
        duration = scanned

    width = height = rotation = 0
    fps: Fraction | None = None
    num_frames: int | None = None
    head: list[av.Packet] | None = [] if keep else None
    if video is not None:
        rotation, head = _rotation(container, video, audio if keep else None, keep)
        width, height = video.codec_context.width, video.codec_context.height
        if rotation in (90, 270):
            width, height = height, width
        fps = video.average_rate or video.guessed_rate or None
        num_frames = video.frames or None

    if duration <= 0 and video is not None and fps:
        # A one-frame file without durations: one frame period is the best we know.
        duration = float(1 / fps)
    info = MediaInfo(
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
    return info, head


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


def _declared_end(container: av.container.InputContainer, video, audio, t0: Fraction) -> float | None:
    """The duration the streams or the container declare, or None when neither declares one."""
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
    return None


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


def _rotation(container: av.container.InputContainer, video, audio=None, keep: bool = False  # noqa: ANN001
              ) -> tuple[int, list[av.Packet] | None]:
    """Clockwise display rotation, from the first frame's display matrix or the legacy tag; and
    (``keep``) the packets of ``video`` and ``audio`` read meanwhile, with the video decoder
    reset to decode them again (None when decoding cannot go on from here: see Probed)."""
    ccw = None
    head: list[av.Packet] | None = [] if keep else None
    if keep:
        # This decoder goes on to decode the whole file (stream.py): its threads are set now,
        # before it opens (PyAV refuses to change them later).
        video.thread_type = DECODE_THREADS
    streams = [s for s in (video, audio) if s is not None]
    try:
        seen = 0
        for packet in container.demux(streams):
            if head is not None and packet.size:
                # Not the empty packets PyAV adds at the end of the file to drain the decoders: the
                # decoder's own demux, at the end already, adds them again after the head.
                if len(head) >= _HEAD_PACKET_LIMIT:
                    head = None  # far ahead: the decoder opens the file again (memory stays bounded)
                else:
                    head.append(packet)
            if packet.stream is not video:
                continue
            frames = packet.decode()
            if frames:
                ccw = frames[0].rotation
                break
            if seen >= _FIRST_FRAME_PACKET_LIMIT:
                break
            seen += 1
    except AV_ERRORS:
        ccw = None  # undecodable start: probe stays descriptive, decoding reports the error
        head = None  # and decoding starts again from a fresh open, as before
    if head is not None:
        video.codec_context.flush_buffers()  # the head is decoded again, from its first packet
    if ccw:
        return int(round(-ccw / 90.0)) * 90 % 360, head
    tag = video.metadata.get("rotate")
    try:
        return (int(round(float(tag) / 90.0)) * 90 % 360 if tag else 0), head
    except ValueError:
        return 0, head
