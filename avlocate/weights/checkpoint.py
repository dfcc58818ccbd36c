"""Reading and writing checkpoints without executing code (generic, used by every importer).

``read_state_dict``: safetensors files (our own format) are read directly; official PyTorch
pickles (.pt/.pth) only through ``torch.load(weights_only=True)``, which refuses anything but
tensors and plain containers. ``load_into``: a strict load whose mismatch is one line.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch

from ..errors import WeightsError

__all__ = ["StateDict", "read_state_dict", "write_safetensors", "load_into"]

StateDict = Mapping[str, torch.Tensor]


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` or ``.pt``/``.pth`` file (CPU), never unpickling code."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return dict(load_file(str(path), device="cpu"))
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except WeightsError:
        raise
    except Exception as exc:  # corrupt file, or a pickle that needs code execution
        # torch's text for a refused pickle advises weights_only=False, which would run code: not shown
        detail = ("not loadable without running code" if "Weights only load failed" in str(exc)
                  else (str(exc).splitlines()[0][:200] if str(exc) else ""))
        raise WeightsError(f"cannot read weights {path} ({type(exc).__name__}: {detail}); give the checkpoint file "
                           "itself (.pt/.pth saved by PyTorch, or .safetensors)") from None
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if (not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values())
            or not all(isinstance(k, str) for k in obj)):
        raise WeightsError(f"{path} does not hold a flat state dict of named tensors; give the network's "
                           "checkpoint file (see `avlocate weights list` for what each name expects)")
    return dict(obj)


def write_safetensors(state_dict: StateDict, path: str | Path) -> None:
    """Save tensors as safetensors (contiguous copies; aliased tensors are written separately)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().clone() for k, v in state_dict.items()}, str(path))


def load_into(module: torch.nn.Module, state_dict: StateDict, what: str) -> torch.nn.Module:
    """``load_state_dict(strict=True)`` with float tensors cast to the module's dtype and any
    mismatch reported as one-line :class:`WeightsError`."""
    own = module.state_dict()
    cast = {k: (v.to(own[k].dtype) if k in own and v.is_floating_point() else v) for k, v in state_dict.items()}
    try:
        # The module's own load hooks run first (I3D's checkpoints may lack num_batches_tracked; the
        # VGGish PCA means come as (128,) or (128, 1)): only what they cannot take is a mismatch.
        module.load_state_dict(cast, strict=True)
    except RuntimeError as exc:
        # Summarised, never listed: a wrong file would otherwise print every key (tens of kB, one line).
        missing = [k for k in own if k not in cast]
        unexpected = [k for k in cast if k not in own]
        shapes = [k for k in own if k in cast and tuple(cast[k].shape) != tuple(own[k].shape)]
        parts = ([f"{len(missing)} tensor(s) missing, e.g. {missing[0]!r}"] if missing else []) \
            + ([f"{len(unexpected)} unknown, e.g. {unexpected[0]!r}"] if unexpected else []) \
            + ([f"{len(shapes)} of another shape, e.g. {shapes[0]!r}"] if shapes else [])
        detail = "; ".join(parts) if parts else str(exc).splitlines()[0][:300]
        raise WeightsError(f"weights do not fit {what}: {detail}; check that the file is the checkpoint for {what} "
                           "checkpoint (and that --from names the right network)") from None
    return module.eval()
