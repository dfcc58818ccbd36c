"""I3D rgb/flow preprocessing parity (reference/extraction/i3d). The README reports resize, crop,
scale and flow quantisation bit-exact across runs, so these comparisons are exact."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from avlocate.features.i3d.preprocess import (
    crop_origin,
    flow_to_input,
    quantize_flow,
    raft_padding,
    resize_short_side,
    resized_size,
    rgb_to_input,
)
from avlocate.features.i3d.windows import window_pair_index


@pytest.fixture(scope="module")
def idir(reference_dir: Path) -> Path:
    return reference_dir / "extraction" / "i3d"


@pytest.fixture(scope="module")
def resized_clip(idir: Path) -> torch.Tensor:
    with np.load(idir / "clip_resized_uint8.npz") as d:
        return torch.from_numpy(d["resized_TCHW_uint8"])


def test_resize_cases_bit_exact(idir: Path) -> None:
    with np.load(idir / "resize_cases_uint8.npz") as d:
        names = [k[4:] for k in d.files if k.startswith("raw_")]
        assert len(names) == 8
        for name in names:
            got = resize_short_side(d[f"raw_{name}"])
            want = torch.from_numpy(d[f"resized_{name}"])
            assert got.shape == want.shape and got.dtype == torch.uint8, name
            assert torch.equal(got, want), name


def test_clip_resize_bit_exact(idir: Path, resized_clip: torch.Tensor) -> None:
    with np.load(idir / "clip_raw_33x360x480_uint8.npz") as d:
        raw = d["frames_rgb_uint8_THWC"]
    got = torch.stack([resize_short_side(frame) for frame in raw])
    assert torch.equal(got, resized_clip)


def test_sizes_crops_and_padding(idir: Path) -> None:
    rows = json.loads((idir / "crop_and_pad_offsets.json").read_text())
    assert len(rows) >= 13
    for row in rows:
        h, w = resized_size(*row["raw_HxW"])
        assert [h, w] == row["resized_HxW"], row["raw_HxW"]
        assert list(crop_origin(h, w)) == row["rgb_crop_top_left_in_resized"]
        pads = raft_padding(h, w)
        assert list(pads) == row["raft_pad_left_right_top_bottom(replicate)"]
        hp, wp = h + pads[2] + pads[3], w + pads[0] + pads[1]
        assert [hp, wp] == row["padded_HxW"]
        top, left = crop_origin(hp, wp)
        assert [top, left] == row["flow_crop_top_left_in_padded"]
        assert [top - pads[2], left - pads[0]] == row["flow_crop_top_left_in_resized_coords"]


@pytest.mark.parametrize("window", [0])
def test_rgb_window_input_exact(window: int, idir: Path, resized_clip: torch.Tensor) -> None:
    frames = resized_clip[window_pair_index(window + 1)[window]]  # frames 8k .. 8k+23
    x = rgb_to_input(frames)
    with np.load(idir / "rgb_window0_preprocessed_f32.npz") as d:
        want = torch.from_numpy(d["x"])
    assert x.shape == want.shape and x.dtype == torch.float32
    assert torch.equal(x, want)


def test_flow_quantisation_and_input_exact(idir: Path) -> None:
    with np.load(idir / "flow_field_and_preprocessed.npz") as d:
        field = torch.from_numpy(d["flow_field_padded_f32"])
        want_q = torch.from_numpy(d["flow_quantized_0_256_cropped"])
        want_x = torch.from_numpy(d["x"])
    x = flow_to_input(field)
    assert x.shape == want_x.shape and torch.equal(x, want_x)
    top, left = crop_origin(field.shape[-2], field.shape[-1])
    q = quantize_flow(field[..., top : top + 224, left : left + 224])
    assert torch.equal(q.to(torch.int16), want_q)
    # the planted boundary values (+-20, ties at .5) take the full 0..256 range
    assert int(want_q.min()) == 0 and int(want_q.max()) == 256


def test_flow_crop_comes_from_padded_field(idir: Path) -> None:
    """Guard: cropping the unpadded field instead (a natural 'fix') must not reproduce the input."""
    with np.load(idir / "flow_field_and_preprocessed.npz") as d:
        field = torch.from_numpy(d["flow_field_padded_f32"])
        want_x = torch.from_numpy(d["x"])
    left, right, _, _ = raft_padding(256, 341)
    unpadded = field[..., left : field.shape[-1] - right]
    assert not torch.equal(flow_to_input(unpadded), want_x)
