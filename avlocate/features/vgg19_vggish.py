"""``vgg19-vggish``: the AVE feature protocol (VSCG and the other AVE-task heads) from any video.

A video is cut into 1-second segments; segment i covers ``[i, i+1)`` s (Timeline fps=1, window=1,
stride=1). Per segment:

* Visual: VGG-19 (ImageNet) pool5 maps of ``frames_per_second`` (16, as AVE) frames, averaged ->
  (7, 7, 512), stored flattened as (T, 25088) with ``Features.visual_shape = (7, 7, 512)``.
* Audio: one VGGish 128-d embedding (raw, no PCA) of the 0.96-s log-mel example that starts at
  the segment's start.

Preprocessing, and where it differs from the AVE extraction (Keras VGG19, ``cv2.resize`` to
224x224, Keras "caffe" preprocessing, 16 frames per second sampled from the native frames):
* Frames are taken on the grid ``k / 16`` s by the media layer (equivalent to picking 16 evenly
  spaced native frames per second) and resized by it to exactly 224x224 (swscale bilinear). The
  whole picture is squashed, as AVE's ``cv2.resize(im, (224, 224))`` does, never cropped: the
  heads attend over the 7x7 map of the full frame.
* Our VGG-19 weights are torchvision's ImageNet checkpoint, so the input is what those weights
  were trained on: RGB in [0, 1], normalised with the ImageNet mean (0.485, 0.456, 0.406) and
  std (0.229, 0.224, 0.225). The Keras weights want BGR 0-255 minus the caffe mean instead;
  feeding either set of weights the other's preprocessing would be wrong. The two VGG-19 weight
  sets are different trainings, so these features are close in kind to AVE's .h5 features but not
  numerically equal: heads trained on the official AVE features see a domain shift.
* Audio: AVE runs VGGish with its 0.96-s example hop and assigns example k to segment k, which
  drifts by 0.04 s per segment (0.36 s at the end of a 10-s clip, 144 s after an hour). We use a
  1.0-s hop (``audio_hop_s``) so that example k always starts at k s; ``audio_hop_s=0.96``
  reproduces the AVE extraction on 10-s clips. Resampling to 16 kHz as the i3d-vggish protocol
  (resampy ``kaiser_best``).
* A last segment with at least half of its frames counts (its average uses the frames it has);
  T is the smaller of the visual and the audio segment counts.

Everything streams: frames go through VGG-19 in batches of ``frames_per_batch`` (on the GPU when
there is one, ``device``) and only the running sum of the current segment is kept.
``precision`` "bf16"/"fp16" (fp16: CUDA only) autocasts VGG-19 and VGGish; the per-segment means
are taken in float32 and the features come back as float32 CPU tensors (see :mod:`.runtime`).
Both conv nets run in channels-last layout (faster on CPU too, see :mod:`.i3d_vggish`).

Weights (never downloaded): ``vgg19.safetensors`` (made once from torchvision's ImageNet
checkpoint with ``avlocate weights import FILE --from vgg19``) and ``vggish.safetensors``
(``--from vggish``), looked up in the weights search path.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from ..registry import EXTRACTORS
from ..timeline import Timeline
from .base import Extractor, Features

WEIGHT_FILES = {"vgg19": "vgg19.safetensors", "vggish": "vggish.safetensors"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POOL5_SHAPE = (7, 7, 512)  # at 224x224 input


@dataclass
class VGG19VGGishConfig:
    frames_per_second: int = 16  # AVE: 16 frames per 1-s segment
    image_size: int = 224
    frames_per_batch: int = 16  # frames through VGG-19 at once (~0.5 GB of activations at 224 on CPU)
    audio_hop_s: float = 1.0  # see the module docstring; 0.96 = the AVE extraction on 10-s clips
    resampy_version: str = "0.2.2"  # as the i3d-vggish protocol (see vggish/resample.py)
    device: str = "auto"  # "auto": CUDA when available (VGG-19 is ~20 GFLOPs a frame), else CPU
    precision: str = "fp32"  # "fp32" (default) | "bf16" | "fp16" (CUDA only): autocast of the conv nets
    # 1: the published VGG-19 and VGGish (their public weights). N > 1: both at 1/N of their inner
    # widths, same outputs (VGG19Pool5, VGGishConfig): for tests, whose random weights then cost
    # ~1 MB and milliseconds instead of 370 MB and seconds.
    width_divisor: int = 1


class VGG19Pool5(nn.Module):
    """torchvision's VGG-19 convolutional part (``features``, up to and including pool5).

    (n, 3, 224, 224) normalised RGB -> (n, 7, 7, 512) channels-last maps (the AVE layout).
    ``width_divisor`` N > 1 divides every conv width but the last (the 512 map channels) by N:
    the same layers, pools and map shape at a small fraction of VGG-19's ~20 GFLOPs a frame, for
    tests of the extractor's plumbing on seeded random weights. 1 is the published network.
    """

    def __init__(self, width_divisor: int = 1) -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        if width_divisor < 1:
            raise ValueError(f"width_divisor must be >= 1, got {width_divisor}")
        cfg = list(cfgs["E"])  # "E" = VGG-19
        if width_divisor > 1:
            last = max(i for i, v in enumerate(cfg) if v != "M")
            cfg = [v if v == "M" or i == last else max(int(v) // width_divisor, 1) for i, v in enumerate(cfg)]
        self.features = make_layers(cfg, batch_norm=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images).permute(0, 2, 3, 1)


def vgg19_features_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ``features.*`` tensors of a torchvision VGG-19 checkpoint (the classifier is unused)."""
    return {k: v for k, v in state.items() if k.startswith("features.")}


