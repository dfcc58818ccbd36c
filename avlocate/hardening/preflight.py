"""Checks made before any work: a mistake in the command line costs one line, not a run.

``run`` checks its formats against the number of videos before decoding anything; ``batch``
checks the threshold, every device and the model (card, weights, extractor) before it opens its
output, so a wrong ``-m`` or ``--device`` never writes an error line per video.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import UsageError


def check_threshold(threshold: float | None) -> None:
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold {threshold:g} is outside [0, 1]; give a score between 0 and 1")


def check_run_formats(formats: list[str], num_videos: int, to_dir: bool, stdout_tty: bool) -> None:
    """Refuse, before decoding, what the writers would refuse after all videos are done."""
    from ..writers import PER_VIDEO

    if to_dir:
        return
    per_video = [f for f in formats if f in PER_VIDEO]
    if per_video and num_videos > 1:
        raise UsageError(f"{per_video[0]} holds one video and {num_videos} were given; "
                         "use -o DIR to write one file per video")
    if "png" in formats and stdout_tty:
        raise UsageError("png is binary: redirect stdout to a file or use -o DIR")


def check_devices(device: str | None) -> list[str]:
    """Every device of ``--device`` (comma-separated) exists here; returns them."""
    from ..batch import split_devices
    from ..models import resolve_device

    devices = split_devices(device)
    for d in devices:
        resolve_device(d)
    return devices


@dataclass(frozen=True)
class BatchPlan:
    """What a batch will run with: the identity its lines must share (see resume_check)."""

    model: str
    weights: str
    settings: dict[str, Any]


def check_batch(options: dict[str, Any], in_process: bool) -> BatchPlan:
    """Validate a batch's options; load the model once (in this process's cache when the videos
    run here, else on the CPU just to check the card, weights and extractor)."""
    from ..models import load_model

    if options.get("model") == "zeroshot":
        raise UsageError("batch does not run the zeroshot model (it needs --labels); use "
                         "`avlocate run VIDEO... --model zeroshot --labels ...`")
    check_threshold(options.get("threshold"))
    devices = check_devices(options.get("device"))
    device = devices[0] if in_process and len(devices) == 1 else "cpu"
    loaded = load_model(options.get("model"), device, precision=options.get("precision"))
    settings = {"threshold": options.get("threshold"), "precision": options.get("precision")}
    return BatchPlan(model=loaded.card.name, weights=loaded.weights_id, settings=settings)
