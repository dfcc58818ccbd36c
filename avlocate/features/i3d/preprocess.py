"""Frames -> I3D network inputs, reproducing video_features' rgb and flow preprocessing.

Official quirks kept on purpose (the published heads were trained on these features):
* Resize: short side to 256 with PIL's bilinear filter (antialiased when downscaling); the long
  side is ``int(256 * long / short)`` (truncated: 1280x720 -> 455x256, not 456); frames whose
  short side is already 256 are left untouched. torchvision's tensor resize differs by +-1 on a
  few values, so PIL is used for bit parity.
* Centre crop 224 with FLOOR offsets ``((H-224)//2, (W-224)//2)`` (torchvision's ``center_crop``
  rounds: 116 instead of 115 for 455-wide frames).
* RAFT runs on frames replicate-padded to multiples of 8 (floor half left/top, rest right/bottom)
  and the flow is NOT unpadded: its 224 crop is taken from the padded field, so it sits up to one
  pixel right of / below the rgb crop.
* Flow to "uint8": clamp to +-20, ``round_half_even(128 + 6.375 f)`` in float32 with NO clamp to
  255 (so +20 px -> 256), then ``2 q / 255 - 1`` (range [-1, 1.00784]).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "resized_size", "resize_short_side", "crop_origin", "rgb_to_input", "raft_padding", "pad_for_raft",
    "quantize_flow", "flow_to_input",
]

SHORT_SIDE = 256
CROP = 224
FLOW_CLAMP = 20.0


def resized_size(height: int, width: int, short_side: int = SHORT_SIDE) -> tuple[int, int]:
    """(h, w) after the official resize: short side -> 256, long side truncated."""
    if (width <= height and width == short_side) or (height <= width and height == short_side):
        return height, width
    if width < height:
        return int(short_side * height / width), short_side
    return short_side, int(short_side * width / height)


def resize_short_side(frame: np.ndarray | torch.Tensor, short_side: int = SHORT_SIDE) -> torch.Tensor:
    """(H, W, 3) uint8 RGB frame -> (3, h, w) uint8, PIL bilinear as in the official code."""
    from PIL import Image  # torchvision's own dependency; imported lazily

    array = frame.numpy() if isinstance(frame, torch.Tensor) else np.asarray(frame)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 frame, got {array.shape} {array.dtype}")
    h, w = resized_size(array.shape[0], array.shape[1], short_side)
    if (h, w) != array.shape[:2]:
        array = np.asarray(Image.fromarray(array).resize((w, h), Image.BILINEAR))
    return torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1)  # PIL arrays are read-only


def crop_origin(height: int, width: int, crop: int = CROP) -> tuple[int, int]:
    """Top-left corner of the official centre crop (floor division)."""
    return (height - crop) // 2, (width - crop) // 2


def _center_crop(x: torch.Tensor, crop: int = CROP) -> torch.Tensor:
    top, left = crop_origin(x.shape[-2], x.shape[-1], crop)
    return x[..., top : top + crop, left : left + crop]


def rgb_to_input(frames: torch.Tensor, crop: int = CROP) -> torch.Tensor:
    """(T, 3, h, w) resized frames (uint8 or float with values 0..255) -> (1, 3, T, 224, 224)
    float32 in [-1, 1]. The official window passes its first 24 of 25 frames."""
    x = _center_crop(frames, crop).to(torch.float32)
    x = 2.0 * x / 255.0 - 1.0
    return x.permute(1, 0, 2, 3).unsqueeze(0)


def raft_padding(height: int, width: int, multiple: int = 8) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) replicate padding to multiples of 8 (RAFT's InputPadder)."""
    pad_h = (-height) % multiple
    pad_w = (-width) % multiple
    return pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2


def pad_for_raft(frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, h, w) -> (N, 3, Hp, Wp), replicate padding; float32 keeps the 0..255 values."""
    pads = raft_padding(frames.shape[-2], frames.shape[-1])
    x = frames.to(torch.float32)
    return F.pad(x, pads, mode="replicate") if any(pads) else x


def quantize_flow(flow: torch.Tensor, clamp: float = FLOW_CLAMP) -> torch.Tensor:
    """Float flow (px) -> the official "uint8" values, float32 integers in 0..256."""
    f = flow.to(torch.float32).clamp(-clamp, clamp)
    # 255/40 = 6.375 exactly; torch.round is half-to-even; deliberately no clamp to 255.
    return torch.round(128.0 + (255.0 / (2 * clamp)) * f)


def flow_to_input(padded_flow: torch.Tensor, crop: int = CROP) -> torch.Tensor:
    """(T, 2, Hp, Wp) flow on the RAFT-padded grid -> (1, 2, T, 224, 224) float32 input.
    The crop is taken from the padded field, as the official code does."""
    q = quantize_flow(_center_crop(padded_flow, crop))
    x = 2.0 * q / 255.0 - 1.0
    return x.permute(1, 0, 2, 3).unsqueeze(0)
