"""Parity of the VGGish front end with the official numpy/resampy code (reference/extraction/vggish).

Tolerance: the reference README's "log-mel and examples: atol 1e-6 against the float64 values";
the same bound is used for the resampled waveform (the official front end is float64 throughout).
"""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from avlocate.features.vggish.frontend import (
    ExampleStream,
    VGGishFrontendConfig,
    log_mel,
    mel_matrix,
    periodic_hann,
    stft_magnitude,
    waveform_to_examples,
)
from avlocate.features.vggish.resample import KaiserResampler, to_vggish_waveform

ATOL = 1e-6
VERSIONS = {"0.2.2": "resampy022", "0.4": "resampy043"}


@pytest.fixture(scope="module")
def vdir(reference_dir: Path) -> Path:
    return reference_dir / "extraction" / "vggish"


@pytest.fixture(scope="module")
def mono(vdir: Path) -> dict[str, np.ndarray]:
    with np.load(vdir / "frontend_16k_mono.npz") as d:
        return {k: d[k] for k in d.files}


@pytest.fixture(scope="module")
def stereo(vdir: Path) -> dict[str, np.ndarray]:
    with np.load(vdir / "frontend_44k1_stereo.npz") as d:
        return {k: d[k] for k in d.files}


def _max_diff(a: torch.Tensor, b: np.ndarray) -> float:
    assert tuple(a.shape) == b.shape, (tuple(a.shape), b.shape)
    return float((a.double() - torch.from_numpy(b).double()).abs().max()) if b.size else 0.0