def load_vgg19(weights: str | Path | Mapping[str, torch.Tensor], width_divisor: int = 1) -> VGG19Pool5:
    """VGG-19 pool5 in eval mode from a torchvision-layout checkpoint (.pth or our safetensors);
    ``width_divisor``: :class:`VGG19Pool5`'s test-size knob (1 for the public checkpoint)."""
    from ..weights.checkpoint import load_into, read_state_dict

    sd = read_state_dict(weights) if isinstance(weights, (str, Path)) else weights
    net = VGG19Pool5(width_divisor)
    return load_into(net, vgg19_features_state(sd), "VGG-19 (torchvision layout)")  # type: ignore[return-value]


def _find_weights(kind: str) -> str:
    from ..weights.manager import path_of

    return str(path_of(kind, needed_by="the vgg19-vggish extractor"))


def normalize_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """(n, H, W, 3) uint8 RGB -> (n, 3, size, size) float32 with ImageNet normalisation.

    The media layer already delivers size x size; other sizes are squashed here (bilinear,
    antialiased) so the function is usable on any frames.
    """
    x = frames.permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[-2:] != (size, size):
        x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


class SegmentAverager:
    """Running per-segment mean of frame features: push (frame index, feature) batches in order."""

    def __init__(self, frames_per_segment: int) -> None:
        self.n = frames_per_segment
        self.done: list[torch.Tensor] = []
        self._sum: torch.Tensor | None = None
        self._count = 0
        self._segment = 0

    def push(self, first_frame: int, feats: torch.Tensor) -> None:
        seg = (first_frame + torch.arange(feats.shape[0], device=feats.device)) // self.n
        for s in seg.unique().tolist():  # at most a few segments per batch
            part = feats[seg == s].sum(0)
            while s > self._segment:  # close the current segment (a gap never happens in practice)
                self._close()
            self._sum = part if self._sum is None else self._sum + part
            self._count += int((seg == s).sum())

    def _close(self) -> None:
        if self._sum is not None and self._count:
            self.done.append(self._sum / self._count)
        self._sum, self._count = None, 0
        self._segment += 1

    def finish(self) -> torch.Tensor:
        """All segment means; a last partial segment counts when it has at least half its frames."""
        if self._sum is not None and 2 * self._count >= self.n:
            self._close()
        return torch.stack(self.done).cpu() if self.done else torch.zeros(0)


