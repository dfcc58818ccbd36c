"""The media layer: PyAV in, upright RGB frames + mono float audio out, streamed. Knows no models.

    clip = open_clip("clip.mp4", VideoSpec(fps=25, shorter_side=256), AudioSpec(16000))
    for chunk in clip.chunks(64):   # one demux pass, bounded memory
        chunk.frames, chunk.audio

Every failure caused by the input is an avlocate error (InputNotFoundError / MediaError) with
a one-line message; no av.error.* escapes.
"""
from __future__ import annotations

from .audio import sample_count
from .clip import Clip, decode_audio, iter_video_frames, open_clip
from .encode import write_av
from .probe import MediaInfo, probe
from .specs import AudioSpec, ClipChunk, VideoSpec
from .video import frame_count

__all__ = [
    "AudioSpec",
    "Clip",
    "ClipChunk",
    "MediaInfo",
    "VideoSpec",
    "decode_audio",
    "frame_count",
    "iter_video_frames",
    "open_clip",
    "probe",
    "sample_count",
    "write_av",
]
