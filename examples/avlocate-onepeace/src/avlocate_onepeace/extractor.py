"""``one-peace``: the UnAV-100 ONE-PEACE feature protocol (the best rows of the DAVE papers).

Protocol (../shared/EXTRACTION.md): video at 16 fps, 16-frame windows every 4 frames; audio at
16 kHz, 1-s windows every 0.25 s; both 1536-d; snippet i covers [0.25 i, 0.25 i + 1) s and its
centre is t = (4 i + 8) / 16 = 0.25 i + 0.5 (avlocate's Timeline(16, 16, 4)).

No extraction script was published with the features. Preprocessing follows the closest
published source, ONE-PEACE's own video-recognition config and hub interface:
* frames: shorter side 256 (the media layer resizes), centre crop 256, CLIP mean/std applied to
  0-255 pixel values;
* audio: mono 16 kHz, each window layer-normalised over its samples (no learned affine), windows
  shorter than 1 s repeat-padded (only possible at the very end; complete windows are the rule).
The two streams are trimmed to the shorter, as the UnAV loaders do.

The encoders run in a *backend* (:mod:`avlocate_onepeace.backend`) that imports ``one_peace``
lazily, so this plugin installs and registers without it and ``avlocate models`` lists it; the
first extraction then fails with one line saying what to install. Tests pass a stand-in backend.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from avlocate.features.base import Extractor, Features
from avlocate.timeline import Timeline

# CLIP's normalisation constants (as used by ONE-PEACE's vision preprocessing), for 0-1 pixels.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class OnePeaceConfig:
    fps: float = 16.0
    window: int = 16  # frames per video window
    stride: int = 4  # frames between windows (0.25 s)
    short_side: int = 256
    crop: int = 256
    sample_rate: int = 16000
    video_weights: str | None = None  # the Kinetics-400 fine-tuned ONE-PEACE checkpoint (.pt)
    audio_weights: str | None = None  # the pre-trained ONE-PEACE checkpoint (.pt)
    device: str = "auto"
    dtype: str = "float16"  # ONE-PEACE is 4 B parameters: half precision on GPU, as its hub default
    batch_windows: int = 8  # windows per encoder call


class Backend(Protocol):
    def encode_video(self, clips: torch.Tensor) -> torch.Tensor:
        """(n, 3, window, crop, crop) normalised -> (n, 1536)."""

    def encode_audio(self, waves: torch.Tensor) -> torch.Tensor:
        """(n, samples) layer-normalised 1-s windows -> (n, 1536)."""


class OnePeaceExtractor(Extractor):
    name = "one-peace"
    config_class = OnePeaceConfig

    def __init__(self, config: OnePeaceConfig | None = None, backend: Backend | None = None) -> None:
        self.config = config or OnePeaceConfig()
        self._backend = backend

    @property
    def visual_dim(self) -> int:
        return 1536

    @property
    def audio_dim(self) -> int:
        return 1536

    @property
    def timeline(self) -> Timeline:
        c = self.config
        return Timeline(c.fps, c.window, c.stride)

    def media_request(self, info: Any = None) -> tuple[Any, Any]:
        from avlocate.media import AudioSpec, VideoSpec

        c = self.config
        return VideoSpec(fps=c.fps, shorter_side=c.short_side), AudioSpec(sample_rate=c.sample_rate)

    def backend(self) -> Backend:
        if self._backend is None:
            from .backend import load_backend  # imports one_peace: only when features are wanted

            self._backend = load_backend(self.config)
        return self._backend

    def provenance(self) -> dict[str, str]:
        c = self.config
        return {"video": c.video_weights or "unknown", "audio": c.audio_weights or "unknown"}

    # -- preprocessing ------------------------------------------------------------------------------
    def preprocess_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(n, H, W, 3) uint8 -> (3, n, crop, crop) float: centre crop, CLIP mean/std on 0-255."""
        c = self.config
        h, w = frames.shape[1:3]
        top, left = max((h - c.crop) // 2, 0), max((w - c.crop) // 2, 0)
        x = frames[:, top:top + c.crop, left:left + c.crop].permute(3, 0, 1, 2).float()
        mean = torch.tensor(CLIP_MEAN).view(3, 1, 1, 1) * 255.0
        std = torch.tensor(CLIP_STD).view(3, 1, 1, 1) * 255.0
        return (x - mean) / std

    def preprocess_audio(self, waves: torch.Tensor) -> torch.Tensor:
        """(n, m) windows -> repeat-padded to 1 s, layer-normalised per window (no affine)."""
        need = self.config.sample_rate
        if waves.shape[1] < need:
            reps = math.ceil(need / max(waves.shape[1], 1))
            waves = waves.repeat(1, reps)[:, :need]
        return torch.nn.functional.layer_norm(waves.float(), waves.shape[1:])

    # -- extraction ---------------------------------------------------------------------------------
    def extract(self, clip: Any) -> Features:
        c = self.config
        backend = self.backend()  # fails first, with the install hint, before any decoding
        hop = int(round(c.stride / c.fps * c.sample_rate))
        win = c.sample_rate  # 1-s audio windows
        frames = torch.zeros(0, 0, 0, 3, dtype=torch.uint8)
        pending = torch.zeros(0)
        visual: list[torch.Tensor] = []
        audio: list[torch.Tensor] = []
        with torch.inference_mode():
            for chunk in clip.chunks():
                if chunk.frames.shape[0]:
                    frames = chunk.frames if frames.numel() == 0 else torch.cat([frames, chunk.frames])
                    n = self.timeline.num_snippets(frames.shape[0])
                    for s in range(0, n, c.batch_windows):
                        batch = [self.preprocess_frames(frames[i * c.stride:i * c.stride + c.window])
                                 for i in range(s, min(s + c.batch_windows, n))]
                        visual.append(backend.encode_video(torch.stack(batch)).float().cpu())
                    frames = frames[n * c.stride:]  # keep the frames later windows still need
                if chunk.audio.numel():
                    pending = torch.cat([pending, chunk.audio.float()])
                    n = 0 if pending.numel() < win else (pending.numel() - win) // hop + 1
                    if n:
                        waves = pending[: (n - 1) * hop + win].unfold(0, win, hop)
                        for s in range(0, n, c.batch_windows):
                            audio.append(backend.encode_audio(self.preprocess_audio(waves[s:s + c.batch_windows])).float().cpu())
                        pending = pending[n * hop:]
        v = torch.cat(visual) if visual else torch.zeros(0, self.visual_dim)
        a = torch.cat(audio) if audio else torch.zeros(0, self.audio_dim)
        t = min(v.shape[0], a.shape[0])
        warnings = dict(getattr(clip, "warnings", {}) or {})
        if t == 0:
            warnings["features"] = "video shorter than one 1-s ONE-PEACE window: nothing to score"
        duration = float(clip.duration) if math.isfinite(float(clip.duration)) else None
        return Features(v[:t].contiguous(), a[:t].contiguous(), self.timeline.with_duration(duration), self.name, warnings)