class VGG19VGGishExtractor(Extractor):
    name = "vgg19-vggish"
    config_class = VGG19VGGishConfig

    def __init__(self, config: VGG19VGGishConfig | None = None) -> None:
        from .runtime import resolve_runtime

        self.config = config or VGG19VGGishConfig()
        self.runtime = resolve_runtime(self.config.device, self.config.precision)  # fails early, one line
        self._models: dict[str, nn.Module] | None = None

    @property
    def pool5_shape(self) -> tuple[int, int, int]:
        """(7, 7, 512) at the default 224x224 input (VGG-19 halves the size five times)."""
        side = self.config.image_size // 32
        return (side, side, POOL5_SHAPE[2])

    @property
    def visual_dim(self) -> int:
        h, w, ch = self.pool5_shape
        return h * w * ch

    @property
    def audio_dim(self) -> int:
        return 128

    @property
    def timeline(self) -> Timeline:
        return Timeline(1.0, 1, 1)

    def media_request(self, info=None):  # noqa: ANN001, ANN201
        from ..media import AudioSpec, VideoSpec

        c = self.config
        # Audio at the file's own rate: resampled to 16 kHz the VGGish (resampy) way below.
        rate = int(info.sample_rate) if info is not None and getattr(info, "sample_rate", None) else 16000
        return VideoSpec(fps=c.frames_per_second, width=c.image_size, height=c.image_size), AudioSpec(sample_rate=rate)

    @property
    def device(self) -> torch.device:
        return self.runtime.device

    def models(self) -> dict[str, nn.Module]:
        if self._models is None:
            from .vggish.network import VGGishConfig
            from .vggish.weights import load_vggish

            d = self.config.width_divisor
            vgg19 = load_vgg19(_find_weights("vgg19"), d)
            vggish = load_vggish(_find_weights("vggish"), VGGishConfig(width_divisor=d))
            cl = torch.channels_last
            self._models = {"vgg19": vgg19.to(self.device, memory_format=cl),
                            "vggish": vggish.to(self.device, memory_format=cl)}
        return self._models

    def share_forwards(self, wrap):  # noqa: ANN001, ANN201 — see Extractor.share_forwards
        models = self.models()
        for name in list(models):
            models[name] = wrap(name, models[name])

    def extract(self, clip) -> Features:  # noqa: ANN001
        from .runtime import ieee_fp32
        from .vggish.frontend import ExampleStream, VGGishFrontendConfig
        from .vggish.resample import KaiserResampler

        c = self.config
        m = self.models()
        rate = clip.audio.sample_rate if clip.audio is not None else 16000
        # A --live block says where its audio starts in the stream: the resampler continues the
        # whole run's time register from there (pipeline/live/feed.py); 0 for a file.
        resampler = KaiserResampler(rate, 16000, c.resampy_version, origin=int(getattr(clip, "audio_offset", 0)))
        examples = ExampleStream(replace(VGGishFrontendConfig(), example_hop_s=c.audio_hop_s))
        averager = SegmentAverager(c.frames_per_second)
        dev, rt = self.device, self.runtime
        audio: list[torch.Tensor] = []

        def embed(ex: torch.Tensor) -> None:
            if ex.shape[0]:
                with rt.autocast():
                    audio.append(m["vggish"](ex.float().to(dev)).float().cpu())

        with torch.inference_mode(), ieee_fp32(dev):
            for chunk in clip.chunks(c.frames_per_batch):
                if chunk.frames.shape[0]:
                    x = normalize_frames(chunk.frames.to(dev), c.image_size)  # float32, outside autocast
                    with rt.autocast():
                        maps = m["vgg19"](x)
                    averager.push(int(chunk.first_frame), maps.flatten(1).float())
                if chunk.audio.numel():
                    embed(examples.push(resampler.push(chunk.audio.double())))
            embed(examples.push(resampler.finish()))
            embed(examples.finish())
        visual = averager.finish()
        visual = visual if visual.numel() else torch.zeros(0, self.visual_dim)
        aud = torch.cat(audio) if audio else torch.zeros(0, 128)
        t = min(visual.shape[0], aud.shape[0])
        warnings = dict(getattr(clip, "warnings", {}) or {})
        if t == 0:
            warnings["features"] = "video shorter than one 1-s segment: nothing to score"
        duration = float(clip.duration) if math.isfinite(float(clip.duration)) else None
        return Features(visual[:t].float().cpu().contiguous(), aud[:t].float().cpu().contiguous(),
                        self.timeline.with_duration(duration), self.name, warnings, visual_shape=self.pool5_shape)


EXTRACTORS.register("vgg19-vggish")(VGG19VGGishExtractor)
