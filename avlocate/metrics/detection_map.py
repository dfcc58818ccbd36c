"""UnAV-100 detection mAP (ActivityNet style) at tIoU 0.1, 0.2, ..., 0.9.

The protocol of the UnAV / CCNet / ESG-Net papers (own implementation of the description in the
reference ``dense/metric/README.md``): ground truth of one split, per-video de-duplication of
same-label events whose boundaries agree within 1e-3 s, one AP column per ground-truth class,
predictions sorted by score, greedy matching per threshold in descending tIoU order, VOC-2011
interpolated AP, mAP = mean over the ground-truth classes, "Avg." = mean over the 9 thresholds.

Deliberate difference (``official_label_quirk=False``, the default): a prediction is scored in
the column of *its own* label; a label that has no ground truth is scored nowhere. The official
code renumbers labels with a lookup that leaves unknown labels unchanged, so a prediction whose
label L has no ground truth lands in column L, i.e. it is scored as the L-th ground-truth class
(reference case3: label-2 predictions count as class 3). ``official_label_quirk=True`` copies
that, to reproduce published numbers exactly.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: exactly numpy.linspace(0.1, 0.9, 9), as the official dataset class passes it
TIOU_THRESHOLDS = np.linspace(0.1, 0.9, 9)
PAPER_COLUMNS = (0.5, 0.6, 0.7, 0.8, 0.9)
DUPLICATE_TOLERANCE = 1e-3  # seconds; inclusive


@dataclass
class GroundTruth:
    """Flat arrays of the kept ground-truth events of one split."""

    videos: list[str]
    starts: np.ndarray
    ends: np.ndarray
    labels: np.ndarray  # int label ids


@dataclass
class Predictions:
    videos: list[str]
    starts: np.ndarray
    ends: np.ndarray
    labels: np.ndarray  # int label ids
    scores: np.ndarray

    @classmethod
    def from_rows(cls, rows: list[tuple[str, float, float, int, float]]) -> "Predictions":
        """Rows (video, start, end, label_id, score)."""
        return cls([r[0] for r in rows], np.array([r[1] for r in rows], dtype=np.float64),
                   np.array([r[2] for r in rows], dtype=np.float64), np.array([r[3] for r in rows], dtype=np.int64),
                   np.array([r[4] for r in rows], dtype=np.float64))


def ground_truth_from_database(database: dict[str, Any], subset: str = "test") -> GroundTruth:
    """UnAV-100 ``database`` dict -> kept events of ``subset`` (duplicates removed per video)."""
    videos, starts, ends, labels = [], [], [], []
    for vid, item in database.items():
        if item.get("subset") != subset:
            continue
        kept: list[tuple[float, float, int]] = []
        for ann in item.get("annotations", []):
            s, e = (float(x) for x in ann["segment"])
            lab = int(ann["label_id"])
            if any(k[2] == lab and abs(k[0] - s) <= DUPLICATE_TOLERANCE and abs(k[1] - e) <= DUPLICATE_TOLERANCE
                   for k in kept):
                continue
            kept.append((s, e, lab))
        for s, e, lab in kept:
            videos.append(vid)
            starts.append(s)
            ends.append(e)
            labels.append(lab)
    return GroundTruth(videos, np.array(starts, dtype=np.float64), np.array(ends, dtype=np.float64),
                       np.array(labels, dtype=np.int64))


def predictions_from_database(database: dict[str, list[dict[str, Any]]]) -> Predictions:
    """Official prediction JSON ``database`` (key ``scores``, plural) -> arrays."""
    rows = [(vid, float(p["segment"][0]), float(p["segment"][1]), int(p["label_id"]), float(p["scores"]))
            for vid, preds in database.items() for p in preds]
    return Predictions.from_rows(rows)


def load_ground_truth(path: Path, subset: str = "test") -> GroundTruth:
    return ground_truth_from_database(json.loads(Path(path).read_text(encoding="utf-8"))["database"], subset)


def load_predictions(path: Path) -> Predictions:
    return predictions_from_database(json.loads(Path(path).read_text(encoding="utf-8"))["database"])


def segment_tiou(start: float, end: float, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """tIoU of one segment with many (intersection clipped at 0; union = lengths - intersection)."""
    inter = np.clip(np.minimum(end, ends) - np.maximum(start, starts), 0.0, None)
    union = (ends - starts) + (end - start) - inter
    return inter / union


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC-2011 AP: precision made non-increasing from the right, summed over recall steps."""
    mprec = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def class_ap(gt: GroundTruth, gt_rows: np.ndarray, preds: Predictions, pred_rows: np.ndarray,
             thresholds: np.ndarray) -> np.ndarray:
    """AP of one class at every threshold: greedy matching of score-sorted predictions."""
    ap = np.zeros(len(thresholds))
    if pred_rows.size == 0:
        return ap
    by_video: dict[str, list[int]] = defaultdict(list)
    for r in gt_rows:
        by_video[gt.videos[r]].append(int(r))
    # descending score: numpy's argsort reversed, exactly as the official code orders them
    order = pred_rows[np.argsort(preds.scores[pred_rows])[::-1]]
    tp = np.zeros((len(thresholds), len(order)))
    fp = np.zeros((len(thresholds), len(order)))
    taken = {v: np.full((len(thresholds), len(rows)), False) for v, rows in by_video.items()}
    for i, p in enumerate(order):
        rows = by_video.get(preds.videos[p])
        if rows is None:
            fp[:, i] = 1
            continue
        iou = segment_tiou(preds.starts[p], preds.ends[p], gt.starts[rows], gt.ends[rows])
        walk = np.argsort(iou)[::-1]
        for t, thr in enumerate(thresholds):
            for j in walk:
                if iou[j] < thr:
                    fp[t, i] = 1
                    break
                if taken[preds.videos[p]][t, j]:
                    continue
                tp[t, i] = 1
                taken[preds.videos[p]][t, j] = True
                break
            if tp[t, i] == 0 and fp[t, i] == 0:
                fp[t, i] = 1
    tp_cum, fp_cum = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)
    recall = tp_cum / len(gt_rows)
    precision = tp_cum / (tp_cum + fp_cum)
    for t in range(len(thresholds)):
        ap[t] = interpolated_ap(precision[t], recall[t])
    return ap


