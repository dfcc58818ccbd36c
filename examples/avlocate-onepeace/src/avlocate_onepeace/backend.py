"""The real ONE-PEACE encoders, behind a lazy import of the ``one_peace`` package.

``one_peace`` (github.com/OFA-Sys/ONE-PEACE) is not on PyPI, needs its own fairseq fork and
Python <= 3.10, so it is never a dependency: when it or a checkpoint is missing, extraction stops
with one avlocate error line saying what to install, and nothing is downloaded (the hub
interface of ONE-PEACE would otherwise fetch several GB on first use).

UNTESTED against the real package: it could not be installed where this plugin was written.
The calls below follow ONE-PEACE's published hub interface (``from_pretrained`` with a local
checkpoint path; ``extract_audio_features``); the video encoder of the Kinetics-400 fine-tuned
checkpoint has no documented hub call, so this adapter looks for one and says so when absent.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from avlocate.errors import ModelError, WeightsError

INSTALL_HINT = ("install the ONE-PEACE code base from https://github.com/OFA-Sys/ONE-PEACE (its own fairseq fork, "
                "Python <= 3.10) in this environment")


def _require_one_peace() -> Any:
    try:
        from one_peace.models import from_pretrained  # noqa: PLC0415 - the whole point is laziness
    except ImportError as exc:
        raise ModelError(f"extractor 'one-peace' needs the one_peace package, which is not importable "
                         f"({type(exc).__name__}: {exc}); {INSTALL_HINT}") from None
    return from_pretrained


def _checkpoint(path: str | None, option: str, what: str) -> str:
    if not path:
        raise WeightsError(f"extractor 'one-peace' needs {what}: download it from the ONE-PEACE repository's "
                           f"checkpoints page and pass its path as extractor config {option!r}")
    if not Path(path).expanduser().is_file():
        raise WeightsError(f"{path}: {what} not found (extractor config {option!r})")
    return str(Path(path).expanduser())


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


class OnePeaceBackend:
    """Wraps two ONE-PEACE models: the K400 fine-tuned one (video) and the pre-trained one (audio)."""

    def __init__(self, video_model: Any, audio_model: Any, device: str, dtype: torch.dtype) -> None:
        self.video_model, self.audio_model = video_model, audio_model
        self.device, self.dtype = device, dtype

    def encode_video(self, clips: torch.Tensor) -> torch.Tensor:
        fn = getattr(self.video_model, "extract_video_features", None)
        if fn is None:
            raise ModelError("this one_peace version has no video feature call (extract_video_features); "
                             "the avlocate-onepeace adapter must be updated for it")
        return fn(clips.to(self.device, self.dtype))

    def encode_audio(self, waves: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros(waves.shape, dtype=torch.bool, device=self.device)  # no padding inside a window
        return self.audio_model.extract_audio_features(waves.to(self.device, self.dtype), mask)


def load_backend(config: Any) -> OnePeaceBackend:
    from_pretrained = _require_one_peace()  # first: the clearest message when nothing is installed
    video = _checkpoint(config.video_weights, "video_weights", "the Kinetics-400 fine-tuned ONE-PEACE checkpoint")
    audio = _checkpoint(config.audio_weights, "audio_weights", "the pre-trained ONE-PEACE checkpoint")
    device = _device(config.device)
    dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[config.dtype]
    if device == "cpu":
        dtype = torch.float32  # half precision matmuls on CPU are slow or unsupported
    name = {torch.float16: "float16", torch.bfloat16: "bfloat16", torch.float32: "float32"}[dtype]
    video_model = from_pretrained(video, device=device, dtype=name)
    audio_model = video_model if audio == video else from_pretrained(audio, device=device, dtype=name)
    return OnePeaceBackend(video_model, audio_model, device, dtype)
