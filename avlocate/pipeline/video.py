"""One video in, one :class:`Result` out: media -> features -> head -> events, with a loaded model.

:func:`locate_with` is what :meth:`LoadedModel.locate` runs, for every model (zero-shot too);
:func:`locate` is the one-shot shortcut (``avlocate.locate``). Bad input raises an
:class:`AvlocateError`; the batch runner turns those into error lines.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..accounting import stage_timing, throughput_record
from ..media.inputs import check_input
from ..results import Result
from .models import LoadedModel, load
from .options import RunOptions


def locate(video: str | Path, model: str | None = None, options: RunOptions | None = None, **keywords: Any) -> Result:
    """Events of one video with a model loaded for it alone: a file's path is checked before
    the model is loaded, so a wrong path costs no loading. Many videos: hold ``load(...)``.
    ``keywords``: the options as ``avlocate.locate`` takes them, instead of ``options``."""
    from ..media.source import is_stream

    if keywords:
        if options is not None:
            raise TypeError("locate() takes options or keywords, not both")
        options = RunOptions.from_keywords("locate()", **keywords)

    if not is_stream(video):
        check_input(video)
    return load(model, options).locate(video)


def locate_with(loaded: LoadedModel, video: str | Path) -> Result:
    """The events of one video file, URL or ``-`` with ``loaded`` (its options included).

    ``features`` option: reuse features written by ``avlocate extract`` when they are there.
    Every input is opened once (media/source.py): a URL or ``-`` read in one pass, a file probed
    on the container its decoding then reads on.
    """
    from ..media.source import is_stream, open_input_clip
    from ..media.onepass import StreamOptions

    opts = loaded.options
    started = time.perf_counter()
    stream = is_stream(video)
    path = video if stream else check_input(video)
    t0 = time.perf_counter()
    features = None
    stats = None
    if opts.features is not None and not stream:
        from ..features.store import features_from_dir

        features = features_from_dir(opts.features, path, loaded)
    duration = features.timeline.duration if features is not None else None
    if features is None:  # nothing stored for this video (or no --features): decode
        clip = open_input_clip(path, loaded.extractor.media_request, StreamOptions(stall_timeout=opts.stall_timeout))
        try:
            features = loaded.extractor.extract(clip)  # decoding streams inside extraction, ahead of it
        finally:
            clip.release()  # the file's container, if extraction failed before decoding took it
        duration = clip.duration
        stats = clip.stats
    t1 = time.perf_counter()
    events, extra = loaded.predict(features, threshold=opts.threshold, keep_scores=opts.scores)
    t2 = time.perf_counter()
    head_s = float(extra.pop("head_seconds", t2 - t1))
    timing = {**extra.pop("timing", {}), **stage_timing(t1 - t0, head_s, t2 - t1 - head_s, stats)}
    timing["total"] = time.perf_counter() - started
    throughput = throughput_record(stats, duration, timing["total"])
    scores = extra.pop("scores", None)
    extras: dict[str, Any] = dict(extra)  # what a head adds (zero-shot: its labels)
    if opts.scores and scores is not None:
        extras["scores"] = {
            "times": [round(float(t), 3) for t in features.timeline.centres(features.num_snippets)],
            "classes": loaded.classes,
            "values": [[round(float(v), 4) for v in row] for row in scores],
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
