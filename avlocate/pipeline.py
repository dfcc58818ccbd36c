"""One video in, one :class:`Result` out: media -> features -> head -> events.

This is the library entry point the CLI wraps (``avlocate.locate``). Bad input raises an
:class:`AvlocateError`; the batch runner turns those into error lines.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .errors import InputNotFoundError
from .models import DEFAULT_MODEL, load_model
from .results import Result


def check_input(video: str | Path) -> Path:
    path = Path(video)
    if not path.exists():
        raise InputNotFoundError(f"{video}: no such file; check the path")
    if path.is_dir():
        raise InputNotFoundError(f"{video}: is a directory; use `avlocate batch {video}` for folders")
    return path


def locate(
    video: str | Path,
    model: str | None = None,
    device: str = "auto",
    threshold: float | None = None,
    keep_scores: bool = False,
) -> Result:
    """Find the audio-visual events of one video file."""
    from .media import open_clip, probe

    started = time.perf_counter()
    path = check_input(video)
    loaded = load_model(model or DEFAULT_MODEL, device)
    t0 = time.perf_counter()
    vspec, aspec = loaded.extractor.media_request(probe(path))
    clip = open_clip(path, vspec, aspec)
    features = loaded.extractor.extract(clip)  # decoding streams inside extraction
    t1 = time.perf_counter()
    events, extra = loaded.predict(features, threshold=threshold)
    t2 = time.perf_counter()
    extras: dict[str, Any] = {}
    if keep_scores and "scores" in extra:
        extras["scores"] = {
            "times": [round(float(t), 3) for t in features.timeline.centres(features.num_snippets)],
            "classes": loaded.card.classes,
            "values": [[round(float(v), 4) for v in row] for row in extra["scores"]],
        }
    return Result(
        video=str(video),
        duration=clip.duration,
        events=events,
        model=loaded.card.name,
        weights=loaded.weights_id,
        extractor=loaded.extractor.name,
        feature_protocol=loaded.extractor.protocol(),
        device=str(loaded.device),
        warnings=dict(features.warnings),
        timing={"decode+features": t1 - t0, "head+decode": t2 - t1, "total": time.perf_counter() - started},
        extra=extras,
    )
