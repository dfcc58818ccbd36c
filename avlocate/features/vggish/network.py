"""The VGGish network (AudioSet VGG variant) and its optional PCA/quantisation post-processor.

Module names follow the public PyTorch conversion (``vggish-10086976.pth``): ``features.{0,3,6,8,
11,13}`` convolutions and ``embeddings.{0,2,4}`` linear layers, so that checkpoint loads with
``strict=True`` into :class:`VGGish`. PCA parameters (``pca_eigen_vectors``, ``pca_means``) load
into :class:`VGGishPostprocessor`.

UnAV-100 features are the raw post-ReLU 128-d embeddings: video_features builds the
post-processor but its ``forward`` is a no-op by default, so PCA is never applied. We therefore
leave the post-processor out unless asked for (``VGGishConfig.postprocess``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["VGGishConfig", "VGGish", "VGGishPostprocessor"]


@dataclass(frozen=True)
class VGGishConfig:
    embedding_dim: int = 128
    postprocess: bool = False  # UnAV-100 / video_features: no PCA, no quantisation
    pca_clip: float = 2.0  # VGGish's QUANTIZE_MIN/MAX_VAL = -2 / +2
    # 1 = the published network (the only size with public weights). N > 1 divides every conv and
    # hidden width by N and keeps the embedding_dim output: tests of the extractors' plumbing use
    # seeded random weights of ~1 MB instead of 288 MB (the 4096-wide layers are 67 M parameters).
    width_divisor: int = 1


def _vgg_features(divisor: int = 1) -> nn.Sequential:
    # conv64, pool, conv128, pool, conv256 x2, pool, conv512 x2, pool (indices match the checkpoint)
    layers: list[nn.Module] = []
    in_ch = 1
    for item in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            width = max(int(item) // divisor, 1)
            layers += [nn.Conv2d(in_ch, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_ch = width
    return nn.Sequential(*layers)


class VGGish(nn.Module):
    """(N, 1, 96, 64) float32 log-mel examples (time x mel) -> (N, 128) post-ReLU embeddings."""

    def __init__(self, config: VGGishConfig = VGGishConfig()) -> None:
        super().__init__()
        self.config = config
        d = config.width_divisor
        if d < 1:
            raise ValueError(f"width_divisor must be >= 1, got {d}")
        self.features = _vgg_features(d)
        hidden = max(4096 // d, 1)
        self.embeddings = nn.Sequential(
            nn.Linear(max(512 // d, 1) * 6 * 4, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, config.embedding_dim),
            nn.ReLU(inplace=True),  # the released features are taken after this last ReLU
        )

    def forward(self, examples: torch.Tensor) -> torch.Tensor:
        if examples.ndim == 3:  # (N, 96, 64) -> (N, 1, 96, 64)
            examples = examples.unsqueeze(1)
        # The front end is float64 (like numpy); the network runs in its weights' dtype
        # (float32 officially): cast here so callers can pass the examples as they come.
        examples = examples.to(self.features[0].weight.dtype)
        x = self.features(examples)
        # The weights come from TensorFlow, which flattens NHWC: permute before flattening or the
        # first linear layer sees its inputs in the wrong order.
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.embeddings(x)


class VGGishPostprocessor(nn.Module):
    """AudioSet PCA/whitening, clip to [-2, 2], 8-bit quantisation (float values 0..255).

    Differs from the official ``Postprocessor.postprocess`` in one way: the batch axis is kept
    even for a single example (the official code squeezes it away).
    """

    def __init__(self, embedding_dim: int = 128, clip: float = 2.0) -> None:
        super().__init__()
        self.clip = clip
        self.register_buffer("pca_eigen_vectors", torch.eye(embedding_dim))
        self.register_buffer("pca_means", torch.zeros(embedding_dim, 1))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[override]
        # The public file stores the means as (128,); the official code reshapes them to (128, 1).
        key = prefix + "pca_means"
        if key in state_dict and state_dict[key].ndim == 1:
            state_dict[key] = state_dict[key].reshape(-1, 1)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def pca(self, embeddings: torch.Tensor) -> torch.Tensor:
        """The whitening transform before clipping: ``(E (x^T - mu))^T``."""
        return (self.pca_eigen_vectors @ (embeddings.t() - self.pca_means)).t()

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        clipped = torch.clamp(self.pca(embeddings), -self.clip, self.clip)
        # torch.round is round-half-to-even, as in the official code.
        return torch.round((clipped + self.clip) * (255.0 / (2 * self.clip)))
