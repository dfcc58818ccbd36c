"""Comparing found events with ground truth (temporal IoU, one-to-one matching)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..results import Event


def tiou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Temporal intersection over union of two [start, end] intervals."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


@dataclass
class Matching:
    matched: list[tuple[dict, Event, float]] = field(default_factory=list)  # (gt, prediction, tIoU)
    missed: list[dict] = field(default_factory=list)  # ground-truth events without a prediction
    false_positives: list[Event] = field(default_factory=list)  # predictions without ground truth


def match_events(predicted: list[Event], ground_truth: list[dict], min_tiou: float = 0.5) -> Matching:
    """Greedy one-to-one matching by descending tIoU, labels must agree."""
    pairs = []
    for gi, g in enumerate(ground_truth):
        for pi, p in enumerate(predicted):
            if p.label == g["label"]:
                iou = tiou((g["start"], g["end"]), (p.start, p.end))
                if iou >= min_tiou:
                    pairs.append((iou, gi, pi))
    pairs.sort(reverse=True)
    used_g: set[int] = set()
    used_p: set[int] = set()
    out = Matching()
    for iou, gi, pi in pairs:
        if gi in used_g or pi in used_p:
            continue
        used_g.add(gi)
        used_p.add(pi)
        out.matched.append((ground_truth[gi], predicted[pi], iou))
    out.missed = [g for i, g in enumerate(ground_truth) if i not in used_g]
    out.false_positives = [p for i, p in enumerate(predicted) if i not in used_p]
    return out
