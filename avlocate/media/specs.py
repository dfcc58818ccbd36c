"""What a consumer asks of the media layer (VideoSpec, AudioSpec) and what it gets back (ClipChunk)."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import torch


@dataclass(frozen=True)
class VideoSpec:
    """Frames wanted: RGB uint8 at ``fps`` on the grid ``k / fps`` (seconds from the clip start).

    Size: ``width`` and ``height`` together give an exact output size; ``shorter_side`` resizes
    keeping the aspect ratio so that the shorter side equals it; all ``None`` keeps the original
    display size (after rotation). Sizes always refer to the upright (display) picture.
    """

    fps: float
    width: int | None = None
    height: int | None = None
    shorter_side: int | None = None

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise ValueError(f"VideoSpec.fps must be > 0, got {self.fps}")
        if (self.width is None) != (self.height is None):
            raise ValueError("VideoSpec: give both width and height, or neither")
        if self.width is not None and self.shorter_side is not None:
            raise ValueError("VideoSpec: give width/height or shorter_side, not both")
        for name in ("width", "height", "shorter_side"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"VideoSpec.{name} must be >= 1, got {value}")

    @property
    def rate(self) -> Fraction:
        """``fps`` as an exact fraction (29.97002997 -> 30000/1001), used for exact grid times."""
        return Fraction(self.fps).limit_denominator(100_000)


@dataclass(frozen=True)
class AudioSpec:
    """Audio wanted: mono float32 in [-1, 1] at ``sample_rate`` Hz."""

    sample_rate: int

    def __post_init__(self) -> None:
        if int(self.sample_rate) != self.sample_rate or self.sample_rate < 1:
            raise ValueError(f"AudioSpec.sample_rate must be a positive integer, got {self.sample_rate}")


@dataclass
class ClipChunk:
    """One piece of a streamed clip. Frames and audio of a chunk need not cover the same time span:
    concatenating all chunks' ``frames`` (resp. ``audio``) gives the whole clip's stream."""

    frames: torch.Tensor  # (n, H, W, 3) uint8, n may be 0
    frame_times: torch.Tensor  # (n,) float64: k / fps, seconds from the clip start
    first_frame: int  # output-grid index of frames[0]
    audio: torch.Tensor  # (m,) float32 mono, m may be 0
    first_sample: int  # index (at AudioSpec.sample_rate) of audio[0]
