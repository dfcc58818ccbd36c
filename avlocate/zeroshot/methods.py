"""The zero-shot methods (CLI ``--zs-method``) and what each needs from the clip-clap extractor.

* ``av2a`` (default): AV²A, CVPR 2025 (:mod:`.av2a`), with the encoders it was published with:
  OpenAI CLIP ViT-B/32 (open_clip ``ViT-B-32-quickgelu``, tag ``openai``) and LAION-CLAP
  ``630k-audioset-best``; 1-s windows every 1 s (AVE's segment grid).
* ``softmax-min``: avlocate's earlier scoring (:mod:`.scoring`): prompt ensembles with a
  background class, softmax per modality, min fusion, smoothing, hysteresis; CLIP ViT-B/32
  LAION-2B; 1-s windows every 0.5 s.

Why av2a is the default: it is the published, measured recipe (AVE segment accuracy 68.5 % with
CLIP + CLAP, by its authors), while softmax-min was reasoned out here and never measured; neither
has been run with real weights here. One computed fact limits it: it cannot fire on a short
label list (:data:`AV2A_MIN_LABELS`), so without ``--zs-method`` a list of fewer than 8 labels
uses softmax-min; the result's ``zs_method`` says which ran.

Another CLIP is one option away (``ClipClapConfig.clip_arch`` / ``clip_tag``, CLI
``--clip-weights``); the result's ``weights`` names the CLIP and CLAP actually used.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import torch

from ..errors import UsageError
from ..features.clip_clap.weights import CLIP_OPENAI_ARCH, CLIP_OPENAI_TAG
from .av2a import Av2aConfig, Av2aText, decode as av2a_decode, frame_scores

AV2A = "av2a"
SOFTMAX_MIN = "softmax-min"
METHODS = (AV2A, SOFTMAX_MIN)
DEFAULT_METHOD = AV2A
#: Without --zs-method, lists shorter than this use softmax-min. Arithmetic, not a measurement:
#: a z-score over n labels is at most (n-1)/sqrt(n) (one label far above n-1 equal ones), so a
#: fused score can pass AV²A's 0.75 only with n >= 3 labels left by its class filter (n = 2:
#: sigmoid(0.71) = 0.67 at best, forever: thresholds only fall after a first firing, since the
#: BBSE factor is 0 until then), and comfortably from n = 4 (0.82); the filter keeps the labels
#: above the clip's average, about half of them. So AV²A needs a vocabulary, not a handful.
AV2A_MIN_LABELS = 8

#: the CLIP AV²A was published with: OpenAI's ViT-B/32 (quick-GELU), open_clip tag "openai"
AV2A_CLIP_ARCH = CLIP_OPENAI_ARCH
AV2A_CLIP_TAG = CLIP_OPENAI_TAG


def resolve(method: str | None, config: Any = None, num_labels: int | None = None) -> str:
    """The method name: given, else implied by the config's type, else the default (av2a) for
    ``num_labels >= AV2A_MIN_LABELS`` (or unknown) and softmax-min for shorter lists."""
    if method is None:
        from .scoring import ZeroShotConfig

        if isinstance(config, Av2aConfig):
            return AV2A
        if isinstance(config, ZeroShotConfig):
            return SOFTMAX_MIN
        return DEFAULT_METHOD if num_labels is None or num_labels >= AV2A_MIN_LABELS else SOFTMAX_MIN
    name = method.strip().lower()
    if name not in METHODS:
        raise UsageError(f"unknown --zs-method {method!r}; choose {' or '.join(METHODS)}")
    if config is not None and (name == AV2A) != isinstance(config, Av2aConfig):
        raise UsageError(f"--zs-method {name} was given a {type(config).__name__}")
    return name


def extractor_values(method: str) -> dict[str, Any]:
    """The clip-clap extractor settings ``method`` changes (a card's ``extractor_config`` entries)."""
    if method == AV2A:
        # One frame per AVE segment: 1-s windows every 1 s; CLIP at each window's centre frame,
        # CLAP on the window's own second. DIFFERENCES: the official code takes 10 frames evenly
        # spread over the 10-s clip (first and last included) and 2-s CLAP chunks shared by two
        # frames (av2a.py module doc).
        return {"hop_seconds": 1.0, "window_hops": 1, "clip_arch": AV2A_CLIP_ARCH, "clip_tag": AV2A_CLIP_TAG}
    return {"hop_seconds": 0.5, "window_hops": 2}


def extractor_config(method: str, **overrides: Any):  # noqa: ANN201 - ClipClapConfig, imported lazily
    """The clip-clap extractor settings of ``method`` (overrides win)."""
    from ..features.clip_clap.extractor import ClipClapConfig

    return ClipClapConfig(**{**extractor_values(method), **overrides})


def weight_files(method: str) -> tuple[str, ...]:
    """Manifest file names the method's default extractor reads (CLIP, CLAP; the tokenizer
    files are the same for both methods)."""
    from ..features.clip_clap import weights as W

    cfg = extractor_config(method)
    return (W.clip_weights_name(cfg.clip_arch, cfg.clip_tag), W.clap_weights_name(cfg.clap_amodel, cfg.clap_tag),
            *(f"{W.CLAP_TOKENIZER_DIR}/{f}" for f in W.CLAP_TOKENIZER_FILES))


def av2a_overrides(config: Av2aConfig | None, threshold: float | None = None,
                   min_duration: float | None = None) -> Av2aConfig:
    """``--threshold`` sets AV²A's starting threshold and its refinement threshold (both 0.75 in
    the paper); ``--min-duration`` drops shorter events."""
    cfg = config or Av2aConfig()
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold must be in [0, 1] for the zero-shot model, got {threshold}")
    if min_duration is not None and min_duration < 0:
        raise UsageError(f"--min-duration must be >= 0, got {min_duration}")
    if threshold is not None:
        cfg = replace(cfg, threshold=threshold, refine_threshold=threshold)
    if min_duration is not None:
        cfg = replace(cfg, min_duration=min_duration)
    return cfg


def av2a_events(features: Any, text: Av2aText, cfg: Av2aConfig, keep_scores: bool = False
                ) -> tuple[torch.Tensor, list, float]:
    """(per-frame fused scores over all labels for ``--scores``, events, time scoring ended)."""
    curve = frame_scores(features.visual, features.audio, text, cfg.alpha).float() if keep_scores else \
        torch.zeros(features.num_snippets, len(text.labels))
    t_scored = time.perf_counter()
    return curve, av2a_decode(features.visual, features.audio, text, features.timeline, cfg), t_scored
