"""UnAV-100 mAP against the official metric's recorded results (reference dense/metric)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from avlocate.metrics import Predictions, evaluate_map, load_ground_truth, load_predictions
from avlocate.metrics.detection_map import GroundTruth

TOL = 1e-6  # the brief's tolerance (the official runs agreed bitwise)


def _cases(reference_dir: Path) -> list[str]:
    names = sorted(p.name[: -len("_result.json")] for p in (reference_dir / "dense" / "metric").glob("*_result.json"))
    assert names, "no metric cases in the reference folder"
    return names


@pytest.fixture(scope="module")
def metric_dir(reference_dir) -> Path:
    return reference_dir / "dense" / "metric"


def _load(metric_dir: Path, case: str):
    result = json.loads((metric_dir / f"{case}_result.json").read_text())
    gt = load_ground_truth(metric_dir / f"{case}_gt.json", result.get("split_evaluated", "test"))
    preds = load_predictions(metric_dir / f"{case}_pred.json")
    return gt, preds, result


def _assert_equal_official(res, result):
    np.testing.assert_allclose(res.thresholds, result["tiou_thresholds"], rtol=0, atol=0)
    np.testing.assert_allclose(res.map_per_tiou, result["mAP_per_tiou"], rtol=0, atol=TOL)
    np.testing.assert_allclose(res.ap, np.array(result["ap_per_tiou_per_column"]), rtol=0, atol=TOL)
    assert res.average_map == pytest.approx(result["average_mAP_0.1_to_0.9"], abs=TOL)
    for key, value in result["paper_columns"].items():
        assert res.paper_columns()[key] == pytest.approx(value, abs=TOL)


def _touched(gt: GroundTruth, preds: Predictions) -> np.ndarray:
    """Predictions the official renumbering misplaces (README step 2): label without ground truth
    whose raw value is a valid column index."""
    gt_labels = set(np.unique(gt.labels).tolist())
    n = len(gt_labels)
    return np.array([lab not in gt_labels and 0 <= lab < n for lab in preds.labels.tolist()], dtype=bool)


def test_every_case_with_the_quirk_equals_the_official_result(reference_dir, metric_dir):
    for case in _cases(reference_dir):
        gt, preds, result = _load(metric_dir, case)
        res = evaluate_map(gt, preds, official_label_quirk=True)
        assert res.num_gt == result["num_gt_after_dedup"], case
        mapping = {int(k): v for k, v in result["activity_index_gt_label_to_column"].items()}
        assert {int(lab): c for c, lab in enumerate(res.labels)} == mapping, case
        _assert_equal_official(res, result)


def test_without_the_quirk_untouched_cases_are_unchanged(reference_dir, metric_dir):
    untouched = 0
    for case in _cases(reference_dir):
        gt, preds, result = _load(metric_dir, case)
        if _touched(gt, preds).any():
            continue
        untouched += 1
        _assert_equal_official(evaluate_map(gt, preds), result)
    assert untouched > 0


def test_without_the_quirk_touched_cases_differ_only_through_the_quirk(reference_dir, metric_dir):
    touched_cases = 0
    for case in _cases(reference_dir):
        gt, preds, result = _load(metric_dir, case)
        touched = _touched(gt, preds)
        if not touched.any():
            continue
        touched_cases += 1
        labels = np.unique(gt.labels)
        official_ap = np.array(result["ap_per_tiou_per_column"])
        correct = evaluate_map(gt, preds)
        # Columns that receive no misplaced prediction are identical.
        hit = set(preds.labels[touched].tolist())  # raw label L lands in column L
        for c in range(len(labels)):
            if c not in hit:
                np.testing.assert_allclose(correct.ap[:, c], official_ap[:, c], rtol=0, atol=TOL)
        # The quirk matters here: some column differs.
        assert np.abs(correct.ap - official_ap).max() > 1e-3, case
        # Giving the misplaced predictions, by hand, the label of the column the official code
        # scores them in makes the correct metric reproduce the official numbers exactly.
        relabelled = preds.labels.copy()
        relabelled[touched] = labels[preds.labels[touched]]
        moved = Predictions(preds.videos, preds.starts, preds.ends, relabelled, preds.scores)
        _assert_equal_official(evaluate_map(gt, moved), result)
    assert touched_cases > 0


def test_table_prints_what_the_official_code_printed(reference_dir, metric_dir):
    for case in _cases(reference_dir):
        gt, preds, result = _load(metric_dir, case)
        table = evaluate_map(gt, preds, official_label_quirk=True).table()
        printed = re.findall(r"mAP = ([0-9.]+) \(%\)", result["stdout_of_official_evaluate"])
        avg = re.findall(r"Av\w+ mAP: ([0-9.]+) \(%\)", result["stdout_of_official_evaluate"])
        assert len(printed) == 9 and len(avg) == 1
        for value in printed + avg:
            assert value in table, (case, value, table)


def test_hand_made_case():
    gt = GroundTruth(["a", "a", "b"], np.array([0.0, 10.0, 0.0]), np.array([10.0, 20.0, 4.0]), np.array([1, 1, 3]))
    # a/1: exact hit (score .9), a duplicate (score .8, FP at every threshold), tIoU 0.5 hit of the second event.
    preds = Predictions.from_rows([("a", 0.0, 10.0, 1, 0.9), ("a", 0.0, 10.0, 1, 0.8), ("a", 10.0, 15.0, 1, 0.7),
                                   ("b", 0.0, 4.0, 3, 0.5), ("c", 0.0, 4.0, 3, 0.95)])
    res = evaluate_map(gt, preds)
    t = list(np.round(res.thresholds, 1))
    # class 1 up to tIoU 0.5: P = 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> AP = .5 + .5 * 2/3
    assert res.ap[t.index(0.5), 0] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert res.ap[t.index(0.6), 0] == pytest.approx(0.5)
    # class 3: the unknown video "c" is a false positive ranked first -> AP = 1/2 at every threshold
    np.testing.assert_allclose(res.ap[:, 1], 0.5)
    assert res.map_at(0.9) == pytest.approx(0.5)
