"""Evaluation metrics of the dense protocol (UnAV-100 detection mAP)."""
from __future__ import annotations

from .detection_map import (TIOU_THRESHOLDS, GroundTruth, MapResult, Predictions, evaluate_map,
                            ground_truth_from_database, load_ground_truth, load_predictions,
                            predictions_from_database)

__all__ = ["TIOU_THRESHOLDS", "GroundTruth", "MapResult", "Predictions", "evaluate_map", "ground_truth_from_database",
           "load_ground_truth", "load_predictions", "predictions_from_database"]
