"""Building VGGish (and its PCA post-processor) from checkpoints; the generic checkpoint helpers
are :mod:`avlocate.weights.checkpoint`."""
from __future__ import annotations

from pathlib import Path

from ...weights.checkpoint import StateDict, load_into, read_state_dict
from .network import VGGish, VGGishConfig, VGGishPostprocessor

__all__ = ["load_vggish", "load_vggish_postprocessor"]


def load_vggish(weights: str | Path | StateDict, config: VGGishConfig = VGGishConfig()) -> VGGish:
    """VGGish in eval mode from the public converted layout (``features.*``, ``embeddings.*``)."""
    sd = read_state_dict(weights) if isinstance(weights, (str, Path)) else weights
    return load_into(VGGish(config), sd, "VGGish")  # type: ignore[return-value]


def load_vggish_postprocessor(weights: str | Path | StateDict) -> VGGishPostprocessor:
    """PCA parameters (``pca_eigen_vectors`` (128, 128), ``pca_means`` (128,) or (128, 1))."""
    sd = dict(read_state_dict(weights) if isinstance(weights, (str, Path)) else weights)
    return load_into(VGGishPostprocessor(), sd, "the VGGish PCA post-processor")  # type: ignore[return-value]
