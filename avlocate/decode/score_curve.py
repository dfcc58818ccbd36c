"""The per-snippet score curve of a dense head: the score its events are drawn from.

A dense head scores every point of every pyramid level; the decoder takes candidates from all
levels (:func:`avlocate.decode.dense.candidates`), each one's score being ``sigmoid(logit) *
mask`` at its point, and Soft-NMS only lowers scores. So the curve that explains the events is,
per level-0 time step t and class k, the maximum over levels of that same probability at the
level's point nearest t. A level-l point j stands at level-0 step ``j * stride_l`` (where the
decoder centres its segment), so it covers the steps within half a stride of it.

Property (tested on the demo samples): every event of score s contains its candidate's point,
where the curve is at least s (the point's probability before Soft-NMS lowered it).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch


def nearest_points(length: int, stride: int, num_points: int) -> torch.Tensor:
    """Index of the level point nearest each of ``length`` level-0 steps (ties go to the later)."""
    steps = torch.arange(length)
    return torch.div(steps + stride // 2, stride, rounding_mode="floor").clamp(max=num_points - 1)


def pyramid_max(logits: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], strides: Sequence[int],
                video: int, length: int) -> torch.Tensor:
    """(length, K) curve of batch entry ``video``: max over levels of ``sigmoid(logit) * mask``.

    ``logits[l]`` (B, T_l, K), ``masks[l]`` (B, T_l), ``strides[l]`` in level-0 steps (a
    :class:`~avlocate.heads.dense.heads.DenseOutput`'s fields).
    """
    curve: torch.Tensor | None = None
    for lg, m, s in zip(logits, masks, strides):
        prob = torch.sigmoid(lg[video].float()) * m[video][:, None].float()  # (T_l, K), as the decoder
        level = prob[nearest_points(length, int(s), prob.shape[0])]
        curve = level if curve is None else torch.maximum(curve, level)
    assert curve is not None, "a dense output has at least one level"
    return curve.cpu()
