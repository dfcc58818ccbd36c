"""I3D network parity with video_features' ``i3d_net.py`` using the reference random weights.

Tolerance: the README's "VGGish embeddings and I3D features: atol 1e-4" (features up to ~0.7).
The README gives no bound for intermediate outputs, whose values reach ~10: they are compared at
1e-4 times their largest magnitude (at least 1e-4), i.e. the same relative precision.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from avlocate.features.i3d.net import I3D, I3DConfig
from avlocate.features.i3d.preprocess import rgb_to_input
from avlocate.features.i3d.weights import load_i3d
from avlocate.features.i3d.windows import window_pair_index
from avlocate.weights.checkpoint import write_safetensors

ATOL = 1e-4


@pytest.fixture(scope="module")
def idir(reference_dir: Path) -> Path:
    return reference_dir / "extraction" / "i3d"


def _npz_state_dict(path: Path) -> dict[str, torch.Tensor]:
    with np.load(path) as d:
        return {k: torch.from_numpy(d[k]).float() if d[k].dtype.kind == "f" else torch.from_numpy(d[k]) for k in d.files}


@pytest.fixture(scope="module")
def official(idir: Path) -> dict[str, I3D]:
    """The published I3D of each stream with the reference's random weights, loaded once."""
    return {m: load_i3d(_npz_state_dict(idir / f"i3d_{m}_random_weights_f16.npz"), m) for m in ("rgb", "flow")}


@pytest.fixture(scope="module")
def results(idir: Path) -> dict[str, np.ndarray]:
    with np.load(idir / "results.npz") as d:
        return {k: d[k] for k in d.files}


def _inputs(idir: Path) -> dict[str, torch.Tensor]:
    with np.load(idir / "clip_resized_uint8.npz") as d:
        clip = torch.from_numpy(d["resized_TCHW_uint8"])
    idx = window_pair_index(2)
    with np.load(idir / "flow_field_and_preprocessed.npz") as d:
        flow_x = torch.from_numpy(d["x"])
    return {"rgb_w0": rgb_to_input(clip[idx[0]]), "rgb_w1": rgb_to_input(clip[idx[1]]), "flow": flow_x}


@pytest.mark.parametrize("modality", ["rgb", "flow"])
def test_state_dict_layout(modality: str, idir: Path) -> None:
    spec = json.loads((idir / "state_dict_keys.json").read_text())[modality]
    model = I3D(I3DConfig(modality=modality))
    own = model.state_dict()
    assert [k for k, _, _ in spec["keys"]] == list(own)
    assert all(list(own[k].shape) == shape for k, shape, _ in spec["keys"])
    trainable = sum(p.numel() for p in model.parameters())
    logits = sum(p.numel() for p in model.conv3d_0c_1x1.parameters())
    assert trainable == spec["num_params_trainable"]
    assert trainable - logits == spec["num_params_without_logits"]


@pytest.mark.parametrize("case", ["rgb_w0", "rgb_w1", "flow"])
def test_features_logits_and_blocks(case: str, idir: Path, official: dict[str, I3D],
                                    results: dict[str, np.ndarray]) -> None:
    model = official["flow" if case == "flow" else "rgb"]
    shapes = json.loads((idir / "layer_shapes_T24.json").read_text())[case]
    with torch.inference_mode():
        blocks = model.blocks(_inputs(idir)[case])
        feat = blocks["avg_pool"].flatten(2).mean(dim=2)
        logits = model.conv3d_0c_1x1(blocks["avg_pool"]).flatten(2).mean(dim=2)

    def close(got: torch.Tensor, key: str) -> None:
        want = torch.from_numpy(results[key])
        assert got.shape == want.shape, key
        bound = ATOL * max(1.0, float(want.abs().max()))
        assert float((got - want).abs().max()) <= bound, key

    close(feat, f"feat_{case}")
    close(logits, f"logits_{case}")
    close(blocks["mixed_5c"], f"mixed_5c_out_{case}")
    close(blocks["avg_pool"], f"avg_pool_out_{case}")
    close(blocks["conv3d_1a_7x7"][:, :1], f"conv3d_1a_7x7_out_{case}_first_channel")
    for name, stats in shapes.items():
        assert list(blocks[name].shape) == stats["shape"], name
        assert abs(float(blocks[name].mean()) - stats["mean"]) <= ATOL * max(1.0, stats["absmax"]), name


def test_forward_is_the_feature_path(idir: Path, official: dict[str, I3D], results: dict[str, np.ndarray]) -> None:
    model = official["flow"]
    with torch.inference_mode():
        feat = model(_inputs(idir)["flow"])
    assert float((feat - torch.from_numpy(results["feat_flow"])).abs().max()) <= ATOL


def test_checkpoint_without_num_batches_tracked(tmp_path: Path, idir: Path) -> None:
    sd = _npz_state_dict(idir / "i3d_rgb_random_weights_f16.npz")
    old_style = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    assert len(sd) - len(old_style) == 57
    torch.save(old_style, tmp_path / "i3d_rgb.pt")
    write_safetensors(sd, tmp_path / "i3d_rgb.safetensors")
    a = load_i3d(tmp_path / "i3d_rgb.pt", "rgb").state_dict()
    b = load_i3d(tmp_path / "i3d_rgb.safetensors", "rgb").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if not k.endswith("num_batches_tracked"))
