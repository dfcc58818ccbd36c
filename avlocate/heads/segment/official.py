"""The head's side of importing an official VSCG checkpoint: build avlocate's VSCG (fully) or
VSCG-weakly from the converted tensors and check they fit. The format's side (the restricted
unpickler, the key tables) is :mod:`avlocate.weights.convert_vscg`. Registered as the importer
``official-vscg``.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ...errors import WeightsError
from ...registry import IMPORTERS
from ...weights.convert_vscg import Variant, convert_vscg_state_dict, load_official_vscg
from ...weights.weight_import import ImportedHead


def build_vscg(state: Mapping[str, torch.Tensor], variant: Variant | None = None) -> torch.nn.Module:
    """An eval-mode avlocate VSCG model (fully or weakly) holding the official weights."""
    variant, converted = convert_vscg_state_dict(state, variant)
    return build_vscg_from_converted(converted, variant)


def _check_against(model: torch.nn.Module, converted: Mapping[str, torch.Tensor], variant: str) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(converted))
    if missing:
        raise WeightsError(f"VSCG-{variant} weights lack {len(missing)} tensors, e.g. {missing[0]!r}")
    for key, value in converted.items():
        if key not in expected:
            raise WeightsError(f"key {key!r} does not exist in avlocate's VSCG-{variant}")
        if tuple(value.shape) != tuple(expected[key].shape):
            raise WeightsError(f"{key!r} has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)}")


def build_vscg_from_converted(state: Mapping[str, torch.Tensor], variant: Variant) -> torch.nn.Module:
    """An eval-mode avlocate model from an already converted (avlocate-named) state dict."""
    from .vscg import VSCG
    from .vscg_weakly import VSCGWeakly

    model = VSCG() if variant == "fully" else VSCGWeakly()
    _check_against(model, state, variant)
    model.load_state_dict(dict(state), strict=True)
    return model.eval()


def official_vscg_to_safetensors(src: str | Path, dst: str | Path) -> tuple[Variant, Path]:
    """One-time import: official checkpoint -> avlocate safetensors (validated by building the model).

    The model card (class names, extractor, provenance) is written by the caller.
    """
    from safetensors.torch import save_file

    variant, state = load_official_vscg(src)
    model = build_vscg_from_converted(state, variant)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(dst),
              metadata={"source": "official VSCG checkpoint", "variant": variant})
    return variant, dst


@IMPORTERS.register("official-vscg")
def import_vscg(checkpoint: Path, config: Any = None) -> ImportedHead:
    variant, state = load_official_vscg(checkpoint)
    head = build_vscg_from_converted(state, variant)
    # VSCG's outputs are the event classes + background (last); the card lists events only.
    return ImportedHead(module=head, head="vscg" if variant == "fully" else "vscg-weakly", head_config={},
                        decode={"kind": "segments"},
                        feature_protocol={"extractor": "vgg19-vggish", "fps": 1.0, "window": 1, "stride": 1},
                        extractor="vgg19-vggish", event_classes=int(head.config.num_classes) - 1)
