"""Building I3D streams from the public converted Kinetics checkpoints or our safetensors."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch

from ...weights.checkpoint import load_into, read_state_dict
from .net import I3D, I3DConfig

__all__ = ["load_i3d"]


def load_i3d(weights: str | Path | Mapping[str, torch.Tensor], modality: str, width_divisor: int = 1) -> I3D:
    """I3D of one stream ("rgb" or "flow") in eval mode; strict key check (``width_divisor``:
    :class:`I3DConfig`'s test-size knob, 1 for the public checkpoints).

    Converted checkpoints written by old PyTorch versions lack the ``*.num_batches_tracked``
    buffers; BatchNorm fills those in itself, so strict loading still succeeds.
    """
    sd = read_state_dict(weights) if isinstance(weights, (str, Path)) else weights
    net = I3D(I3DConfig(modality=modality, width_divisor=width_divisor))
    return load_into(net, sd, f"I3D ({modality} stream)")  # type: ignore[return-value]
