"""The media layer: PyAV in, upright RGB frames + mono float audio out, streamed. Knows no models.

    clip = open_clip("clip.mp4", VideoSpec(fps=25, shorter_side=256), AudioSpec(16000))
    for chunk in clip.chunks(64):   # one demux pass, bounded memory
        chunk.frames, chunk.audio

Every failure caused by the input is an avlocate error (InputNotFoundError / MediaError) with
a one-line message; no av.error.* escapes.
"""
from __future__ import annotations

from typing import Any

# `probe` is both a submodule and its function: bind the function now (PyAV only, no torch), or
# the submodule, once imported by a sibling, would shadow it.
from .probe import MediaInfo, probe

# The other names load on first use (PEP 562): a light submodule (inputs) must not pull PyAV and torch in.
_WHERE = {
    "sample_count": ".audio", "Clip": ".clip", "decode_audio": ".clip", "iter_video_frames": ".clip",
    "open_clip": ".clip", "write_av": ".encode",
    "AudioSpec": ".specs", "ClipChunk": ".specs", "VideoSpec": ".specs", "frame_count": ".video",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted([*_WHERE, "MediaInfo", "probe"])
