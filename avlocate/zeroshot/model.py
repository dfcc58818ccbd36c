"""The zero-shot model's head: CLIP/CLAP similarity of each snippet to prompts of the label names.

No training and no weight file: its card (``assets/weights/zeroshot.json``) names the
``clip-clap`` extractor (1-s windows every 0.5 s: ``hop_seconds=0.5, window_hops=2``, one CLIP
frame at each window's centre; the half-second hop halves the boundary error of 1-s AVE segments
while each window still holds a whole second of sound for CLAP), this head, ``decode: head`` (the
head decodes its own scores) and the model options it takes (``labels``, ``vocab``,
``per_modality``, ``min_duration``). The pipeline loads and runs it like any other model
(``avlocate.load("zeroshot", labels=[...])``); this module only scores and decodes.

Order of work: the encoders are built and the label prompts embedded when the model is loaded
(:meth:`ZeroShotModel.for_run`), so a missing CLIP/CLAP file or library fails in one line before
any video is decoded; then each video is streamed once through both encoders.

A zero-shot *method* is one more model option: declare its field in
:class:`avlocate.pipeline.options.RunOptions`, list it in the card's ``options``, and read it in
:meth:`ZeroShotModel.for_run`.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Sequence

import torch

from ..errors import UsageError
from ..registry import HEADS
from ..results import Event
from .prompts import PromptSet, TextBank, build_text_bank
from .scoring import ZeroShotConfig, ZeroShotScores, decode, score_snippets
from .vocab import resolve_labels

MODEL_NAME = "zeroshot"
DEFAULT_HOP_SECONDS = 0.5
DEFAULT_WINDOW_HOPS = 2  # 2 x 0.5 s = 1-s windows


def default_extractor_config(**overrides: Any):  # noqa: ANN201 - ClipClapConfig, imported lazily
    from ..features.clip_clap.extractor import ClipClapConfig

    values = {"hop_seconds": DEFAULT_HOP_SECONDS, "window_hops": DEFAULT_WINDOW_HOPS, **overrides}
    return ClipClapConfig(**values)


def build_extractor(extractor_config: Any = None, device: str = "auto"):  # noqa: ANN201
    from ..features.clip_clap.extractor import ClipClapExtractor

    cfg = extractor_config if extractor_config is not None else default_extractor_config(device=device)
    return ClipClapExtractor(cfg)


def with_overrides(config: ZeroShotConfig | None, threshold: float | None = None,
                   min_duration: float | None = None) -> ZeroShotConfig:
    """The config with the run's ``threshold`` / ``min_duration`` applied (their ranges are
    checked once, in avlocate.pipeline.options.RunOptions)."""
    cfg = config or ZeroShotConfig()
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold must be in [0, 1] for the zero-shot model, got {threshold}")
    if min_duration is not None and min_duration < 0:
        raise UsageError(f"--min-duration must be >= 0, got {min_duration}")
    values = asdict(cfg)
    if threshold is not None:
        values["threshold"] = threshold
        if cfg.low_threshold is not None and cfg.low_threshold > threshold:
            values["low_threshold"] = None  # keep the low level below the new high one
    if min_duration is not None:
        values["min_duration"] = min_duration
    return ZeroShotConfig(**values)


@HEADS.register("zeroshot-similarity")
class ZeroShotModel(torch.nn.Module):
    """Label text bank + scoring, built once and reused for every video of a run (embedding
    100 labels x several prompts through both text towers costs seconds on a CPU).

    A head without trained weights: the pipeline builds it with :meth:`for_run` from the run's
    options and the loaded extractor, and decodes with :meth:`decode_features`."""

    name = MODEL_NAME
    config_class = None

    def __init__(self, labels: str | Sequence[str] | None = None, vocab: str | None = None,
                 config: ZeroShotConfig | None = None, device: str = "auto", extractor: Any = None,
                 extractor_config: Any = None, prompts: PromptSet | None = None,
                 per_modality: bool = False) -> None:
        super().__init__()
        self.labels = resolve_labels(labels, vocab)  # usage errors before any weight is touched
        self.config = config or ZeroShotConfig()
        self.extractor = extractor if extractor is not None else build_extractor(extractor_config, device)
        self.prompts = prompts
        self.per_modality = per_modality
        self._bank: TextBank | None = None
        self.setup_seconds = 0.0
        self._setup_reported = False

    @classmethod
    def for_run(cls, card: Any, extractor: Any, options: Any) -> "ZeroShotModel":
        """The head of a run: the card's scoring config with the run's threshold / min_duration,
        the run's labels; encoders built and prompts embedded now, before any video."""
        config = with_overrides(ZeroShotConfig(**card.head_config), options.threshold, options.min_duration)
        labels = list(options.labels) if isinstance(options.labels, tuple) else options.labels
        model = cls(labels, options.vocab, config, extractor=extractor, per_modality=options.per_modality)
        model.text_bank()
        return model

    @property
    def classes(self) -> list[str]:
        return list(self.labels)

    @property
    def weights_id(self) -> str | None:
        ex = self.extractor
        provenance = ex.provenance() if hasattr(ex, "provenance") else {}
        return "; ".join(f"{k}: {v}" for k, v in provenance.items()) or None

    def text_bank(self) -> TextBank:
        """Locates the weights and builds both encoders on first use (fails fast, before any
        video is decoded), then embeds the label and background prompts once."""
        if self._bank is None:
            t0 = time.perf_counter()
            clip_enc, clap_enc = self.extractor.clip, self.extractor.clap
            self._bank = build_text_bank(clip_enc, clap_enc, self.labels, self.prompts)
            self.setup_seconds = time.perf_counter() - t0
        return self._bank

    def forward(self, visual: torch.Tensor, audio: torch.Tensor, step_seconds: float) -> ZeroShotScores:
        """(T, K) scores of one video's (T, Dv) / (T, Da) embeddings."""
        return score_snippets(visual, audio, self.text_bank(), step_seconds, self.config)

    def decode_features(self, features: Any, threshold: float | None,
                        keep_scores: bool) -> tuple[list[Event], dict[str, Any]]:
        """Events of one video's (or one live window's) features, with the per-snippet
        audio-visual scores and, once, the seconds the encoders and prompts took at load."""
        cfg = with_overrides(self.config, threshold)
        scores = self(features.visual, features.audio, features.timeline.step_seconds)
        events = decode(scores, features.timeline, cfg, per_modality=self.per_modality)
        extra: dict[str, Any] = {"labels": list(self.labels), "scores": scores.av}
        extra["timing"] = {"encoders+text": 0.0 if self._setup_reported else self.setup_seconds}
        self._setup_reported = True
        return events, extra
