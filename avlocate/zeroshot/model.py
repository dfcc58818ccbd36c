"""``--model zeroshot``: open-vocabulary audio-visual event localization with CLIP + CLAP, no training.

Not a trained head (there is no checkpoint and no model card), so it does not go through
``models.load_model``; :func:`locate_zeroshot` is its pipeline, returning the same
:class:`Result` as ``avlocate.pipeline.video.locate`` (model ``"zeroshot"``, weights = the CLIP and
CLAP weight ids, extractor protocol, device, warnings, timing).

Methods (``--zs-method``, :mod:`.methods`): ``av2a`` (AV²A, CVPR 2025, :mod:`.av2a`; OpenAI
CLIP ViT-B/32, 1-s windows every 1 s) and ``softmax-min`` (below); without the option, av2a for
8+ labels, softmax-min for fewer. The rest of this note is softmax-min's.

Snippets: the ``clip-clap`` extractor with 1-s windows every 0.5 s (``hop_seconds=0.5,
window_hops=2``, one CLIP frame at each window's centre); the half-second hop halves the
boundary error of 1-s AVE segments while each window still holds a whole second of sound for
CLAP. Configurable through ``extractor_config``.

Order of work: weights are located (and the encoders built) *before* the video is decoded, so a
missing CLIP/CLAP file fails in one line without touching the media; then the label prompts are
embedded; then the video is streamed once through both encoders.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from ..accounting import stage_timing, throughput_record
from ..errors import UsageError
from ..features.base import media_request_for
from ..results import Result
from . import methods
from .av2a import Av2aConfig
from .prompts import PromptSet, TextBank, build_text_bank
from .scoring import ZeroShotConfig, decode, score_snippets
from .vocab import resolve_labels

MODEL_NAME = "zeroshot"
DEFAULT_HOP_SECONDS = 0.5
DEFAULT_WINDOW_HOPS = 2  # 2 x 0.5 s = 1-s windows


def default_extractor_config(**overrides: Any):  # noqa: ANN201 - ClipClapConfig, imported lazily
    from ..features.clip_clap.extractor import ClipClapConfig

    values = {"hop_seconds": DEFAULT_HOP_SECONDS, "window_hops": DEFAULT_WINDOW_HOPS, **overrides}
    return ClipClapConfig(**values)


def build_extractor(extractor_config: Any = None, device: str = "auto", method: str = "softmax-min"):  # noqa: ANN201
    from ..features.clip_clap.extractor import ClipClapExtractor

    cfg = extractor_config if extractor_config is not None else methods.extractor_config(method, device=device)
    return ClipClapExtractor(cfg)


def _device_of(extractor: Any) -> str:
    dev = getattr(getattr(extractor, "_clip", None), "device", None)
    return str(dev) if dev is not None else str(getattr(extractor.config, "device", "cpu"))


def with_overrides(config: ZeroShotConfig | None, threshold: float | None = None,
                   min_duration: float | None = None) -> ZeroShotConfig:
    """The config with the CLI's ``--threshold`` / ``--min-duration`` applied (checked here, so
    the library and the CLI refuse the same values with the same one-line UsageError)."""
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


class ZeroShotModel:
    """Encoders + label text bank, built once and reused for every video of a run (embedding
    100 labels x several prompts through both text towers costs seconds on a CPU)."""

    name = MODEL_NAME

    def __init__(self, labels: str | Sequence[str] | None = None, vocab: str | None = None,
                 config: ZeroShotConfig | Av2aConfig | None = None, device: str = "auto", extractor: Any = None,
                 extractor_config: Any = None, prompts: PromptSet | None = None, method: str | None = None) -> None:
        # ``method`` (CLI --zs-method): "av2a" or "softmax-min"; None: a config's type, else av2a
        # for 8+ labels and softmax-min for shorter lists (zeroshot/methods.py says why).
        self.labels = resolve_labels(labels, vocab)  # usage errors before any weight is touched
        self.method = methods.resolve(method, config, len(self.labels))
        if self.method == methods.AV2A:
            from .av2a import check_labels

            check_labels(self.labels)
        self.config: Any = config or (Av2aConfig() if self.method == methods.AV2A else ZeroShotConfig())
        self.extractor = extractor if extractor is not None else build_extractor(extractor_config, device, self.method)
        self.prompts = prompts
        self._bank: Any = None
        self.setup_seconds = 0.0

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

    def locate(self, video: str | Path, per_modality: bool = False, keep_scores: bool = False,
               threshold: float | None = None, min_duration: float | None = None) -> Result:
        from ..media import open_clip
        from ..media.inputs import check_input
        from ..media.source import is_stream, open_input_clip

        started = time.perf_counter()
        stream = is_stream(video)  # a URL or "-": read once (media/source.py)
        path = video if stream else check_input(video)
        av2a = self.method == methods.AV2A
        if av2a and per_modality:
            raise UsageError("--per-modality needs --zs-method softmax-min (av2a reports audio-visual events only)")
        cfg = methods.av2a_overrides(self.config, threshold, min_duration) if av2a else \
            with_overrides(self.config, threshold, min_duration)
        ex = self.extractor
        first_use = self._bank is None
        bank = self.text_bank()
        t1 = time.perf_counter()
        if stream:
            clip = open_input_clip(path, ex.media_request)
        else:
            vspec, aspec = media_request_for(ex, path)
            clip = open_clip(path, vspec, aspec)
        features = ex.extract(clip)
        t2 = time.perf_counter()
        if av2a:
            curve, events, t_scored = methods.av2a_events(features, bank, cfg, keep_scores)
        else:
            scores = score_snippets(features.visual, features.audio, bank, features.timeline.step_seconds, cfg)
            t_scored = time.perf_counter()
            events = decode(scores, features.timeline, cfg, per_modality=per_modality)
            curve = scores.av
        t3 = time.perf_counter()

        extra: dict[str, Any] = {"labels": list(self.labels), "zs_method": self.method}
        if keep_scores:
            times = features.timeline.centres(features.num_snippets)
            extra["scores"] = {
                "times": [round(float(t), 3) for t in times],
                "classes": list(self.labels),
                "values": [[round(float(v), 4) for v in row] for row in curve],
            }
        provenance = ex.provenance() if hasattr(ex, "provenance") else {}
        # The stages of every model (avlocate.accounting); "head" is the similarity scoring here.
        timing = {"encoders+text": self.setup_seconds if first_use else 0.0,
                  **stage_timing(t2 - t1, t_scored - t2, t3 - t_scored, clip.stats)}
        timing["total"] = time.perf_counter() - started
        extra["throughput"] = throughput_record(clip.stats, clip.duration, timing["total"])
        return Result(
            video=str(video),
            duration=clip.duration,
            events=events,
            model=MODEL_NAME,
            weights="; ".join(f"{k}: {v}" for k, v in provenance.items()) or None,
            extractor=ex.name,
            feature_protocol=ex.protocol(),
            device=_device_of(ex),
            warnings=dict(features.warnings),
            timing=timing,
            extra=extra,
        )


def locate_zeroshot(
    video: str | Path,
    labels: str | Sequence[str] | None = None,
    vocab: str | None = None,
    config: ZeroShotConfig | None = None,
    per_modality: bool = False,
    threshold: float | None = None,
    min_duration: float | None = None,
    device: str = "auto",
    keep_scores: bool = False,
    extractor: Any = None,
    extractor_config: Any = None,
    prompts: PromptSet | None = None,
    method: str | None = None,
) -> Result:
    """Events of one video for the given label names (``--labels`` and/or ``--vocab``); for many
    videos build one :class:`ZeroShotModel` and call its ``locate``.

    ``threshold`` / ``min_duration`` override the config's (CLI ``--threshold``,
    ``--min-duration``); ``extractor`` may be a ready ``ClipClapExtractor`` (tests, batches).
    """
    from ..media.inputs import check_input

    from ..media.source import is_stream

    if not is_stream(video):
        check_input(video)  # a wrong path is reported before the encoders are built
    chosen = methods.resolve(method, config, len(resolve_labels(labels, vocab)))
    if chosen == methods.AV2A:  # bad option values too
        methods.av2a_overrides(config if isinstance(config, Av2aConfig) else None, threshold, min_duration)
    else:
        with_overrides(config if isinstance(config, ZeroShotConfig) else None, threshold, min_duration)
    model = ZeroShotModel(labels, vocab, config, device, extractor, extractor_config, prompts, chosen)
    return model.locate(video, per_modality, keep_scores, threshold, min_duration)
