"""Run a 10-segment AVE head over a video of any length.

The AVE models see exactly ``size`` (10) one-second segments at a time. We slide windows of
``size`` segments with a hop (default 5: every segment is seen in two windows, with context on
both sides, except near the ends), average the per-segment class probabilities of all windows
that cover a segment, and return one (T, C) probability row per second. The last window is
aligned to the end of the video so the tail is always covered.

Videos shorter than ``size`` are padded to one full window. Padding choice (the paper has no
such case): ``"edge"`` (default) repeats the last real segment, because an all-zero segment is
out of distribution for VGGish/VGG-19 features and the models mix information across all
segments (PSP affinities, ESCM's max-pooled clip summary, the clip-level class of the fully
model); a repeated segment adds no new content. ``"zero"`` pads with zeros instead. Either way
the padded positions act as context only: a mask drops them from the output.

Memory is bounded by ``batch_windows`` windows of inputs at a time: ``audio`` / ``visual`` may
be any sliceable array (a tensor, a numpy memmap, an h5py dataset); only the slices of one batch
of windows are turned into tensors.
"""
from __future__ import annotations

from typing import Any, Literal, Protocol

import torch


class SegmentModel(Protocol):
    def segment_probs(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor: ...


def window_starts(num_segments: int, size: int = 10, hop: int = 5) -> list[int]:
    """First segment of every window; the last window ends at the video's end."""
    if hop < 1 or size < 1:
        raise ValueError(f"window size and hop must be >= 1 (got size={size}, hop={hop})")
    if num_segments <= size:
        return [0]
    starts = list(range(0, num_segments - size + 1, hop))
    if starts[-1] + size < num_segments:
        starts.append(num_segments - size)
    return starts


def _pad(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    missing = size - x.shape[0]
    if missing <= 0:
        return x
    if mode == "edge":
        filler = x[-1:].expand(missing, *x.shape[1:])
    elif mode == "zero":
        filler = x.new_zeros(missing, *x.shape[1:])
    else:
        raise ValueError(f"unknown padding {mode!r}; use 'edge' or 'zero'")
    return torch.cat([x, filler], dim=0)


def sliding_segment_probs(
    model: SegmentModel,
    audio: Any,
    visual: Any,
    size: int | None = None,
    hop: int = 5,
    batch_windows: int = 32,
    pad: Literal["edge", "zero"] = "edge",
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """(T, Da) audio + (T, ...) visual -> (T, C) per-second class probabilities (float32, CPU).

    ``model.segment_probs`` maps (B, size, Da) + (B, size, ...) to (B, size, C). The model is
    run in eval mode and without gradients; its mode is restored afterwards. ``size`` defaults
    to the model config's ``num_segments`` (10 for the AVE models).
    """
    if size is None:
        size = int(getattr(getattr(model, "config", None), "num_segments", 10))
    t = len(audio)
    if len(visual) != t:
        raise ValueError(f"audio has {t} segments but visual {len(visual)}")
    if t == 0:
        raise ValueError("the video has no complete one-second segment")
    starts = window_starts(t, size, hop)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    total: torch.Tensor | None = None
    count = torch.zeros(t, 1)
    try:
        with torch.inference_mode():
            for b in range(0, len(starts), batch_windows):
                chunk = starts[b : b + batch_windows]
                a = torch.stack([_pad(torch.as_tensor(audio[s : s + size]), size, pad) for s in chunk])
                v = torch.stack([_pad(torch.as_tensor(visual[s : s + size]), size, pad) for s in chunk])
                if device is not None:
                    a, v = a.to(device), v.to(device)
                probs = model.segment_probs(a.float(), v.float()).float().cpu()  # (B, size, C)
                if total is None:
                    total = torch.zeros(t, probs.shape[-1])
                index = (torch.tensor(chunk)[:, None] + torch.arange(size)[None, :]).reshape(-1)
                keep = index < t  # padded positions (short videos) are context only
                total.index_add_(0, index[keep], probs.reshape(-1, probs.shape[-1])[keep])
                count.index_add_(0, index[keep], torch.ones(int(keep.sum()), 1))
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    assert total is not None
    return total / count
