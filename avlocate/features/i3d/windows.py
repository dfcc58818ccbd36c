"""Which frames feed which I3D window (the official video_features stacking loop, as arithmetic).

The official loop appends frames to a list; when it holds ``stack_size + 1`` = 25 frames it
computes one window and drops the first ``step`` = 8 frames. Hence window k uses frames
``8k .. 8k+24`` (25 frames): rgb takes the first 24, flow takes the 24 consecutive pairs. A
partial last window is never computed, and fewer than 25 frames give no window at all.

Note: this is NOT ``Timeline.num_snippets`` with window 24 (that needs 24 frames, not 25); use
:func:`num_windows` to count I3D snippets. Times still come from the Timeline.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["I3DWindowConfig", "num_windows", "window_frames", "window_timestamps_ms", "unused_trailing_frames",
           "num_flow_pairs", "window_pair_index"]


@dataclass(frozen=True)
class I3DWindowConfig:
    stack_size: int = 24  # frames per window (UnAV-100)
    step: int = 8  # frames between window starts (0.32 s at 25 fps)
    fps: float = 25.0


def num_windows(num_frames: int, cfg: I3DWindowConfig = I3DWindowConfig()) -> int:
    """``0`` if N < stack+1, else ``floor((N - stack - 1) / step) + 1``."""
    if num_frames < cfg.stack_size + 1:
        return 0
    return (num_frames - cfg.stack_size - 1) // cfg.step + 1


def window_frames(k: int, cfg: I3DWindowConfig = I3DWindowConfig()) -> tuple[int, int]:
    """First and last (inclusive) frame index read by window k: ``(8k, 8k+24)``."""
    return k * cfg.step, k * cfg.step + cfg.stack_size


def window_timestamps_ms(n: int, cfg: I3DWindowConfig = I3DWindowConfig()) -> torch.Tensor:
    """The official ``timestamps_ms``: the time of the last frame read, ``(8k+24)/fps`` in ms."""
    k = torch.arange(n, dtype=torch.float64)
    return (k * cfg.step + cfg.stack_size) / cfg.fps * 1000.0


def unused_trailing_frames(num_frames: int, cfg: I3DWindowConfig = I3DWindowConfig()) -> int:
    """Frames after the last complete window (all of them when there is no window)."""
    n = num_windows(num_frames, cfg)
    if n == 0:
        return num_frames
    return num_frames - (window_frames(n - 1, cfg)[1] + 1)


def num_flow_pairs(num_frames: int, cfg: I3DWindowConfig = I3DWindowConfig()) -> int:
    """Distinct consecutive-frame pairs the windows need; each is computed once (the official
    loop recomputes every pair for each of the ~3 windows that contain it)."""
    n = num_windows(num_frames, cfg)
    return 0 if n == 0 else window_frames(n - 1, cfg)[1]


def window_pair_index(n: int, cfg: I3DWindowConfig = I3DWindowConfig()) -> torch.Tensor:
    """(n, stack) indices into the per-pair flow array (pair j = frames j -> j+1) for each window.
    The same table indexes rgb frames (window k uses frames ``8k .. 8k+23``)."""
    return torch.arange(n)[:, None] * cfg.step + torch.arange(cfg.stack_size)[None, :]
