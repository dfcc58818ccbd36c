"""The extractor interface: a frozen model that turns a decoded clip into aligned features.

An extractor has a ``name``, a config dataclass, the dims of its two modalities, the media it
needs (:class:`avlocate.media.VideoSpec` / :class:`avlocate.media.AudioSpec`) and a Timeline.
``extract(clip)`` returns :class:`Features` whose two streams have the same length T and whose
snippet i covers ``timeline.spans(T)[i]``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import torch

from ..timeline import Timeline


@dataclass
class Features:
    visual: torch.Tensor  # (T, Dv) float32
    audio: torch.Tensor  # (T, Da) float32
    timeline: Timeline
    extractor: str
    warnings: dict[str, str] = field(default_factory=dict)
    # Per-snippet shape of the visual features when they are maps, e.g. (7, 7, 512) for VGG-19
    # pool5 (AVE); ``visual`` then holds them flattened to (T, 7*7*512).
    visual_shape: tuple[int, ...] | None = None

    def visual_segments(self) -> torch.Tensor:
        """Visual features with their per-snippet shape restored: (T, *visual_shape)."""
        if self.visual_shape is None:
            return self.visual
        return self.visual.reshape(self.visual.shape[0], *self.visual_shape)

    def __post_init__(self) -> None:
        if self.visual.shape[0] != self.audio.shape[0]:
            raise ValueError(f"visual has {self.visual.shape[0]} snippets but audio {self.audio.shape[0]}")

    @property
    def num_snippets(self) -> int:
        return int(self.visual.shape[0])


class Extractor(ABC):
    name: ClassVar[str]
    config: Any  # a dataclass instance
    #: ``--live`` extracts this many snippets again before each block and drops them: enough for
    #: what a snippet reads before its own window (lite's previous frame, the 16 kHz resampler's
    #: left taps). 0 for an extractor whose snippets read nothing before their window.
    live_lead_snippets: ClassVar[int] = 1

    @property
    @abstractmethod
    def visual_dim(self) -> int: ...

    @property
    @abstractmethod
    def audio_dim(self) -> int: ...

    @property
    @abstractmethod
    def timeline(self) -> Timeline: ...

    @abstractmethod
    def media_request(self, info: Any = None) -> tuple[Any, Any]:
        """The (VideoSpec, AudioSpec) this extractor needs; ``info`` is the file's MediaInfo
        (some protocols decode audio at the file's own rate and resample it themselves)."""

    @abstractmethod
    def extract(self, clip: Any) -> Features:
        """Consume a :class:`avlocate.media.Clip` (streamed once) and return aligned features."""

    def protocol(self) -> dict[str, Any]:
        """The feature protocol as written into results and model cards."""
        tl = self.timeline
        return {
            "extractor": self.name,
            "fps": tl.fps,
            "window": tl.window,
            "stride": tl.stride,
            "visual_dim": self.visual_dim,
            "audio_dim": self.audio_dim,
        }

    def share_forwards(self, wrap: Callable[[str, torch.nn.Module], torch.nn.Module]) -> None:
        """Replace each batch-first network this extractor calls by ``wrap(name, network)``.

        Used to batch across videos (:mod:`avlocate.runners.coalesce`); the networks are built here if
        they were not yet, so that threads never race to build them. Extractors without networks
        keep this default (nothing to share).
        """


def media_request_for(extractor: Any, info: Any) -> tuple[Any, Any]:
    """``extractor.media_request`` with a file's MediaInfo (its probe, handed on). Every built-in
    extractor takes it; a plugin written against an older interface may take no argument, and
    still works."""
    import inspect

    if not inspect.signature(extractor.media_request).parameters:
        return extractor.media_request()
    return extractor.media_request(info)
