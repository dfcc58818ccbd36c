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
    """Validate a batch's options (:func:`avlocate.runners.batch.batch_options`) before any line
    is written.

    In process, the model is loaded here (the one the videos then use). When the videos run in
    worker processes, the model is loaded once per worker, never here: this process reads the
    card and checks its weights file (name and sha256) without torch, and a worker that cannot
    build the model stops the batch with that one line before any video (see worker.py,
    "fatal"). That keeps the default isolation as cheap as running in process.
    """
    from ..pipeline import DEFAULT_MODEL
    from ..pipeline.options import RunOptions
    from ..weights.store import load_card, weights_path

    run_options = RunOptions.from_dict(options)  # validated in one place
    devices = check_devices(run_options.device, load_torch=in_process)
    settings = run_options.settings()
    card = load_card(options.get("model") or DEFAULT_MODEL)
    run_options.check_model(card.name, card.options)
    if not card.classes:  # the model names its events at run time: batch has no flag for them
        raise UsageError(f"batch runs models with fixed classes; {card.name!r} takes its event names from "
                         f"--labels / --vocab: use `avlocate run VIDEO... --model {card.name} --labels ...`")
    if in_process and len(devices) == 1:
        from .batch import held_model

        loaded = held_model(options)
        return BatchPlan(model=loaded.card.name, weights=loaded.weights_id, settings=settings)
    _, weights_id = weights_path(card)
    return BatchPlan(model=card.name, weights=weights_id, settings=settings)
