"""The training state written after every epoch, so that an interrupted run resumes.

One file per model, ``<out>/<name>.train-state.pt``: model, EMA copy, optimizer, schedule, loss
normaliser, the number of finished epochs and the torch random state, plus a fingerprint of the
settings that produced it. It holds tensors and plain Python values only, so it is read back with
``torch.load(weights_only=True)`` (loading never runs code). Writes are atomic: a temporary file in
the same folder, flushed to disk, then renamed over the old one, so a kill at any moment leaves
either the previous epoch's state or the new one, never half a file.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..errors import OutputError, UsageError, WeightsError

SUFFIX = ".train-state.pt"


def state_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / f"{name}{SUFFIX}"


def fingerprint(settings: dict[str, Any]) -> str:
    """sha256 of the settings that must not change between a run and its resumption."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Atomic write (temporary file + fsync + rename) of a weights-only-loadable dict."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write the training state to {path.parent} ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write the training state {path} ({exc.strerror or exc})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_state(path: Path, expected_fingerprint: str) -> dict[str, Any] | None:
    """The saved state, or None when there is none. A state of other settings is refused."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated, or a pickle that would run code
        raise WeightsError(f"{path}: unreadable training state ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}); "
                           "delete it or give --restart to train from the start") from None
    if not isinstance(state, dict) or state.get("fingerprint") != expected_fingerprint:
        raise UsageError(f"{path} was written by a training run with other settings (data, head or recipe); "
                         "give --restart to train from the start, or another --out/--name")
    return state
