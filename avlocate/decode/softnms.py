"""Multiclass Gaussian Soft-NMS with the behaviour of the official UnAV/CCNet C++ extension.

Official algorithm, per class (float32): repeat for position i = 0, 1, ... while i < N: take the
largest current score among positions i..N-1 (the first one on exact ties), swap it into position
i and emit it; every later position p is decayed by ``exp(-IoU^2 / sigma)`` (sigma as given: no
factor 2, no square, no IoU threshold) with ``IoU = inter / (len_i + len_p - inter)`` and
``len = end - start + 1e-6``; an entry whose score drops below ``min_score`` is replaced by the
last entry (N shrinks). The first ``max_seg_num`` emitted entries of each class are kept, the
classes are concatenated in ascending class order, sorted by score and capped at ``max_seg_num``.

Vectorisation: all classes run at once as rows of a padded (classes x candidates) matrix. The only
Python loop is over emission rounds (at most ``max_seg_num``, because emitted scores never rise,
so stopping after ``max_seg_num`` rounds gives the same first ``max_seg_num`` entries); inside a
round the argmax, swap, decay and removal are tensor operations over every class and candidate.
The removal reproduces the C++ "replace by the last entry" order exactly (it decides which entry
wins an exact score tie later): survivors left of the new end stay, and the holes there are filled,
left to right, with the survivors beyond it taken from the right end.
"""
from __future__ import annotations

import torch

_LEN_EPS = 1e-6


def _group_by_class(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row (class rank) and column (rank inside its class, input order kept) of every candidate."""
    order = torch.argsort(labels, stable=True)
    classes, counts = torch.unique_consecutive(labels[order], return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    rows = torch.repeat_interleave(torch.arange(len(classes), device=labels.device), counts)
    cols = torch.arange(len(order), device=labels.device) - starts[rows]
    return order, rows, cols, classes


def _compact(keep: torch.Tensor, lo: int, n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column permutation (R, W) of the C++ removal of ``~keep`` entries in columns (lo, n), and new n."""
    r, w = keep.shape
    col = torch.arange(w, device=keep.device).expand(r, w)
    live = (col > lo) & (col < n[:, None])
    kept = keep & live
    new_n = lo + 1 + kept.sum(1)
    hole = live & ~keep & (col < new_n[:, None])
    filler = kept & (col >= new_n[:, None])
    src = col.clone()
    if bool(hole.any()):
        hole_rank = torch.cumsum(hole.to(torch.int64), 1) - 1
        fill_rank = torch.flip(torch.cumsum(torch.flip(filler.to(torch.int64), [1]), 1), [1]) - 1
        fill_pos = torch.zeros(r, w, dtype=torch.int64, device=keep.device)
        fr, fc = torch.nonzero(filler, as_tuple=True)
        fill_pos[fr, fill_rank[fr, fc]] = fc
        hr, hc = torch.nonzero(hole, as_tuple=True)
        src[hr, hc] = fill_pos[hr, hole_rank[hr, hc]]
    return src, new_n


def soft_nms(segments: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, sigma: float = 0.4,
             min_score: float = 0.001, max_seg_num: int = 100) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class Gaussian Soft-NMS. segments (N, 2), scores (N,), labels (N,) int.

    Returns (segments (M, 2), scores (M,), labels (M,)) sorted by decayed score, M <= max_seg_num.
    """
    device = segments.device
    segments = segments.to(torch.float32)
    scores = scores.to(torch.float32)
    if segments.shape[0] == 0 or max_seg_num <= 0:
        return segments.new_zeros(0, 2), scores.new_zeros(0), labels.new_zeros(0)
    order, rows, cols, classes = _group_by_class(labels)
    r, w = len(classes), int(cols.max()) + 1
    # data[..., 0..3] = start, end, score, length; idx = original candidate index
    data = torch.zeros(r, w, 4, dtype=torch.float32, device=device)
    seg = segments[order]
    data[rows, cols, 0] = seg[:, 0]
    data[rows, cols, 1] = seg[:, 1]
    data[rows, cols, 2] = scores[order]
    data[rows, cols, 3] = seg[:, 1] - seg[:, 0] + _LEN_EPS
    idx = torch.zeros(r, w, dtype=torch.int64, device=device)
    idx[rows, cols] = order
    n = torch.bincount(rows, minlength=r)
    rounds = min(max_seg_num, w)
    out_data = torch.zeros(r, rounds, 4, dtype=torch.float32, device=device)
    out_idx = torch.zeros(r, rounds, dtype=torch.int64, device=device)
    out_valid = torch.zeros(r, rounds, dtype=torch.bool, device=device)
    ar = torch.arange(r, device=device)
    for i in range(rounds):
        active = n > i
        if not bool(active.any()):
            break
        col = torch.arange(w, device=device).expand(r, w)
        live = (col >= i) & (col < n[:, None])
        cur = torch.where(live, data[..., 2], torch.tensor(float("-inf"), device=device))
        best = torch.argmax(cur, dim=1)  # first maximum on exact ties, as the C++ scan
        best = torch.where(active, best, torch.full_like(best, i))
        perm = col.clone()
        perm[ar, i] = best
        perm[ar, best] = i
        data = torch.gather(data, 1, perm[..., None].expand(r, w, 4))
        idx = torch.gather(idx, 1, perm)
        top = data[:, i]
        out_data[:, i] = top
        out_idx[:, i] = idx[:, i]
        out_valid[:, i] = active
        # decay every later live entry by the Gaussian of its IoU with the emitted one
        inter = (torch.minimum(top[:, None, 1], data[..., 1])
                 - torch.maximum(top[:, None, 0], data[..., 0])).clamp(min=0)
        iou = inter / (top[:, None, 3] + data[..., 3] - inter)
        later = live & (col > i)
        decayed = data[..., 2] * torch.exp(-(iou * iou) / sigma)
        data[..., 2] = torch.where(later, decayed, data[..., 2])
        src, n = _compact(~later | (data[..., 2] >= min_score), i, torch.where(active, n, torch.full_like(n, i + 1)))
        data = torch.gather(data, 1, src[..., None].expand(r, w, 4))
        idx = torch.gather(idx, 1, src)
        w_new = max(int(n.max()), i + 1)
        if w_new < w:  # drop columns no class uses any more
            data, idx, w = data[:, :w_new], idx[:, :w_new], w_new
    # classes in ascending order, each in emission order; then a stable sort by score
    flat_valid = out_valid.reshape(-1)
    res = out_data.reshape(-1, 4)[flat_valid]
    res_idx = out_idx.reshape(-1)[flat_valid]
    keep = torch.argsort(res[:, 2], descending=True, stable=True)[:max_seg_num]
    return res[keep, :2].clone(), res[keep, 2].clone(), labels[res_idx[keep]]
