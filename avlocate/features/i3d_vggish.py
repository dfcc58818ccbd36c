"""``i3d-vggish``: the UnAV-100 feature protocol from any video file (UnAV, CCNet, ESG-Net rows).

Visual: 25 fps frames, shorter side 256 (PIL bilinear, as the official tool), RAFT flow between
consecutive frames (computed once per pair, not once per window as the official tool does),
two-stream I3D on 24-frame windows every 8 frames -> 1024 rgb + 1024 flow = 2048 per snippet.
Audio: mono at the file's own rate, resampy ``kaiser_best`` to 16 kHz, VGGish log-mel examples of
0.96 s every 0.32 s, raw 128-d embeddings (no PCA). Both streams are trimmed to the shorter.
Everything streams: frames and samples are consumed chunk by chunk.

Device and precision (``device``, ``precision``; :mod:`.runtime`): the networks run on the
configured device; the features come back as float32 CPU tensors whatever it is. "bf16"/"fp16"
autocast I3D and VGGish only; RAFT, the preprocessing and the flow quantisation stay float32 (see
:mod:`.i3d.two_stream`). The conv nets are put in channels-last layout: measured on a 1-thread CPU,
I3D (2x24x224x224 flow input) 4.7 -> 4.2 s in fp32 and 13.6 -> 3.1 s under bf16 autocast, VGGish
(16 examples) 0.51 -> 0.40 s; results move by < 1e-8 (another summation order). RAFT keeps its
layout (its correlation is a matmul over flattened maps; not measured).

Weights (never downloaded here): ``i3d_rgb.safetensors``, ``i3d_flow.safetensors``,
``raft_sintel.safetensors`` and ``vggish.safetensors`` in the weights search path, made once from
the public checkpoints with ``avlocate weights import FILE --from i3d-rgb|i3d-flow|raft-sintel|vggish``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..registry import EXTRACTORS
from ..timeline import Timeline
from .base import Extractor, Features

WEIGHT_FILES = {"i3d-rgb": "i3d_rgb.safetensors", "i3d-flow": "i3d_flow.safetensors",
                "raft-sintel": "raft_sintel.safetensors", "vggish": "vggish.safetensors"}


@dataclass
class I3DVGGishConfig:
    fps: float = 25.0
    window: int = 24
    stride: int = 8
    short_side: int = 256
    resampy_version: str = "0.2.2"  # the filter of the 2022 extraction environment (see vggish/resample.py)
    frames_per_chunk: int = 32  # frames pushed into the I3D stream at once (memory vs batching)
    raft_iterations: int = 20
    device: str = "auto"  # "auto": CUDA when available, else CPU (the pipeline passes the model's)
    precision: str = "fp32"  # "fp32" (parity) | "bf16" | "fp16" (CUDA only): autocast of I3D + VGGish
    # 1: the published I3D, RAFT and VGGish (their public weights). N > 1: all three at 1/N of their
    # inner widths, same outputs (I3DConfig, build_raft, VGGishConfig): for tests, whose random
    # weights then cost ~3 MB and a fraction of a second per window instead of ~410 MB and seconds.
    width_divisor: int = 1


def _find_weights(kind: str) -> str:
    from ..weights.manager import path_of

    return str(path_of(kind, needed_by="the i3d-vggish extractor"))


class I3DVGGishExtractor(Extractor):
    name = "i3d-vggish"
    config_class = I3DVGGishConfig

    def __init__(self, config: I3DVGGishConfig | None = None) -> None:
        from .runtime import resolve_runtime

        self.config = config or I3DVGGishConfig()
        self.runtime = resolve_runtime(self.config.device, self.config.precision)  # fails early, one line
        self._models: dict[str, torch.nn.Module] | None = None

    @property
    def visual_dim(self) -> int:
        return 2048

    @property
    def audio_dim(self) -> int:
        return 128

    @property
    def timeline(self) -> Timeline:
        c = self.config
        return Timeline(c.fps, c.window, c.stride)

    def media_request(self, info=None):  # noqa: ANN001, ANN201
        from ..media import AudioSpec, VideoSpec

        # Audio at the file's own rate: the official route resamples with resampy, not swresample.
        rate = int(info.sample_rate) if info is not None and info.sample_rate else 16000
        return VideoSpec(fps=self.config.fps), AudioSpec(sample_rate=rate)

    def models(self) -> dict[str, torch.nn.Module]:
        if self._models is None:
            from .flow.raft import load_raft
            from .i3d import load_i3d
            from .vggish.weights import load_vggish

            from .vggish.network import VGGishConfig

            dev, d = self.runtime.device, self.config.width_divisor
            c3d, c2d = torch.channels_last_3d, torch.channels_last
            self._models = {
                "rgb": load_i3d(_find_weights("i3d-rgb"), "rgb", d).to(dev, memory_format=c3d),
                "flow": load_i3d(_find_weights("i3d-flow"), "flow", d).to(dev, memory_format=c3d),
                "raft": load_raft(_find_weights("raft-sintel"), d).to(dev),
                "vggish": load_vggish(_find_weights("vggish"), VGGishConfig(width_divisor=d)).to(dev, memory_format=c2d),
            }
        return self._models

    def share_forwards(self, wrap):  # noqa: ANN001, ANN201 — see Extractor.share_forwards
        models = self.models()
        for name in list(models):
            models[name] = wrap(name, models[name])

    def extract(self, clip) -> Features:  # noqa: ANN001
        from .flow.raft import RaftConfig
        from .i3d import I3DStream, resize_short_side
        from .i3d.windows import I3DWindowConfig
        from .runtime import ieee_fp32
        from .vggish.frontend import ExampleStream
        from .vggish.resample import KaiserResampler

        c, rt = self.config, self.runtime
        m = self.models()
        stream = I3DStream(m["rgb"], m["flow"], m["raft"],
                           windows=I3DWindowConfig(stack_size=c.window, step=c.stride, fps=c.fps),
                           raft_config=replace(RaftConfig(), num_flow_updates=c.raft_iterations),
                           compute_dtype=rt.dtype)
        rate = clip.audio.sample_rate if clip.audio is not None else 16000
        # A --live block says where its audio starts in the stream: the resampler continues the
        # whole run's time register from there (pipeline/live/feed.py); 0 for a file.
        resampler = KaiserResampler(rate, 16000, c.resampy_version, origin=int(getattr(clip, "audio_offset", 0)))
        examples = ExampleStream()
        rgb, flow, audio = [], [], []

        vggish_device = next(m["vggish"].parameters()).device  # = rt.device unless a caller moved it

        def embed(ex: torch.Tensor) -> None:
            if ex.shape[0]:  # the log-mel front end stays on the CPU (float64, as numpy)
                with rt.autocast():
                    audio.append(m["vggish"](ex.float().to(vggish_device)).float().cpu())

        with torch.inference_mode(), ieee_fp32(rt.device):
            for chunk in clip.chunks(c.frames_per_chunk):
                if chunk.frames.shape[0]:
                    # uint8 (4x less to copy to a GPU); the stream converts to float32 on the device
                    frames = torch.stack([resize_short_side(f, c.short_side) for f in chunk.frames])
                    r, f = stream.push(frames)  # moves the frames to the networks' device
                    rgb.append(r.cpu())
                    flow.append(f.cpu())
                if chunk.audio.numel():
                    embed(examples.push(resampler.push(chunk.audio.double())))
            embed(examples.push(resampler.finish()))
            embed(examples.finish())
        visual = torch.cat([torch.cat(rgb), torch.cat(flow)], dim=1) if rgb else torch.zeros(0, 2048)
        aud = torch.cat(audio) if audio else torch.zeros(0, 128)
        t = min(visual.shape[0], aud.shape[0])
        warnings = dict(clip.warnings)
        if t == 0:
            warnings["features"] = "video shorter than one I3D window (25 frames at 25 fps): nothing to score"
        return Features(visual[:t].float().cpu(), aud[:t].float().cpu(), self.timeline.with_duration(clip.duration),
                        self.name, warnings)


EXTRACTORS.register("i3d-vggish")(I3DVGGishExtractor)
