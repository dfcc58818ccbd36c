"""Audio: resampling, mono mixdown, alignment, totals, missing audio, audio-only files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from avlocate.errors import MediaError
from avlocate.media import AudioSpec, VideoSpec, decode_audio, open_clip, probe, write_av

from corpus import FAST, ramp_frames, tone


def _spectrum(x: torch.Tensor, sr: int) -> tuple[np.ndarray, np.ndarray]:
    a = x.numpy().astype(np.float64)
    mag = np.abs(np.fft.rfft(a * np.hanning(a.shape[0])))
    return np.fft.rfftfreq(a.shape[0], 1 / sr), mag


def _magnitude_at(x: torch.Tensor, sr: int, freq: float) -> float:
    f, mag = _spectrum(x, sr)
    band = (f > freq - 15) & (f < freq + 15)
    return float(mag[band].max())


def _peak_frequency(x: torch.Tensor, sr: int) -> float:
    f, mag = _spectrum(x, sr)
    return float(f[np.argmax(mag)])


def test_stereo_44k_to_16k_mono_mixes_both_channels(tmp_path):
    stereo = np.stack([tone(440.0, 2.0, 44100), tone(1000.0, 2.0, 44100)])
    path = write_av(tmp_path / "st.mp4", ramp_frames(20), 10, stereo, 44100, options=FAST)
    clip = open_clip(path, VideoSpec(fps=10), AudioSpec(16000))
    _, audio = clip.read_all()
    assert audio.dtype == torch.float32 and audio.ndim == 1
    assert audio.shape[0] == round(clip.duration * 16000) == 32000
    assert float(audio.abs().max()) <= 1.0
    left, right = _magnitude_at(audio, 16000, 440.0), _magnitude_at(audio, 16000, 1000.0)
    assert left > 0 and right > 0 and 0.7 < left / right < 1.4  # both channels, equal weight
    assert clip.warnings == {}


def test_surround_48k_5_1_to_16k(tmp_path):
    sr = 48000
    x = np.zeros((6, 2 * sr), np.float32)  # FL FR FC LFE BL BR
    x[0] = tone(1000.0, 2.0, sr)
    x[2] = tone(440.0, 2.0, sr)
    path = write_av(tmp_path / "surround.wav", None, 10, x, sr, audio_codec="pcm_s16le")
    assert probe(path).channels == 6
    audio = decode_audio(path, AudioSpec(16000))
    assert audio.shape[0] == 32000
    assert _magnitude_at(audio, 16000, 440.0) > 0.1 * _magnitude_at(audio, 16000, 1000.0)
    assert _magnitude_at(audio, 16000, 1000.0) > 0.1 * _magnitude_at(audio, 16000, 440.0)
    quiet = _magnitude_at(audio, 16000, 3000.0)
    assert _magnitude_at(audio, 16000, 440.0) > 50 * quiet


@pytest.mark.parametrize("src_rate,dst_rate,freq", [(8000, 16000, 1000.0), (44100, 22050, 3000.0), (48000, 16000, 440.0)])
def test_tone_frequency_survives_resampling(tmp_path, src_rate, dst_rate, freq):
    path = write_av(tmp_path / "t.wav", None, 10, tone(freq, 1.5, src_rate), src_rate, audio_codec="pcm_s16le")
    audio = decode_audio(path, AudioSpec(dst_rate))
    assert audio.shape[0] == round(1.5 * dst_rate)
    assert _peak_frequency(audio, dst_rate) == pytest.approx(freq, abs=2.0)
    # amplitude kept (mono in, mono out): RMS of a 0.5 sine is 0.354
    assert float(audio[100:-100].pow(2).mean().sqrt()) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_loud_stereo_mixdown_is_the_channel_mean_not_clipped(tmp_path):
    sr = 16000
    x = np.stack([tone(440.0, 1.0, sr, 0.9), tone(440.0, 1.0, sr, 0.9)])
    audio = decode_audio(write_av(tmp_path / "loud.wav", None, 10, x, sr, audio_codec="pcm_s16le"), AudioSpec(sr))
    assert float(audio.abs().max()) == pytest.approx(0.9, abs=0.01)


@pytest.mark.parametrize("suffix,codec", [("wav", "pcm_s16le"), ("mp4", "aac")])
def test_audio_is_aligned_to_the_clip_origin(tmp_path, suffix, codec):
    sr = 16000
    x = np.zeros(2 * sr, np.float32)
    x[sr:] = tone(1000.0, 1.0, sr, 0.8)  # silence, then a tone from 1.000 s
    frames = ramp_frames(20) if suffix == "mp4" else None
    path = write_av(tmp_path / f"onset.{suffix}", frames, 10, x, sr, audio_codec=codec, options=FAST if frames is not None else None)
    audio = decode_audio(path, AudioSpec(sr))
    onset = int(np.argmax(audio.abs().numpy() > 0.2))
    assert abs(onset - sr) < 0.01 * sr  # within 10 ms, AAC priming included


def test_short_audio_is_padded_to_the_clip_duration(tmp_path):
    sr = 16000
    path = write_av(tmp_path / "short_audio.mp4", ramp_frames(30), 10, tone(440.0, 1.0, sr), sr, options=FAST)
    clip = open_clip(path, VideoSpec(fps=10), AudioSpec(sr))
    video, audio = clip.read_all()
    assert clip.duration == pytest.approx(3.0, abs=0.01)
    assert video.shape[0] == 30 and audio.shape[0] == round(clip.duration * sr)
    assert float(audio[: sr // 2].abs().max()) > 0.3
    assert float(audio[round(1.1 * sr):].abs().max()) == 0.0
    assert clip.warnings["audio"].startswith("stream ends at")


def test_short_video_repeats_its_last_frame(tmp_path):
    sr = 16000
    path = write_av(tmp_path / "short_video.mp4", ramp_frames(10), 10, tone(440.0, 2.0, sr), sr, options=FAST)
    clip = open_clip(path, VideoSpec(fps=10), AudioSpec(sr))
    video, audio = clip.read_all()
    assert video.shape[0] == 20 and audio.shape[0] == 2 * sr
    grey = video.double().mean(dim=(1, 2, 3))
    assert torch.allclose(grey[10:], torch.full((10,), 54.0, dtype=torch.float64), atol=3)
    assert "video" in clip.warnings and "audio" not in clip.warnings


@pytest.mark.parametrize("rate,seconds", [(16000, 2.0), (22050, 1.3), (44100, 0.7), (11025, 1.1)])
def test_audio_total_is_round_duration_times_rate(tmp_path, rate, seconds):
    path = write_av(tmp_path / "a.mp4", ramp_frames(round(seconds * 10)), 10, tone(330.0, seconds, 48000), 48000, options=FAST)
    clip = open_clip(path, VideoSpec(fps=10), AudioSpec(rate))
    _, audio = clip.read_all()
    assert audio.shape[0] == round(clip.duration * rate) == clip.num_samples


def test_missing_audio_is_silence_with_a_warning(bad_inputs):
    clip = open_clip(bad_inputs["no_audio"], VideoSpec(fps=10), AudioSpec(16000))
    video, audio = clip.read_all()
    assert clip.warnings == {"audio": "missing"}
    assert audio.shape[0] == round(clip.duration * 16000) == 32000
    assert float(audio.abs().max()) == 0.0
    assert video.shape[0] == 20
    # audio-only request on the same file: silence too, streamed in pieces
    clip = open_clip(bad_inputs["no_audio"], None, AudioSpec(8000))
    pieces = [c.audio.shape[0] for c in clip.chunks(audio_chunk_seconds=0.5)]
    assert sum(pieces) == 16000 and max(pieces) <= 4000
    assert clip.warnings == {"audio": "missing"}
    with pytest.raises(MediaError, match="no audio stream"):
        decode_audio(bad_inputs["no_audio"], AudioSpec(8000), strict=True)


def test_audio_only_file(bad_inputs):
    path = bad_inputs["audio_only"]
    with pytest.raises(MediaError, match="has no video stream"):
        open_clip(path, VideoSpec(fps=10), AudioSpec(16000))
    clip = open_clip(path, None, AudioSpec(16000))
    chunks = list(clip.chunks(audio_chunk_seconds=0.5))
    assert all(c.frames.shape[0] == 0 for c in chunks)
    starts = [c.first_sample for c in chunks]
    lengths = [c.audio.shape[0] for c in chunks]
    assert starts == list(np.cumsum([0] + lengths[:-1]))
    assert sum(lengths) == round(clip.duration * 16000)
    assert _peak_frequency(torch.cat([c.audio for c in chunks]), 16000) == pytest.approx(440.0, abs=2.0)
    assert clip.warnings == {}


def test_audio_spec_validation():
    for bad in (0, -16000, 16000.5):
        with pytest.raises(ValueError):
            AudioSpec(bad)


@pytest.mark.parametrize("suffix", ["mp4", "mkv"])
def test_late_audio_track_is_placed_at_its_timestamp(tmp_path, suffix):
    sr = 16000
    path = write_av(tmp_path / f"late.{suffix}", ramp_frames(20), 10, tone(1000.0, 1.0, sr, 0.8), sr,
                    options=FAST, audio_start=0.5)
    clip = open_clip(path, VideoSpec(fps=10), AudioSpec(sr))
    video, audio = clip.read_all()
    assert video.shape[0] == 20 and audio.shape[0] == 2 * sr
    onset = int(np.argmax(audio.abs().numpy() > 0.2))
    assert abs(onset - sr // 2) < 0.01 * sr
