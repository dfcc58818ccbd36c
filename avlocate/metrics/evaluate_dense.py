"""Evaluate a dense model (card + safetensors) on UnAV-100-format data: detections -> mAP table.

Each video runs alone through :func:`avlocate.heads.dense.windows.locate_dense` (so its result never
depends on other videos; long videos run in windows for the fixed-length heads), detections are
converted to seconds with the head's Timeline clipped to the annotated duration, and scored with
:func:`avlocate.metrics.detection_map.evaluate_map`. Class ``i`` of the card is label id ``i``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import nn

from ..datasets.unav import FEATURE_FORMATS, Item, load_annotations, load_items
from ..decode.dense import DenseDecodeConfig
from .detection_map import MapResult, Predictions, evaluate_map, ground_truth_from_database

_FORMAT_OF_EXTRACTOR = {spec["extractor"]: fmt for fmt, spec in FEATURE_FORMATS.items()}


def predict_items(head: nn.Module, items: list[Item], decode: DenseDecodeConfig | None = None) -> Predictions:
    """Detections (seconds, label ids) of every item, one video at a time."""
    from ..heads.dense.windows import locate_dense

    rows: list[tuple[str, float, float, int, float]] = []
    head.eval()
    for it in items:
        tl = head.cfg.timeline(it.duration)
        with torch.no_grad():
            dets = locate_dense(head, it.visual.t(), it.audio.t(), tl, decode)
        rows += [(it.video_id, float(s), float(e), int(k), float(p))
                 for (s, e), p, k in zip(dets.segments.tolist(), dets.scores.tolist(), dets.labels.tolist())]
    return Predictions.from_rows(rows)


@dataclass
class Evaluation:
    result: MapResult
    predictions: Predictions
    model: str


def load_dense_model(model: str) -> tuple[nn.Module, object]:
    """Head + card of a dense model (a card path or an installed name), weights verified: loaded
    through the one door (:func:`avlocate.pipeline.models.load`), on the CPU, nothing fetched
    (evaluation reads stored features, never the extractor's networks)."""
    from ..pipeline.models import load
    from ..pipeline.options import RunOptions
    from ..weights.store import load_card

    card = load_card(model)
    if card.decode.get("kind") != "dense":
        raise ValueError(f"model {card.name!r} is not a dense model (decode kind {card.decode.get('kind')!r})")
    loaded = load(model, RunOptions(device="cpu"), fetch=False, with_extractor=False)
    return loaded.head.eval(), loaded.card


def evaluate(model: str, annotations: Path, features: Path, subset: str = "test", fmt: str | None = None,
             official_label_quirk: bool = False, log: Callable[[str], None] = print) -> Evaluation:
    """mAP of ``model`` on the ``subset`` videos; logs the table."""
    head, card = load_dense_model(model)
    fmt = fmt or _FORMAT_OF_EXTRACTOR.get(card.extractor)  # type: ignore[attr-defined]
    if fmt is None:
        raise ValueError(f"cannot tell the feature files of extractor {card.extractor!r}; pass the format")  # type: ignore[attr-defined]
    database = load_annotations(annotations)
    items = load_items(database, features, subset, fmt)
    known = {f.name for f in fields(DenseDecodeConfig)}
    decode = DenseDecodeConfig(**{k: v for k, v in card.decode.items() if k in known})  # type: ignore[attr-defined]
    preds = predict_items(head, items, decode)
    result = evaluate_map(ground_truth_from_database(database, subset), preds, official_label_quirk=official_label_quirk)
    log(result.table())
    return Evaluation(result, preds, card.name)  # type: ignore[attr-defined]
