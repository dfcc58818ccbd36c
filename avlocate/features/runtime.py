"""Where and in what precision an extractor's networks run (``device`` / ``precision`` fields).

* ``device``: "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
* ``precision``: "fp32" (default: the arithmetic the parity tests check), "bf16" (autocast on CPU
  or CUDA) or "fp16" (autocast, CUDA only: CPU float16 convolutions are slow and lose range).

Under "fp32" no autocast context is entered at all, so the networks see exactly the float32
arithmetic they see without this module. On CUDA, cuDNN convolutions would by default use TF32
(10-bit mantissa, ~1e-3 relative error), which breaks the 1e-4 feature tolerance of the
reference; :func:`ieee_fp32` turns that off while features are extracted (and restores it).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import ContextManager

import torch

from ..errors import UsageError

__all__ = ["PRECISIONS", "Runtime", "ieee_fp32", "resolve_runtime"]

PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    dtype: torch.dtype | None  # autocast dtype; None = plain float32

    def autocast(self) -> ContextManager[object]:
        """Autocast for the feature networks (nothing at all under fp32)."""
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)


def resolve_runtime(device: str = "auto", precision: str = "fp32") -> Runtime:
    """Check an extractor's ``device`` and ``precision`` fields; one-line UsageError if unusable."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    name = str(device)
    if name == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise UsageError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise UsageError(f"device {name!r} asked for, but no CUDA GPU is available; use cpu")
        if dev.type not in ("cpu", "cuda"):
            raise UsageError(f"device {name!r} is not supported by the feature extractors; use cpu or cuda[:N]")
    if precision == "fp16" and dev.type != "cuda":
        raise UsageError("precision fp16 needs a CUDA GPU; on the CPU use bf16 or fp32")
    return Runtime(dev, PRECISIONS[precision])


@contextmanager
def ieee_fp32(device: torch.device) -> Iterator[None]:
    """cuDNN float32 convolutions in full IEEE precision (no TF32) inside the block, on CUDA.

    Uses the per-backend ``fp32_precision`` switches and sets conv and rnn together: reading the
    legacy ``allow_tf32`` flag elsewhere raises when the two differ. Both are restored after.
    """
    cudnn = torch.backends.cudnn
    if device.type != "cuda" or not hasattr(cudnn, "conv"):
        yield
        return
    saved = (cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision)
    cudnn.conv.fp32_precision = cudnn.rnn.fp32_precision = "ieee"
    try:
        yield
    finally:
        cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision = saved
