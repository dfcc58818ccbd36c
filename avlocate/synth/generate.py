"""Public entry points: one synthetic video (+ its ground-truth JSON), or a numbered set of them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .encode import write_mp4
from .render import render_frames
from .scene import scene_from_seed
from .sound import render_audio


def make_video(path: Path | str, seed: int, duration: float | None = None, overlap: bool = False,
               size: tuple[int, int] = (320, 240), fps: int = 25, sample_rate: int = 16000,
               lossless: bool = False) -> dict[str, Any]:
    """Write ``path`` (.mp4) and ``path.with_suffix('.json')``; return the ground-truth dict.

    ``size`` is (width, height) and must be even (yuv420p). Same arguments -> same ground truth,
    same decoded frames and (same machine and libraries) usually the same bytes; ``lossless``
    video makes the decoded frames exact even when x264 does not repeat its bytes (see encode.py).
    """
    path = Path(path)
    width, height = size
    if width % 2 or height % 2 or width < 16 or height < 16:
        raise ValueError(f"size must be even and at least 16x16, got {width}x{height}")
    scene = scene_from_seed(seed, duration=duration, overlap=overlap, aspect=width / height)
    write_mp4(path, render_frames(scene, size, fps), render_audio(scene, sample_rate), fps, sample_rate,
              lossless=lossless)
    gt = scene.ground_truth(path.name)
    path.with_suffix(".json").write_text(json.dumps(gt, indent=2) + "\n", encoding="utf-8")
    return gt


def sample_seed(seed: int, index: int) -> int:
    """Seed of video ``index`` in a set started at ``seed``: consecutive, so that "seeds >= 1000"
    (the demo model's training range) and "seeds 500-599" (tests) stay disjoint, readable ranges."""
    return seed + index


def make_samples(out_dir: Path | str, seed: int, count: int = 3, prefix: str = "demo",
                 **kw: Any) -> list[Path]:
    """Write ``{prefix}1.mp4 .. {prefix}{count}.mp4`` (+ .json) into ``out_dir``.

    Video 0 is generated with ``overlap=True`` so that every set holds two events of different
    classes overlapping in time by >= 1.5 s. Other keyword arguments go to :func:`make_video`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kw.pop("overlap", None)
    paths = []
    for i in range(count):
        p = out / f"{prefix}{i + 1}.mp4"
        make_video(p, sample_seed(seed, i), overlap=(i == 0), **kw)
        paths.append(p)
    return paths
