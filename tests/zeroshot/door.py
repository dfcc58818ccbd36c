"""The zero-shot model through the one door, with a ready extractor (stand-in or random-weight
encoders): what ``avlocate.load("zeroshot", labels=...)`` builds, minus the encoders' files."""
from __future__ import annotations

from typing import Any

from avlocate.media.inputs import check_input, is_stream
from avlocate.pipeline.models import LoadedModel, load
from avlocate.pipeline.options import RunOptions


def zeroshot_model(labels: Any = None, extractor: Any = None, **options: Any) -> LoadedModel:
    """``avlocate.load("zeroshot", labels=..., **options)`` with ``extractor`` as its extractor."""
    options.setdefault("device", "cpu")
    return load("zeroshot", RunOptions.from_keywords(labels=labels, **options), extractor=extractor)


def locate_zeroshot(video: Any, labels: Any = None, extractor: Any = None, **options: Any):  # noqa: ANN201
    """One video, as ``avlocate.locate(video, model="zeroshot", ...)``: a wrong path is said
    before the model is loaded."""
    if not is_stream(video):
        check_input(video)
    return zeroshot_model(labels, extractor, **options).locate(video)
