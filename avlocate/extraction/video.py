"""``avlocate extract`` for one video: build the extractor, decode, extract, write to the store."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..features.base import Extractor, media_request_for
from ..features.store import resolve_layout, write_features
from ..media.source import open_input_clip
from ..media.inputs import check_input
from ..pipeline.models import build_configured
from ..registry import EXTRACTORS


def build_extractor(name: str, config: dict[str, Any] | None = None) -> Extractor:
    """The registered extractor ``name`` with ``config`` (unknown keys are a one-line error)."""
    return build_configured(EXTRACTORS.get(name), dict(config or {}), f"extractor {name!r}")


def extract_features(video: str | Path, extractor: Extractor, out_dir: str | Path, layout: str = "auto",
                     video_id: str | None = None) -> dict[str, Any]:
    """Decode one video, extract, and write it in ``layout``; returns the sidecar."""
    layout = resolve_layout(extractor, layout)
    path = check_input(video)
    # Opened once: the probe's findings go to the extractor's request, its container to decoding.
    clip = open_input_clip(path, lambda info: media_request_for(extractor, info))
    features = extractor.extract(clip)
    return write_features(features, out_dir, video_id or path.stem, extractor, layout, video=path)
