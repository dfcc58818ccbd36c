"""Timeline: the single place where snippet indices become seconds.

Every extractor owns one. A snippet ``i`` covers frames ``[i*stride, i*stride + window)`` of a
stream sampled at ``fps``; its centre is the UnAV-100 official conversion
``t = (i*stride + window/2) / fps`` (I3D+VGGish: stride 8, window 24, fps 25 -> t = 0.32 i + 0.48).
Nothing else in avlocate converts indices to seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Timeline:
    fps: float
    window: int  # frames per snippet
    stride: int  # frames between the starts of consecutive snippets
    duration: float | None = None  # seconds; times are clipped to [0, duration] when known

    @property
    def step_seconds(self) -> float:
        return self.stride / self.fps

    @property
    def window_seconds(self) -> float:
        return self.window / self.fps

    def num_snippets(self, num_frames: int) -> int:
        """Complete windows in ``num_frames`` frames (the last partial window is dropped)."""
        if num_frames < self.window:
            return 0
        return (num_frames - self.window) // self.stride + 1

    def with_duration(self, duration: float | None) -> "Timeline":
        return Timeline(self.fps, self.window, self.stride, duration)

    def _clip(self, t: torch.Tensor) -> torch.Tensor:
        t = t.clamp(min=0.0)
        if self.duration is not None:
            t = t.clamp(max=float(self.duration))
        return t

    def to_seconds(self, index: torch.Tensor | float, clip: bool = True) -> torch.Tensor:
        """Official index -> seconds: ``(index*stride + window/2) / fps`` (index may be fractional)."""
        index_t = torch.as_tensor(index, dtype=torch.float64)
        t = (index_t * self.stride + 0.5 * self.window) / self.fps
        return self._clip(t) if clip else t

    def to_index(self, seconds: torch.Tensor | float) -> torch.Tensor:
        """Inverse of :meth:`to_seconds` (fractional index; -> ``(t*fps - window/2) / stride``)."""
        t = torch.as_tensor(seconds, dtype=torch.float64)
        return (t * self.fps - 0.5 * self.window) / self.stride

    def centres(self, n: int) -> torch.Tensor:
        return self.to_seconds(torch.arange(n, dtype=torch.float64))

    def spans(self, n: int) -> torch.Tensor:
        """(n, 2) tensor of ``[start, end)`` seconds covered by each snippet's window."""
        start = torch.arange(n, dtype=torch.float64) * self.stride / self.fps
        spans = torch.stack([start, start + self.window / self.fps], dim=1)
        return self._clip(spans)

    def run_to_seconds(self, first: torch.Tensor, last: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Seconds of a run of consecutive snippets ``first..last`` (inclusive) decided per snippet.

        Each snippet stands for the stretch of one ``step`` around its centre, so the run spans
        ``[centre(first) - step/2, centre(last) + step/2]``.
        """
        half = 0.5 * self.step_seconds
        start = self.to_seconds(first, clip=False) - half
        end = self.to_seconds(last, clip=False) + half
        return self._clip(start), self._clip(end)