def prediction_columns(gt_labels: np.ndarray, pred_labels: np.ndarray, official_label_quirk: bool) -> np.ndarray:
    """AP column of every prediction (-1 = scored nowhere).

    Columns are the sorted unique ground-truth label ids. Correct: a prediction's column is that
    of its label. Quirk: unknown labels keep their raw value, which is then read as a column.
    """
    columns = {int(lab): c for c, lab in enumerate(gt_labels)}
    out = np.full(pred_labels.shape, -1, dtype=np.int64)
    for i, lab in enumerate(pred_labels.tolist()):
        if lab in columns:
            out[i] = columns[lab]
        elif official_label_quirk and 0 <= lab < len(gt_labels):
            out[i] = lab
    return out


@dataclass
class MapResult:
    thresholds: np.ndarray  # (9,)
    labels: np.ndarray  # label id of each AP column (sorted unique GT labels)
    ap: np.ndarray  # (thresholds, columns)
    num_gt: int

    @property
    def map_per_tiou(self) -> np.ndarray:
        return self.ap.mean(axis=1)

    @property
    def average_map(self) -> float:
        return float(self.map_per_tiou.mean())

    def map_at(self, thr: float) -> float:
        t = int(np.argmin(np.abs(self.thresholds - thr)))
        return float(self.map_per_tiou[t])

    def paper_columns(self) -> dict[str, float]:
        """mAP@0.5 ... mAP@0.9 and the 0.1:0.1:0.9 average, as the papers' tables."""
        cols = {f"mAP@{t:.1f}": self.map_at(t) for t in PAPER_COLUMNS}
        cols["avg_0.1:0.1:0.9"] = self.average_map
        return cols

    def table(self) -> str:
        """Plain-text table in percent (2 decimals), every threshold, then the paper columns."""
        head = " ".join(f"{t:>6.1f}" for t in self.thresholds) + "    Avg."
        row = " ".join(f"{100 * v:6.2f}" for v in self.map_per_tiou) + f"  {100 * self.average_map:6.2f}"
        paper = "  ".join(f"{k} {100 * v:.2f}" for k, v in self.paper_columns().items())
        return (f"mAP (%) at tIoU, {len(self.labels)} classes, {self.num_gt} ground-truth events\n"
                f"tIoU {head}\nmAP  {row}\n{paper}")

    def to_dict(self) -> dict[str, Any]:
        return {"tiou_thresholds": self.thresholds.tolist(), "mAP_per_tiou": self.map_per_tiou.tolist(),
                "average_mAP": self.average_map, "paper_columns": self.paper_columns(),
                "labels": self.labels.tolist(), "num_gt": self.num_gt}


def evaluate_map(gt: GroundTruth, preds: Predictions, thresholds: np.ndarray = TIOU_THRESHOLDS,
                 official_label_quirk: bool = False) -> MapResult:
    """mAP of ``preds`` against ``gt`` at every threshold (see the module docstring)."""
    labels = np.unique(gt.labels)
    cols = prediction_columns(labels, preds.labels, official_label_quirk)
    ap = np.zeros((len(thresholds), len(labels)))
    for c, lab in enumerate(labels):
        gt_rows = np.nonzero(gt.labels == lab)[0]
        ap[:, c] = class_ap(gt, gt_rows, preds, np.nonzero(cols == c)[0], np.asarray(thresholds))
    return MapResult(np.asarray(thresholds), labels, ap, len(gt.labels))
