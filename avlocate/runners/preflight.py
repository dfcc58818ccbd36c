"""Checks made before any work: a mistake in the command line costs one line, not a run.

``run`` checks its formats against the number of videos before decoding anything
(:func:`avlocate.outputs.writers.check_run_formats`); ``batch``
checks the threshold, every device and the model (card, weights, extractor) before it opens its
output, so a wrong ``-m`` or ``--device`` never writes an error line per video.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..pipeline import check_threshold  # noqa: F401 - one rule for the CLI and Python


_DEVICE_SYNTAX = re.compile(r"auto|cpu|mps|cuda(:[0-9]+)?")


def check_devices(device: str | None, load_torch: bool = True) -> list[str]:
    """Every device of ``--device`` (comma-separated) exists here; returns them. With
    ``load_torch`` False, only names are checked, unless a GPU is asked for (then torch must say
    whether it is there): a batch whose videos run in worker processes keeps torch out of itself."""
    from .batch import split_devices

    devices = split_devices(device)
    if not load_torch and all(d in ("auto", "cpu") for d in devices):
        for d in devices:
            if not _DEVICE_SYNTAX.fullmatch(d):
                raise UsageError(f"unknown device {d!r}; use auto, cpu or cuda[:N]")
        return devices
    from ..pipeline.models import resolve_device

    for d in devices:
        if not _DEVICE_SYNTAX.fullmatch(d):
            raise UsageError(f"unknown device {d!r}; use auto, cpu or cuda[:N]")
        resolve_device(d)
    return devices


@dataclass(frozen=True)
class BatchPlan:
    """What a batch will run with: the identity its lines must share (see resume_check)."""

    model: str
    weights: str
    settings: dict[str, Any]


def check_batch(options: dict[str, Any], in_process: bool) -> BatchPlan:
    """Validate a batch's options before any line is written.

    In process, the model is loaded here (into this process's cache, for the videos). When the
    videos run in worker processes, the model is loaded once per worker, never here: this
    process reads the card and checks its weights file (name and sha256) without torch, and a
    worker that cannot build the model stops the batch with that one line before any video
    (see worker.py, "fatal"). That keeps the default isolation as cheap as running in process.
    """
    from ..pipeline import DEFAULT_MODEL
    from ..weights.store import load_card, weights_path

    if options.get("model") == "zeroshot":
        raise UsageError("batch does not run the zeroshot model (it needs --labels); use "
                         "`avlocate run VIDEO... --model zeroshot --labels ...`")
    check_threshold(options.get("threshold"))
    devices = check_devices(options.get("device"), load_torch=in_process)
    settings = {"threshold": options.get("threshold"), "precision": options.get("precision")}
    if in_process and len(devices) == 1:
        from ..pipeline.models import load_model

        loaded = load_model(options.get("model"), devices[0], precision=options.get("precision"))
        return BatchPlan(model=loaded.card.name, weights=loaded.weights_id, settings=settings)
    card = load_card(options.get("model") or DEFAULT_MODEL)
    _, weights_id = weights_path(card)
    return BatchPlan(model=card.name, weights=weights_id, settings=settings)
