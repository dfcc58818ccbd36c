"""Clip: an opened media file plus the frames/audio a consumer asked for, streamed in chunks.

Contract (tests/media pin each point):

* Frames: RGB uint8, upright (rotation metadata applied), at ``VideoSpec.fps`` on the grid
  ``k / fps`` from the clip origin, chosen by presentation timestamps (rule in video.py);
  ``floor(duration * fps)`` of them (at least 1 when the file has a decodable frame).
* Audio: mono float32 in [-1, 1] at ``AudioSpec.sample_rate``; exactly
  ``round(duration * sample_rate)`` samples: zero-padded when the audio stream is shorter, cut
  when longer. A file without audio gives silence and ``warnings == {"audio": "missing"}``.
* ``duration`` is probe()'s duration; it shrinks only for a truncated file, whose chunks() keeps
  everything decodable and records ``warnings["video"|"audio"] = "truncated at X s ..."``.
* A VideoSpec on a file without video raises MediaError; every failure is an avlocate error.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import av
import torch

from ..errors import MediaError
from ._io import check_path, open_input
from .probe import MediaInfo, Probed, probe_open
from .prefetch import DecodeStats, counted_chunks
from .specs import AudioSpec, ClipChunk, VideoSpec
from .video import frame_count, output_size
from .audio import sample_count


class Clip:
    """An opened media file with the specs requested; stream it with :meth:`chunks`."""

    def __init__(self, path: Path, info: MediaInfo, video: VideoSpec | None, audio: AudioSpec | None,
                 probed: Probed | None = None) -> None:
        self.path = path
        self.info = info
        self._probed = probed  # the container the probe left open, for the first pass
        self.video = video
        self.audio = audio
        self.warnings: dict[str, str] = {}
        self.duration: float = info.duration
        self.frame_size: tuple[int, int] = output_size(info, video) if video is not None else (0, 0)
        self.prefetch: str | None = None  # "process" | "thread" | "off"; None = prefetch.default_mode()
        self.stats = DecodeStats()  # what chunks() delivered so far, summed over passes
        self._reset()

    def _reset(self) -> None:
        self.duration = self.info.duration
        self.warnings.clear()
        if self.audio is not None and not self.info.has_audio:
            self.warnings["audio"] = "missing"

    @property
    def num_frames(self) -> int:
        """Frames chunks() yields (for the current duration; exact once streamed)."""
        if self.video is None:
            return 0
        return max(frame_count(self.duration, self.video.rate), 1 if self.duration > 0 else 0)

    @property
    def num_samples(self) -> int:
        return sample_count(self.duration, self.audio.sample_rate) if self.audio is not None else 0

    def chunks(self, frames_per_chunk: int = 64, audio_chunk_seconds: float = 10.0) -> Iterator[ClipChunk]:
        """Stream the clip once, in chunks of up to ``frames_per_chunk`` frames.

        Each chunk carries the audio decoded since the previous one. Without a VideoSpec, chunks
        carry about ``audio_chunk_seconds`` of audio each. Calling chunks() again re-reads the file.
        Decoding runs ahead of the consumer per ``self.prefetch`` (see media/prefetch.py) and is
        counted into ``self.stats``.
        """
        self._reset()
        return counted_chunks(self, frames_per_chunk, audio_chunk_seconds, self.stats, self.prefetch)

    def open_container(self) -> tuple[av.container.InputContainer, list[av.Packet]]:
        """The container a decoding pass reads, and the packets to decode before demuxing it: on
        the first pass those the probe left (the file's one open), on any later one a new open."""
        probed, self._probed = self._probed, None
        container, head = probed.take() if probed is not None else (None, [])
        return (container, head) if container is not None else (open_input(self.path), [])

    def release(self) -> None:
        """Close the container the probe left open (a decoder elsewhere opens the file itself)."""
        probed, self._probed = self._probed, None
        if probed is not None:
            probed.close()

    def __getstate__(self) -> dict:
        # A decoding process or a Ray task gets the clip without the open container: it opens the
        # file where it runs (an open container cannot travel).
        return {**self.__dict__, "_probed": None}

    def read_all(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(frames (N, H, W, 3) uint8, audio (M,) float32) of the whole clip: short clips only."""
        frames, audio = [], []
        for chunk in self.chunks():
            frames.append(chunk.frames)
            audio.append(chunk.audio)
        w, h = self.frame_size
        video = torch.cat(frames) if frames else torch.zeros((0, h, w, 3), dtype=torch.uint8)
        sound = torch.cat(audio) if audio else torch.zeros(0, dtype=torch.float32)
        return video, sound

    def __repr__(self) -> str:
        return f"Clip({str(self.path)!r}, duration={self.duration:.3f}, video={self.video}, audio={self.audio})"


def open_clip(path: str | os.PathLike[str], video: VideoSpec | None, audio: AudioSpec | None,
              info: MediaInfo | None = None, probed: Probed | None = None) -> Clip:
    """Open and probe ``path`` (unless ``probed``, a :func:`probe_open` of it, is handed on) and
    check that it can serve the requested specs (nothing decoded yet). The file stays open for
    the first pass of ``chunks()``: opened once. With ``info`` alone (a probe made elsewhere),
    decoding opens the file."""
    if video is None and audio is None:
        raise ValueError("open_clip: request a VideoSpec, an AudioSpec or both")
    p = check_path(path)
    if probed is None and info is None:
        probed = probe_open(p)
    try:
        return _checked_clip(p, probed.info if probed is not None else info, video, audio, probed)
    except BaseException:
        if probed is not None:
            probed.close()
        raise


def _checked_clip(p: Path, info: MediaInfo, video: VideoSpec | None, audio: AudioSpec | None,
                  probed: Probed | None) -> Clip:
    if video is not None and not info.has_video:
        raise MediaError(
            f"{p}: has no video stream (audio only); audio-visual events need pictures too: "
            "pass the video file itself (with its picture track)"
        )
    if info.duration <= 0:
        raise MediaError(f"{p}: duration is 0 s; the file holds no playable media")
    clip = Clip(p, info, video, audio, probed)
    if video is not None and min(clip.frame_size) < 1:
        raise MediaError(f"{p}: video stream reports no picture size; the file may be corrupt")
    return clip


def iter_video_frames(
    path: str | os.PathLike[str], spec: VideoSpec, frames_per_chunk: int = 64
) -> Iterator[tuple[float, torch.Tensor]]:
    """(time in seconds from the clip start, (H, W, 3) uint8 frame) for every output frame."""
    clip = open_clip(path, spec, None)
    for chunk in clip.chunks(frames_per_chunk):
        for t, frame in zip(chunk.frame_times.tolist(), chunk.frames):
            yield t, frame


def decode_audio(path: str | os.PathLike[str], spec: AudioSpec, strict: bool = False) -> torch.Tensor:
    """The whole audio track, mono float32 at ``spec.sample_rate`` (round(duration * rate) samples).

    A file without audio gives silence, as a Clip does; ``strict=True`` raises MediaError instead.
    """
    clip = open_clip(path, None, spec)
    if strict and not clip.info.has_audio:
        raise MediaError(f"{clip.path}: has no audio stream; pass a file with sound")
    pieces = [chunk.audio for chunk in clip.chunks(audio_chunk_seconds=60.0)]
    return torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.float32)
