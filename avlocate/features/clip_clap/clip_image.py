"""CLIP (open_clip) image tower: frames -> L2-normalised image embeddings; and its text tower.

The architecture is any open_clip built-in name (default ViT-B-32; the AVSGN paper uses a
Swin-V2-L based CLIP, which open_clip does not ship: keep ``arch`` configurable and bring the
weights). Weights come only from local files (``weights.py``); the model is built with
``pretrained=None`` so open_clip never reaches for the network.

Preprocessing is open_clip's own evaluation transform for the model (resize the shorter side
with the model's interpolation — bicubic for CLIP —, centre crop, the model's mean/std), applied
to PIL images as open_clip does, so embeddings match what open_clip users get from the same
frames.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F

from ...errors import ModelError, OfflineError
from ...weights.checkpoint import load_into
from . import _deps
from .weights import read_clip_state


def _quiet_build(open_clip: Any, arch: str) -> torch.nn.Module:
    """open_clip model of ``arch`` with random init (weights are loaded by the caller)."""
    if arch.startswith(("hf-hub:", "local-dir:")):
        raise OfflineError(f"CLIP architecture {arch!r} would be fetched from the Hugging Face hub; "
                           f"use a built-in open_clip name (e.g. ViT-B-32) and a local weights file")
    if open_clip.get_model_config(arch) is None:
        examples = ", ".join(n for n in ("ViT-B-32", "ViT-B-16", "ViT-L-14") if n in open_clip.list_models())
        raise ModelError(f"unknown CLIP architecture {arch!r} (open_clip built-ins include {examples}; "
                         f"see open_clip.list_models())")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # open_clip logs a warning for every model built without weights
    try:
        return open_clip.create_model(arch, pretrained=None, load_weights=False, device="cpu")
    except OSError as exc:  # towers built from Hugging Face configs (roberta/mt5/siglip text) need the hub
        raise OfflineError(f"CLIP architecture {arch!r} needs files from the Hugging Face hub to be built "
                           f"({str(exc).splitlines()[0]}); use an architecture open_clip builds locally, e.g. ViT-B-32") from None
    finally:
        root.setLevel(level)


def _fit_state_to_model(open_clip: Any, model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The key/shape adjustments open_clip's own ``load_checkpoint`` makes before loading (third
    party layouts, old text-tower names, scalar vs 1-d logit scale, stale ``position_ids``,
    positional-embedding resizing), applied to a state dict we read ourselves — so that the
    file is opened only by our safe reader. Helpers missing in another open_clip are skipped."""
    f = open_clip.factory
    if hasattr(f, "convert_state_dict"):
        state = f.convert_state_dict(model, state)
    if "positional_embedding" in state and not hasattr(model, "positional_embedding") \
            and hasattr(f, "convert_to_custom_text_state_dict"):
        state = f.convert_to_custom_text_state_dict(state)
    for name in ("logit_scale", "logit_bias"):
        own = getattr(model, name, None)
        if name in state and isinstance(own, torch.Tensor) and own.ndim != state[name].ndim:
            state[name] = state[name].reshape(own.shape)
    state.pop("text.transformer.embeddings.position_ids", None)
    for resize in ("resize_pos_embed", "resize_text_pos_embed"):
        if hasattr(f, resize):
            getattr(f, resize)(state, model)
    return state


class ClipEncoder:
    """Image and text embeddings of one open_clip model (eval mode, no gradients)."""

    def __init__(self, model: torch.nn.Module, arch: str, weights_id: str = "random-init",
                 device: str | torch.device = "cpu") -> None:
        open_clip = _deps.import_open_clip()
        self.arch = arch
        self.weights_id = weights_id
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        cfg = dict(getattr(model.visual, "preprocess_cfg", {}) or {})
        size = cfg.get("size", model.visual.image_size)
        self.preprocess = open_clip.image_transform(
            size, is_train=False, mean=cfg.get("mean"), std=cfg.get("std"),
            resize_mode=cfg.get("resize_mode"), interpolation=cfg.get("interpolation"),
            fill_color=cfg.get("fill_color", 0),
        )
        self._tokenizer = None
        self._dim = int((open_clip.get_model_config(arch) or {}).get("embed_dim", 512))

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def build(cls, arch: str, weights: str | Path | Mapping[str, torch.Tensor] | None,
              weights_id: str | None = None, device: str | torch.device = "cpu") -> "ClipEncoder":
        """The model of ``arch`` with ``weights`` (a file or a state dict; ``None`` = keep the
        random init, for tests). Strict key check: a checkpoint of another architecture fails
        with one line instead of loading half the weights."""
        open_clip = _deps.import_open_clip()
        model = _quiet_build(open_clip, arch)
        if weights is not None:
            state = read_clip_state(Path(weights)) if isinstance(weights, (str, Path)) else dict(weights)
            try:
                state = _fit_state_to_model(open_clip, model, dict(state))
            except Exception:  # noqa: BLE001 - a layout open_clip cannot adapt: the strict load reports it
                pass
            load_into(model, state, f"CLIP {arch}")
            weights_id = weights_id or (Path(weights).name if isinstance(weights, (str, Path)) else "state-dict")
        return cls(model, arch, weights_id or "random-init", device)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def logit_scale(self) -> float:
        """CLIP's learned inverse temperature (exp of ``logit_scale``), for calibrated softmaxes."""
        return float(self.model.logit_scale.detach().exp())

    # -- images -----------------------------------------------------------------------------------
    def preprocess_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(n, H, W, 3) uint8 RGB -> (n, 3, S, S) float model input, via open_clip's transform."""
        from PIL import Image

        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise ValueError(f"frames must be (n, H, W, 3) uint8, got {tuple(frames.shape)} {frames.dtype}")
        arr = frames.cpu().numpy()
        return torch.stack([self.preprocess(Image.fromarray(a)) for a in arr]) if len(arr) else \
            torch.zeros(0, 3, *self._input_size())

    def _input_size(self) -> tuple[int, int]:
        size = self.model.visual.image_size
        return (size, size) if isinstance(size, int) else tuple(size)  # type: ignore[return-value]

    def encode_images(self, pixels: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """(n, 3, S, S) preprocessed images -> (n, D) L2-normalised embeddings (float32, CPU)."""
        out = []
        with torch.inference_mode():
            for start in range(0, pixels.shape[0], batch_size):
                x = pixels[start:start + batch_size].to(self.device)
                out.append(F.normalize(self.model.encode_image(x).float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.dim)

    def encode_frames(self, frames: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        return self.encode_images(self.preprocess_frames(frames), batch_size)

    # -- text -------------------------------------------------------------------------------------
    def tokenizer(self):  # noqa: ANN201
        if self._tokenizer is None:
            open_clip = _deps.import_open_clip()
            try:
                self._tokenizer = open_clip.get_tokenizer(self.arch)
            except Exception as exc:  # HF tokenizers (e.g. roberta/mt5 text towers) need the hub
                raise OfflineError(
                    f"the text tokenizer of CLIP {self.arch} could not be built offline "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); use an architecture "
                    f"with open_clip's bundled BPE tokenizer (e.g. ViT-B-32)"
                ) from None
        return self._tokenizer

    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """(K, D) L2-normalised text embeddings of ``texts``."""
        if isinstance(texts, str) or not texts:
            raise ValueError("encode_text needs a non-empty list of strings")
        tok = self.tokenizer()
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                ids = tok(list(texts[start:start + batch_size])).to(self.device)
                out.append(F.normalize(self.model.encode_text(ids).float(), dim=-1).cpu())
        return torch.cat(out)