def _read_wav(path: Path) -> tuple[torch.Tensor, int]:
    """16-bit PCM wav -> ((C, L) float64 = int16 / 32768, rate); stdlib only."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
        return torch.from_numpy(data.T.astype(np.float64) / 32768.0), w.getframerate()


def test_mono_wav_matches_npz(vdir: Path, mono: dict[str, np.ndarray]) -> None:
    samples, rate = _read_wav(vdir / "audio_16k_mono.wav")
    assert rate == int(mono["sample_rate"])
    assert _max_diff(samples[0], mono["wave_int16"].astype(np.float64) / 32768.0) == 0.0


def test_window_and_mel_matrix(mono: dict[str, np.ndarray]) -> None:
    assert _max_diff(periodic_hann(400), mono["periodic_hann_400"]) <= ATOL
    assert _max_diff(mel_matrix(), mono["mel_matrix_257x64"]) <= ATOL


def test_stft_logmel_examples_16k(mono: dict[str, np.ndarray]) -> None:
    wave16k = torch.from_numpy(mono["wave_int16"].astype(np.float64) / 32768.0)
    assert _max_diff(stft_magnitude(wave16k), mono["stft_mag_f64"]) <= ATOL
    assert _max_diff(log_mel(wave16k), mono["log_mel_f64"]) <= ATOL
    for hop, key in ((0.96, "examples_hop096_f64"), (0.32, "examples_hop032_f64")):
        ex = waveform_to_examples(wave16k, VGGishFrontendConfig(example_hop_s=hop))
        assert _max_diff(ex, mono[key]) <= ATOL, key


def test_default_hop_is_unav_032(mono: dict[str, np.ndarray]) -> None:
    wave16k = torch.from_numpy(mono["wave_f32"].astype(np.float64))
    assert waveform_to_examples(wave16k).shape == mono["examples_hop032_f64"].shape


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_44k1_stereo_route(version: str, vdir: Path, stereo: dict[str, np.ndarray]) -> None:
    samples, rate = _read_wav(vdir / "audio_44k1_stereo.wav")
    assert rate == int(stereo["sample_rate"])
    assert _max_diff(samples.mean(dim=0), stereo["mono_mean_f64"]) <= ATOL
    tag = VERSIONS[version]
    wave16k = to_vggish_waveform(samples, rate, resampy_version=version)
    assert _max_diff(wave16k, stereo[f"resampled16k_{tag}_f64"]) <= ATOL
    assert _max_diff(log_mel(wave16k), stereo[f"log_mel_{tag}_f64"]) <= ATOL
    for hop, key in ((0.96, f"examples_hop096_{tag}_f64"), (0.32, f"examples_hop032_{tag}_f64")):
        ex = waveform_to_examples(wave16k, VGGishFrontendConfig(example_hop_s=hop))
        assert _max_diff(ex, stereo[key]) <= ATOL, key


def test_streaming_resampler_equals_whole_signal(stereo: dict[str, np.ndarray]) -> None:
    mono = torch.from_numpy(stereo["mono_mean_f64"])
    want = torch.from_numpy(stereo["resampled16k_resampy022_f64"])
    resampler = KaiserResampler(int(stereo["sample_rate"]), 16000, version="0.2.2")
    sizes = [1000, 5, 1, 30000, 70000]
    parts = [resampler.push(chunk) for chunk in torch.split(mono, sizes + [mono.shape[0] - sum(sizes)])]
    parts.append(resampler.finish())
    got = torch.cat(parts)
    assert _max_diff(got, want.numpy()) <= ATOL
    assert resampler._buf.shape[0] < 1000  # only the filter's reach is kept, not the signal


@pytest.mark.parametrize("hop", [0.32, 0.96])
def test_example_stream_equals_whole_signal(hop: float, mono: dict[str, np.ndarray]) -> None:
    wave16k = torch.from_numpy(mono["wave_int16"].astype(np.float64) / 32768.0)
    key = "examples_hop032_f64" if hop == 0.32 else "examples_hop096_f64"
    stream = ExampleStream(VGGishFrontendConfig(example_hop_s=hop))
    sizes = [100, 15500, 1, 4999, 30000]
    parts = [stream.push(c) for c in torch.split(wave16k, sizes + [wave16k.shape[0] - sum(sizes)])]
    parts.append(stream.finish())
    assert _max_diff(torch.cat(parts), mono[key]) <= ATOL
    short = ExampleStream(VGGishFrontendConfig(pad_short=True))
    assert short.push(wave16k[:8000]).shape[0] == 0 and short.finish().shape[0] == 1


def test_resampy_versions_are_distinguishable(stereo: dict[str, np.ndarray]) -> None:
    # Guards the test above: each filter must miss the other version's output by far more than ATOL.
    samples = torch.from_numpy(stereo["wave_int16_stereo"].T.astype(np.float64) / 32768.0)
    old = to_vggish_waveform(samples, int(stereo["sample_rate"]), resampy_version="0.2.2")
    assert _max_diff(old, stereo["resampled16k_resampy043_f64"]) > 100 * ATOL


def test_aac_route_decoded_wav(vdir: Path) -> None:
    """The wav the official ADTS route decodes gives the official examples (resampy 0.4 run)."""
    samples, rate = _read_wav(vdir / "aac_route" / "official_route_decoded.wav")
    with np.load(vdir / "aac_route" / "results.npz") as ref:
        wave16k = to_vggish_waveform(samples, rate, resampy_version="0.4")
        for hop, key in ((0.96, "examples_hop096_f64"), (0.32, "examples_hop032_f64")):
            ex = waveform_to_examples(wave16k, VGGishFrontendConfig(example_hop_s=hop))
            assert _max_diff(ex, ref[key]) <= ATOL, key


def test_short_audio_never_crashes() -> None:
    cfg = VGGishFrontendConfig()
    for n in (0, 1, 239, 400, 10479, 15599):
        assert waveform_to_examples(torch.zeros(n), cfg).shape == (0, 96, 64)
    padded = VGGishFrontendConfig(pad_short=True)
    assert waveform_to_examples(torch.zeros(500), padded).shape == (1, 96, 64)
    assert waveform_to_examples(torch.zeros(0), padded).shape == (0, 96, 64)
