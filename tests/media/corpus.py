"""Media generated on the fly for tests (no committed binaries), and the bad-input corpus.

Importable helper (not a test file): ``tests/media/conftest.py`` puts this folder on sys.path,
other test folders can do the same (``sys.path.insert(0, str(<repo>/tests/media))``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from avlocate.media import write_av

#: Fast x264 settings: test files are tiny, speed matters more than quality.
FAST = {"preset": "ultrafast"}


def ramp_frames(n: int, width: int = 64, height: int = 48) -> np.ndarray:
    """(n, H, W, 3) uint8 frames whose grey level encodes the frame index (i * 6)."""
    levels = (np.arange(n) * 6 % 256).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (n, height, width, 3)).copy()


def tone(freq: float, seconds: float, sample_rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def make_video(
    path: Path,
    seconds: float = 2.0,
    fps: float = 10,
    *,
    audio: bool = True,
    sample_rate: int = 44100,
    channels: int = 2,
    width: int = 64,
    height: int = 48,
    **kwargs,
) -> Path:
    """A small H.264 (+ AAC 440 Hz tone) file of ``seconds`` at ``fps``."""
    n = round(seconds * fps)
    sound = None
    if audio:
        sound = np.tile(tone(440.0, seconds, sample_rate), (channels, 1))
    kwargs.setdefault("options", FAST)
    return write_av(path, ramp_frames(n, width, height), fps, sound, sample_rate if audio else None, **kwargs)


def make_bad_input_corpus(directory: str | Path) -> dict[str, Path]:
    """The inputs a user can get wrong, created under ``directory``.

    Keys and what the media layer does with each:
      empty                0-byte ``empty.mp4``                      -> MediaError
      truncated            ``truncated.mp4``: a valid mp4 cut at 50% (index at the end, so it is
                           lost)                                     -> MediaError
      truncated_faststart  ``truncated_faststart.mp4``: index at the front, cut at 50%
                                                -> decodes the first half, warnings["video"] set
      text_as_mp4          ``notes.mp4`` holding plain text          -> MediaError
      no_audio             ``no_audio.mp4``: video, no audio track   -> silence + {"audio": "missing"}
      audio_only           ``audio_only.m4a``: AAC, no video         -> MediaError if video requested
      one_frame            ``one_frame.mp4``: a single video frame   -> 1 output frame
      directory            ``a_folder.mp4/`` (a directory)           -> InputNotFoundError
      missing              ``missing.mp4``, never created            -> InputNotFoundError
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    out["empty"] = d / "empty.mp4"
    out["empty"].write_bytes(b"")

    for key, faststart in (("truncated", False), ("truncated_faststart", True)):
        full = make_video(d / f"_{key}_full.mp4", seconds=4.0, faststart=faststart)
        data = full.read_bytes()
        out[key] = d / f"{key}.mp4"
        out[key].write_bytes(data[: len(data) // 2])
        full.unlink()

    out["text_as_mp4"] = d / "notes.mp4"
    out["text_as_mp4"].write_text("These are meeting notes, not a video.\n" * 20)

    out["no_audio"] = make_video(d / "no_audio.mp4", seconds=2.0, audio=False)
    out["audio_only"] = write_av(d / "audio_only.m4a", None, 10, tone(440.0, 2.0, 44100), 44100)
    out["one_frame"] = write_av(d / "one_frame.mp4", ramp_frames(1), 10, options=FAST)

    out["directory"] = d / "a_folder.mp4"
    out["directory"].mkdir(exist_ok=True)
    out["missing"] = d / "missing.mp4"
    return out
