"""Per-snippet decisions -> events: runs of consecutive active snippets become one event.

Used by every head that scores snippets rather than regressing boundaries (the offline demo, and
the 1-second-segment AVE models). Vectorised over time and classes: run boundaries come from one
``diff`` over the padded activity matrix, never from a Python loop over snippets.
"""
from __future__ import annotations

import torch

from ..results import Event
from ..timeline import Timeline


def find_runs(active: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Runs of True along the last axis of a (K, T) bool tensor.

    Returns ``(cls, first, last)``: the row, first and last (inclusive) index of every run,
    ordered by row then start.
    """
    if active.dim() == 1:
        active = active.unsqueeze(0)
    k, _ = active.shape
    pad = torch.zeros(k, 1, dtype=torch.int8, device=active.device)
    edges = torch.diff(torch.cat([pad, active.to(torch.int8), pad], dim=1), dim=1)
    start_cls, start_idx = torch.nonzero(edges == 1, as_tuple=True)
    _, stop_idx = torch.nonzero(edges == -1, as_tuple=True)
    return start_cls, start_idx, stop_idx - 1


def close_gaps(active: torch.Tensor, max_gap: int) -> torch.Tensor:
    """Fill runs of False no longer than ``max_gap`` that lie between two True runs (per row)."""
    if max_gap <= 0:
        return active
    cls, first, last = find_runs(~active)
    t = active.shape[-1]
    inner = (first > 0) & (last < t - 1) & (last - first + 1 <= max_gap)
    filled = active.clone()
    for c, f, l in zip(cls[inner].tolist(), first[inner].tolist(), last[inner].tolist()):
        filled[c, f : l + 1] = True  # a loop over gaps (few), not over snippets
    return filled


def scores_to_events(
    probs: torch.Tensor,
    class_names: list[str],
    timeline: Timeline,
    threshold: float = 0.5,
    min_duration: float = 0.0,
    max_gap_seconds: float = 0.0,
) -> list[Event]:
    """Multi-label per-snippet probabilities (T, K) -> events per class.

    A snippet is active for a class when its probability reaches ``threshold``; gaps of at most
    ``max_gap_seconds`` inside an event are bridged; events shorter than ``min_duration`` are
    dropped. An event's score is the mean probability over its snippets.
    """
    if probs.numel() == 0:
        return []
    probs_kt = probs.detach().float().t().contiguous()  # (K, T)
    active = probs_kt >= threshold
    gap = int(round(max_gap_seconds / timeline.step_seconds)) if max_gap_seconds > 0 else 0
    active = close_gaps(active, gap)
    cls, first, last = find_runs(active)
    if cls.numel() == 0:
        return []
    start, end = timeline.run_to_seconds(first, last)
    csum = torch.nn.functional.pad(probs_kt.cumsum(dim=1), (1, 0))
    mean = (csum[cls, last + 1] - csum[cls, first]) / (last - first + 1).to(probs_kt.dtype)
    keep = (end - start) >= min_duration
    return [
        Event(class_names[c], float(s), float(e), float(m))
        for c, s, e, m, k in zip(cls.tolist(), start.tolist(), end.tolist(), mean.tolist(), keep.tolist())
        if k
    ]


def labels_to_events(
    labels: torch.Tensor,
    scores: torch.Tensor,
    class_names: list[str],
    timeline: Timeline,
    background: int | None = None,
) -> list[Event]:
    """Single-label per-segment decisions (T,) -> events: runs of equal labels, background dropped."""
    if labels.numel() == 0:
        return []
    labels = labels.long()
    change = torch.ones_like(labels, dtype=torch.bool)
    change[1:] = labels[1:] != labels[:-1]
    first = torch.nonzero(change, as_tuple=True)[0]
    last = torch.cat([first[1:] - 1, torch.tensor([labels.numel() - 1], device=labels.device)])
    run_labels = labels[first]
    start, end = timeline.run_to_seconds(first, last)
    csum = torch.nn.functional.pad(scores.detach().double().cumsum(0), (1, 0))
    mean = (csum[last + 1] - csum[first]) / (last - first + 1)
    events = []
    for lab, s, e, m in zip(run_labels.tolist(), start.tolist(), end.tolist(), mean.tolist()):
        if background is not None and lab == background:
            continue
        events.append(Event(class_names[lab], float(s), float(e), float(m)))
    return events
