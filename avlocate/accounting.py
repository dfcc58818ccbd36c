"""Where a run's time went, and how fast it went: per-stage seconds in each result, and the
one-line summary ``run`` and ``batch`` print at the end (frames decoded per second of decoder
time, seconds of video per second of wall time)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def stage_timing(features_s: float, head_s: float, post_s: float, stats: Any) -> dict[str, float]:
    """Seconds per stage. ``decode`` is the decoder's busy time (it runs ahead of the extractor in
    a worker, so the stages overlap and need not add up to ``total``); ``extract`` is the time the
    features took minus the time spent waiting for decoded chunks."""
    decode_s = float(stats.decode_seconds) if stats is not None else 0.0
    wait_s = float(stats.wait_seconds) if stats is not None else 0.0
    return {"decode": decode_s, "extract": max(features_s - wait_s, 0.0), "head": head_s, "postprocess": post_s}


def throughput_record(stats: Any, duration: float | None, total_s: float) -> dict[str, float]:
    """Frames decoded (and per second of decoder time) and seconds of video per wall second."""
    out: dict[str, float] = {}
    if stats is not None:
        out["frames_decoded"] = int(stats.frames)
        if stats.decode_seconds > 0:
            out["decode_fps"] = round(stats.frames / stats.decode_seconds, 1)
    if duration and total_s > 0:
        out["realtime_factor"] = round(duration / total_s, 2)
    return out


def summary_line(records: Iterable[dict[str, Any]], wall_seconds: float) -> str | None:
    """``decoded N frames (F frames/s); V s of video in W s (R x real time)`` over the results
    of a run or batch (JSON dicts; failed videos count only in wall time); None when nothing ran."""
    frames, decode_s, video_s, ok = 0, 0.0, 0.0, 0
    for r in records:
        if r.get("error"):
            continue
        ok += 1
        frames += int(r.get("throughput", {}).get("frames_decoded", 0))
        decode_s += float(r.get("timing", {}).get("decode", 0.0))
        video_s += float(r.get("duration") or 0.0)
    if ok == 0 or wall_seconds <= 0:
        return None
    parts = []
    if frames and decode_s > 0:
        parts.append(f"decoded {frames} frames ({frames / decode_s:.0f} frames/s)")
    parts.append(f"{video_s:.1f} s of video in {wall_seconds:.1f} s ({video_s / wall_seconds:.1f}x real time)")
    return "; ".join(parts)
