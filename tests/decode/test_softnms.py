"""Vectorised multiclass Soft-NMS vs a line-by-line transcription of the official C++ loop."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from avlocate.decode.dense import DenseDecodeConfig
from avlocate.decode.softnms import soft_nms
from avlocate.heads.dense.parity import ReferenceSet, match_detections


def oracle(segs: np.ndarray, scores: np.ndarray, labels: np.ndarray, sigma: float, min_score: float,
           max_num: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The official algorithm as README section 7 describes it, one candidate at a time (float32)."""
    f32 = np.float32
    out = []
    for c in np.unique(labels):
        idx = np.nonzero(labels == c)[0]
        x1, x2, sc = segs[idx, 0].astype(f32), segs[idx, 1].astype(f32), scores[idx].astype(f32)
        area = (x2 - x1 + f32(1e-6)).astype(f32)
        ind = idx.copy()
        n, i, emitted = len(idx), 0, []
        arrays = [x1, x2, sc, area, ind]
        while i < n:
            best = i
            for p in range(i + 1, n):
                if sc[best] < sc[p]:
                    best = p
            for arr in arrays:
                arr[i], arr[best] = arr[best], arr[i]
            emitted.append((x1[i], x2[i], sc[i], ind[i]))
            p = i + 1
            while p < n:
                inter = max(f32(0), f32(min(x2[i], x2[p]) - max(x1[i], x1[p])))
                iou = f32(inter / f32(area[i] + area[p] - inter))
                sc[p] = f32(sc[p] * f32(np.exp(f32(-(iou * iou)) / f32(sigma))))
                if sc[p] < min_score:
                    for arr in arrays:
                        arr[p] = arr[n - 1]
                    n -= 1
                    p -= 1
                p += 1
            i += 1
        out.extend(emitted[:max_num])
    out.sort(key=lambda e: -e[2])  # stable: class order, then emission order on ties
    out = out[:max_num]
    s = np.array([[e[0], e[1]] for e in out], np.float32).reshape(-1, 2)
    return s, np.array([e[2] for e in out], np.float32), labels[np.array([e[3] for e in out], np.int64)]


def _run(segs, scores, labels, sigma=0.4, min_score=0.001, max_num=100):
    s, p, lab = soft_nms(torch.from_numpy(segs), torch.from_numpy(scores), torch.from_numpy(labels),
                         sigma, min_score, max_num)
    return s.numpy(), p.numpy(), lab.numpy()


def _random_case(rng: np.random.Generator, n: int, k: int, ties: bool):
    start = rng.integers(0, 40, n) if ties else rng.uniform(0, 40, n)
    length = rng.integers(1, 12, n) if ties else rng.uniform(0.1, 12, n)
    segs = np.stack([start, start + length], 1).astype(np.float32)
    scores = (rng.choice([0.9, 0.5, 0.3, 0.05, 0.002], n) if ties else rng.uniform(0.0005, 1, n)).astype(np.float32)
    return segs, scores, rng.integers(0, k, n).astype(np.int64)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("ties", [False, True])
def test_equals_the_official_loop(seed, ties):
    rng = np.random.default_rng(seed)
    segs, scores, labels = _random_case(rng, int(rng.integers(1, 160)), int(rng.integers(1, 6)), ties)
    max_num = int(rng.choice([3, 10, 100]))
    sigma, min_score = float(rng.choice([0.4, 0.9])), float(rng.choice([0.001, 0.1]))
    want = oracle(segs, scores, labels, sigma, min_score, max_num)
    got = _run(segs, scores, labels, sigma, min_score, max_num)
    assert len(got[1]) == len(want[1])
    np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-6)  # exp() may differ by an ulp


def test_caps_empty_and_single():
    e = _run(np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))
    assert all(len(x) == 0 for x in e)
    s, p, lab = _run(np.array([[1, 2]], np.float32), np.array([0.5], np.float32), np.array([3]))
    assert s.tolist() == [[1, 2]] and p.tolist() == [0.5] and lab.tolist() == [3]
    rng = np.random.default_rng(0)
    segs, scores, labels = _random_case(rng, 300, 4, False)
    assert len(_run(segs, scores, labels, max_num=7)[1]) == 7


def test_identical_segments_decay_by_exp_minus_one_over_sigma():
    segs = np.array([[0, 10], [0, 10]], np.float32)
    _, p, _ = _run(segs, np.array([0.8, 0.6], np.float32), np.array([0, 0]), sigma=0.4)
    np.testing.assert_allclose(p, [0.8, 0.6 * np.exp(-1 / 0.4)], rtol=1e-5)
    _, p, _ = _run(segs, np.array([0.8, 0.6], np.float32), np.array([0, 1]))  # other class: no decay
    np.testing.assert_allclose(p, [0.8, 0.6])


@pytest.mark.parametrize("model", ["unav", "ccnet"])
def test_official_candidates_give_official_nms(reference_dir, model):
    """Fed the stored official candidates, Soft-NMS reproduces the stored official output."""
    ref = ReferenceSet(reference_dir / "dense" / model / "small")
    for case in ref.cases_with_outputs():
        cfg = DenseDecodeConfig.from_official(ref.test_cfg(case))
        for vid in range(len(ref.videos(case))):
            pre = f"{case}_v{vid}"
            a = ref.arrays
            got = _run(a[f"{pre}_cand_segs_grid"], a[f"{pre}_cand_scores"], a[f"{pre}_cand_labels"],
                       cfg.nms_sigma, cfg.min_score, cfg.max_seg_num)
            want = (a[f"{pre}_nms_segs_grid"], a[f"{pre}_nms_scores"], a[f"{pre}_nms_labels"])
            assert not match_detections(want, got, seg_atol=1e-4, score_atol=1e-6), (case, vid)
