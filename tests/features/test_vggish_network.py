"""VGGish network parity with the official module, using the reference's random weights.

Tolerance: the reference README's "VGGish embeddings and I3D features: atol 1e-4"; the quantised
PCA output must be identical (the README observed it identical across thread counts).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from avlocate.errors import WeightsError
from avlocate.features.vggish.frontend import VGGishFrontendConfig, waveform_to_examples
from avlocate.features.vggish.network import VGGish, VGGishConfig
from avlocate.features.vggish.resample import to_vggish_waveform
from avlocate.features.vggish.weights import load_vggish, load_vggish_postprocessor
from avlocate.weights.checkpoint import read_state_dict, write_safetensors

ATOL = 1e-4
HOPS = {"hop096": 0.96, "hop032": 0.32}


@pytest.fixture(scope="module")
def vdir(reference_dir: Path) -> Path:
    return reference_dir / "extraction" / "vggish"


def _npz_state_dict(path: Path) -> dict[str, torch.Tensor]:
    with np.load(path) as d:  # float16 values are exact; cast to float32 as the README says
        return {k: torch.from_numpy(d[k]).float() if d[k].dtype.kind == "f" else torch.from_numpy(d[k]) for k in d.files}


@pytest.fixture(scope="module")
def model(vdir: Path) -> VGGish:
    return load_vggish(_npz_state_dict(vdir / "vggish_random_weights_f16.npz"))


@pytest.fixture(scope="module")
def emb(vdir: Path) -> dict[str, np.ndarray]:
    with np.load(vdir / "embeddings.npz") as d:
        return {k: d[k] for k in d.files}


def _examples(vdir: Path, case: str, hop: float) -> torch.Tensor:
    cfg = VGGishFrontendConfig(example_hop_s=hop)
    if case == "16k":
        with np.load(vdir / "frontend_16k_mono.npz") as d:
            wave16k = torch.from_numpy(d["wave_int16"].astype(np.float64) / 32768.0)
    else:
        version = {"44k_resampy022": "0.2.2", "44k_resampy043": "0.4"}[case]
        with np.load(vdir / "frontend_44k1_stereo.npz") as d:
            stereo = torch.from_numpy(d["wave_int16_stereo"].T.astype(np.float64) / 32768.0)
            wave16k = to_vggish_waveform(stereo, int(d["sample_rate"]), resampy_version=version)
    return waveform_to_examples(wave16k, cfg).float()


def _diff(a: torch.Tensor, b: np.ndarray) -> float:
    assert tuple(a.shape) == b.shape
    return float((a - torch.from_numpy(b)).abs().max())


def test_state_dict_layout_matches_public_checkpoint(vdir: Path) -> None:
    spec = json.loads((vdir / "state_dict_keys.json").read_text())
    ckpt = next(v for k, v in spec.items() if k.startswith("vggish_checkpoint"))
    own = VGGish().state_dict()
    assert [k for k, _ in ckpt] == list(own)
    assert all(list(own[k].shape) == shape for k, shape in ckpt)
    assert sum(v.numel() for v in own.values()) == spec["param_count_vgg"]


@pytest.mark.parametrize("case", ["16k", "44k_resampy022", "44k_resampy043"])
@pytest.mark.parametrize("hop", sorted(HOPS))
def test_embeddings_and_pca(case: str, hop: str, model: VGGish, vdir: Path, emb: dict[str, np.ndarray]) -> None:
    with torch.inference_mode():
        out = model(_examples(vdir, case, HOPS[hop]).unsqueeze(1))
    assert _diff(out, emb[f"emb_{case}_{hop}"]) <= ATOL
    official = f"official_extractor_{case}_{hop}"
    if official in emb:
        assert _diff(out, emb[official]) <= ATOL
    post = load_vggish_postprocessor(_npz_state_dict(vdir / "vggish_random_pca_params_f16.npz"))
    with torch.inference_mode():
        assert _diff(post.pca(out), emb[f"pca_prequant_{case}_{hop}"]) <= ATOL
        assert _diff(post(out), emb[f"pca_quantized_{case}_{hop}"]) == 0.0


def test_official_mp4_route(model: VGGish, vdir: Path) -> None:
    """What ExtractVGGish returned for the AAC .mp4, from the examples of the wav it decoded."""
    with np.load(vdir / "aac_route" / "results.npz") as d:
        for hop in HOPS:
            with torch.inference_mode():
                out = model(torch.from_numpy(d[f"examples_{hop}_f64"]))
            assert _diff(out, d[f"official_extractor_mp4_{hop}"]) <= ATOL, hop


def test_safetensors_and_pth_round_trip(tmp_path: Path, vdir: Path) -> None:
    # The file formats, not the network's size, are under test: VGGish at 1/16 width (the
    # published one would write 2 x 288 MB into the temporary folder).
    config = VGGishConfig(width_divisor=16)
    torch.manual_seed(4)
    model = VGGish(config).eval()
    sd = model.state_dict()
    write_safetensors(sd, tmp_path / "vggish.safetensors")
    torch.save(sd, tmp_path / "vggish.pth")
    x = torch.randn(2, 1, 96, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        want = model(x)
        for name in ("vggish.safetensors", "vggish.pth"):
            assert torch.equal(load_vggish(tmp_path / name, config)(x), want)
    with pytest.raises(WeightsError, match="of another shape"):  # never into the published network
        load_vggish(tmp_path / "vggish.safetensors")
    # The public PCA file stores the means as (128,): it must load too.
    pca = _npz_state_dict(vdir / "vggish_random_pca_params_f16.npz")
    pca["pca_means"] = pca["pca_means"].reshape(-1)
    torch.save(pca, tmp_path / "pca.pth")
    assert load_vggish_postprocessor(tmp_path / "pca.pth").pca_means.shape == (128, 1)


def test_bad_weights_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(WeightsError):
        read_state_dict(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError):
        read_state_dict(tmp_path / "junk.pth")
    with pytest.raises(WeightsError, match="VGGish"):
        load_vggish({"features.0.weight": torch.zeros(64, 1, 3, 3)})
