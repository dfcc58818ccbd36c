"""One video in, one :class:`Result` out: media -> features -> head -> events.

This is the library entry point the CLI wraps (``avlocate.locate``). Bad input raises an
:class:`AvlocateError`; the batch runner turns those into error lines.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..accounting import stage_timing, throughput_record
from ..errors import InputNotFoundError, UsageError
from ..media.inputs import check_input
from . import check_threshold
from .models import DEFAULT_MODEL, load_model
from ..results import Result


def locate(
    video: str | Path,
    model: str | None = None,
    device: str = "auto",
    threshold: float | None = None,
    keep_scores: bool = False,
    features_dir: str | Path | None = None,
    checkpoint: str | Path | None = None,
    extractor: str | None = None,
    precision: str | None = None,
    stream_options: Any = None,
) -> Result:
    """Find the audio-visual events of one video file.

    ``features_dir``: reuse features written by ``avlocate extract`` when they are there;
    ``checkpoint``: a safetensors file to use instead of the card's weights; ``extractor``: run
    another registered extractor than the card names (its protocol must still match the card).
    ``video`` may also be a URL or ``-`` (standard input), read in one pass (media/source.py);
    ``stream_options``: a media.onepass.StreamOptions for those (the stall timeout).
    """
    from ..media.source import is_stream, open_input_clip

    started = time.perf_counter()
    stream = is_stream(video)
    path = video if stream else check_input(video)
    # The same refusals as the CLI's, so Python callers get no result the command line would refuse.
    check_threshold(threshold, "threshold")
    if features_dir is not None and not Path(features_dir).is_dir():
        raise InputNotFoundError(f"{features_dir}: no such features folder; check the path, or write it first "
                                 "with `avlocate extract VIDEO -e EXTRACTOR -o DIR`")
    loaded = load_model(model or DEFAULT_MODEL, device, None if checkpoint is None else str(checkpoint), extractor,
                        precision)
    t0 = time.perf_counter()
    features = None
    stats = None
    if features_dir is not None and not stream:
        from ..features.store import features_from_dir

        features = features_from_dir(features_dir, path, loaded)
    duration = features.timeline.duration if features is not None else None
    if features is None:  # nothing stored for this video (or no --features): decode
        clip = open_input_clip(path, loaded.extractor.media_request, stream_options)
        features = loaded.extractor.extract(clip)  # decoding streams inside extraction, ahead of it
        duration = clip.duration
        stats = clip.stats
    t1 = time.perf_counter()
    events, extra = loaded.predict(features, threshold=threshold, keep_scores=keep_scores)
    t2 = time.perf_counter()
    head_s = float(extra.pop("head_seconds", t2 - t1))
    timing = stage_timing(t1 - t0, head_s, t2 - t1 - head_s, stats)
    timing["total"] = time.perf_counter() - started
    throughput = throughput_record(stats, duration, timing["total"])
    extras: dict[str, Any] = {}
    if keep_scores and "scores" in extra:
        extras["scores"] = {
            "times": [round(float(t), 3) for t in features.timeline.centres(features.num_snippets)],
            "classes": loaded.card.classes,
            "values": [[round(float(v), 4) for v in row] for row in extra["scores"]],
        }
    return Result(
        video=str(video),
        duration=duration,
        events=events,
        model=loaded.card.name,
        weights=loaded.weights_id,
        extractor=loaded.extractor.name,
        feature_protocol=loaded.extractor.protocol(),
        device=str(loaded.device),
        warnings=dict(features.warnings),
        timing=timing,
        extra={**extras, "throughput": throughput},
    )


def video_runner(
    model: str | None = None,
    device: str = "auto",
    threshold: float | None = None,
    keep_scores: bool = False,
    labels: str | None = None,
    vocab: str | None = None,
    per_modality: bool = False,
    min_duration: float | None = None,
    features_dir: str | Path | None = None,
    checkpoint: str | Path | None = None,
    extractor: str | None = None,
    precision: str | None = None,
    stream_options: Any = None,
    zs_method: str | None = None,
) -> Callable[[str | Path], Result]:
    """One function per run that turns a video into a Result, with everything loaded once.

    ``--model zeroshot`` builds its encoders and label prompts once here; every other model is
    a card + weights loaded (and cached) by :func:`locate`.
    """
    if model == "zeroshot":
        from ..zeroshot import ZeroShotModel
        from ..zeroshot.methods import weight_files
        from ..weights.fetch import ensure_for_run

        zs = ZeroShotModel(labels, vocab, device=device, method=zs_method)  # no weight is read yet
        ensure_for_run(model, None, weight_files(zs.method))  # first use: the files of the method chosen (its CLIP)
        return lambda video: zs.locate(video, per_modality=per_modality, keep_scores=keep_scores,
                                       threshold=threshold, min_duration=min_duration)
    if features_dir is None:  # first use: fetch the extractor's missing weights (unless offline)
        from ..weights.fetch import ensure_for_run
        from .models import DEFAULT_MODEL

        ensure_for_run(model or DEFAULT_MODEL, extractor)
    if precision not in (None, "fp32") and model == "zeroshot":
        raise UsageError("--precision applies to the i3d-vggish and vgg19-vggish extractors, not to zeroshot")
    if labels or vocab or per_modality or min_duration is not None or zs_method is not None:
        raise UsageError("--labels, --vocab, --per-modality, --min-duration and --zs-method need --model zeroshot")
    return lambda video: locate(video, model=model, device=device, threshold=threshold, keep_scores=keep_scores,
                                features_dir=features_dir, checkpoint=checkpoint, extractor=extractor,
                                precision=precision, stream_options=stream_options)
