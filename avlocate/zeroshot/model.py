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

Methods (the model option ``zs_method``, CLI ``--zs-method``; :mod:`.methods`): ``av2a`` (AV²A,
CVPR 2025, :mod:`.av2a`; OpenAI CLIP ViT-B/32, 1-s windows every 1 s) and ``softmax-min``
(:mod:`.scoring`; the card's 1-s windows every 0.5 s); without the option, av2a for 8+ labels,
softmax-min for fewer. A method changes the extractor's settings and the weight files the run
fetches: the pipeline asks the head class (:meth:`ZeroShotModel.card_for_run`,
:meth:`ZeroShotModel.weight_files_for_run`) before it builds the extractor.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Sequence

import torch

from ..errors import UsageError
from ..registry import HEADS
from ..results import Event
from . import methods
from .av2a import Av2aConfig
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


def build_extractor(extractor_config: Any = None, device: str = "auto", method: str = methods.SOFTMAX_MIN):  # noqa: ANN201
    from ..features.clip_clap.extractor import ClipClapExtractor

    cfg = extractor_config if extractor_config is not None else methods.extractor_config(method, device=device)
    return ClipClapExtractor(cfg)


def _method_of(options: Any) -> str:
    """The run's method: ``zs_method``, else the default for the number of labels (no labels
    yet, as for ``weights pull --for zeroshot``: the default method)."""
    if options.labels is None and options.vocab is None:
        return methods.resolve(getattr(options, "zs_method", None))
    return methods.resolve(getattr(options, "zs_method", None), None,
                           len(resolve_labels(_labels_of(options), options.vocab)))


def _labels_of(options: Any) -> Any:
    return list(options.labels) if isinstance(options.labels, tuple) else options.labels


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
                 config: ZeroShotConfig | Av2aConfig | None = None, device: str = "auto", extractor: Any = None,
                 extractor_config: Any = None, prompts: PromptSet | None = None,
                 per_modality: bool = False, method: str | None = None) -> None:
        super().__init__()
        self.labels = resolve_labels(labels, vocab)  # usage errors before any weight is touched
        # ``method``: "av2a" or "softmax-min"; None: a config's type, else av2a for 8+ labels and
        # softmax-min for shorter lists (zeroshot/methods.py says why).
        self.method = methods.resolve(method, config, len(self.labels))
        if self.method == methods.AV2A:
            from .av2a import check_labels

            check_labels(self.labels)
            if per_modality:
                raise UsageError("--per-modality needs --zs-method softmax-min "
                                 "(av2a reports audio-visual events only)")
        self.config: Any = config or (Av2aConfig() if self.method == methods.AV2A else ZeroShotConfig())
        self.extractor = extractor if extractor is not None else build_extractor(extractor_config, device, self.method)
        self.prompts = prompts
        self.per_modality = per_modality
        self._bank: TextBank | None = None
        self.setup_seconds = 0.0
        self._setup_reported = False

    @classmethod
    def card_for_run(cls, card: Any, options: Any) -> Any:
        """The card with the extractor settings of the run's method (av2a: 1-s windows every
        1 s and OpenAI's CLIP), asked by the pipeline before it builds the extractor."""
        import dataclasses

        labels = resolve_labels(_labels_of(options), options.vocab)  # usage errors before any weight or library
        method = _method_of(options)
        if method == methods.AV2A:
            from .av2a import check_labels

            check_labels(labels)
            if options.per_modality:
                raise UsageError("--per-modality needs --zs-method softmax-min "
                                 "(av2a reports audio-visual events only)")
        values = methods.extractor_values(method)
        return dataclasses.replace(card, extractor_config={**card.extractor_config, **values})

    @classmethod
    def weight_files_for_run(cls, card: Any, options: Any) -> tuple[str, ...]:
        """The weight files the run's method reads (each method names its own CLIP)."""
        return methods.weight_files(_method_of(options))

    @classmethod
    def for_run(cls, card: Any, extractor: Any, options: Any) -> "ZeroShotModel":
        """The head of a run: the method's scoring config with the run's threshold /
        min_duration, the run's labels; encoders built and prompts embedded now, before any video."""
        method = _method_of(options)
        if method == methods.AV2A:
            config: Any = methods.av2a_overrides(None, options.threshold, options.min_duration)
        else:
            config = with_overrides(ZeroShotConfig(**card.head_config), options.threshold, options.min_duration)
        model = cls(_labels_of(options), options.vocab, config, extractor=extractor,
                    per_modality=options.per_modality, method=method)
        model.text_bank()
        return model

    @property
    def live_by_clips(self) -> bool:
        """AV²A decides clip by clip (10-s clips from t = 0): ``--live`` runs the same clips as
        they complete (avlocate/pipeline/live/av2a.py), so live equals the file run."""
        return self.method == methods.AV2A

    @property
    def classes(self) -> list[str]:
        return list(self.labels)

    @property
    def weights_id(self) -> str | None:
        ex = self.extractor
        provenance = ex.provenance() if hasattr(ex, "provenance") else {}
        return "; ".join(f"{k}: {v}" for k, v in provenance.items()) or None

    def text_bank(self) -> Any:
        """Locates the weights and builds both encoders on first use (fails fast, before any
        video is decoded), then embeds the label prompts once: a :class:`TextBank` (labels +
        background, softmax-min) or an :class:`~.av2a.Av2aText` (one prompt per label, av2a)."""
        if self._bank is None:
            t0 = time.perf_counter()
            clip_enc, clap_enc = self.extractor.clip, self.extractor.clap
            if self.method == methods.AV2A:
                from .av2a import build_text

                self._bank = build_text(clip_enc, clap_enc, self.labels)
            else:
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
        if self.method == methods.AV2A:
            av2a_cfg = methods.av2a_overrides(self.config, threshold)
            curve, events, _ = methods.av2a_events(features, self.text_bank(), av2a_cfg, keep_scores)
        else:
            cfg = with_overrides(self.config, threshold)
            scores = self(features.visual, features.audio, features.timeline.step_seconds)
            events = decode(scores, features.timeline, cfg, per_modality=self.per_modality)
            curve = scores.av
        extra: dict[str, Any] = {"labels": list(self.labels), "zs_method": self.method, "scores": curve}
        extra["timing"] = {"encoders+text": 0.0 if self._setup_reported else self.setup_seconds}
        self._setup_reported = True
        return events, extra
