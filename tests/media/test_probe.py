"""probe(): stream facts of generated files in several containers."""
from __future__ import annotations

import math
from fractions import Fraction

import av
import numpy as np
import pytest

from avlocate.media import probe, write_av

from corpus import FAST, make_video, ramp_frames, tone


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - any failure means "not in this build"
        return False
    return True


def test_probe_h264_aac_mp4(av_mp4):
    info = probe(av_mp4)
    assert info.path == str(av_mp4)
    assert "mp4" in info.container
    assert info.has_video and info.video_codec == "h264"
    assert info.fps == Fraction(10) and isinstance(info.fps, Fraction)
    assert (info.width, info.height, info.rotation) == (64, 48, 0)
    assert info.num_frames == 20
    assert info.has_audio and info.audio_codec == "aac"
    assert (info.sample_rate, info.channels) == (44100, 2)
    assert info.duration == pytest.approx(2.0, abs=0.03)
    assert info.start_time == pytest.approx(0.0, abs=1e-6)


def test_probe_ntsc_rate_is_an_exact_fraction(tmp_path):
    path = write_av(tmp_path / "ntsc.mp4", ramp_frames(30), Fraction(30000, 1001), options=FAST)
    info = probe(path)
    assert info.fps == Fraction(30000, 1001)
    assert info.duration == pytest.approx(30 * 1001 / 30000, abs=1e-3)
    assert info.has_audio is False and info.audio_codec is None and info.sample_rate is None


@pytest.mark.parametrize("suffix", ["mkv", "mov"])
def test_probe_other_containers_h264(tmp_path, suffix):
    info = probe(make_video(tmp_path / f"clip.{suffix}", seconds=1.5, fps=12))
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.fps == Fraction(12)
    assert info.duration == pytest.approx(1.5, abs=0.05)
    assert (info.width, info.height) == (64, 48)


@pytest.mark.skipif(not (_has_encoder("libvpx-vp9") and _has_encoder("libopus")), reason="no vp9/opus encoder")
def test_probe_webm_vp9_opus(tmp_path):
    path = make_video(tmp_path / "clip.webm", seconds=1.0, fps=10, sample_rate=48000, codec="libvpx-vp9",
                      audio_codec="libopus", options={"deadline": "realtime", "cpu-used": "8"})
    info = probe(path)
    assert info.container.startswith("matroska")
    assert (info.video_codec, info.audio_codec) == ("vp9", "opus")
    assert info.sample_rate == 48000 and info.channels == 2
    assert info.fps == Fraction(10)
    assert info.duration == pytest.approx(1.0, abs=0.05)
    assert info.num_frames is None  # matroska declares no frame count


@pytest.mark.parametrize("suffix,codec,rate", [("m4a", "aac", 44100), ("wav", "pcm_s16le", 8000)])
def test_probe_audio_only(tmp_path, suffix, codec, rate):
    path = write_av(tmp_path / f"sound.{suffix}", None, 10, tone(440.0, 1.5, rate), rate, audio_codec=codec)
    info = probe(path)
    assert not info.has_video and info.video_codec is None and info.fps is None
    assert (info.width, info.height) == (0, 0)
    assert info.has_audio and info.audio_codec == codec and info.sample_rate == rate and info.channels == 1
    assert info.duration == pytest.approx(1.5, abs=0.05)


def test_probe_one_frame_duration_comes_from_the_frame(bad_inputs):
    info = probe(bad_inputs["one_frame"])
    assert info.num_frames == 1
    assert info.duration == pytest.approx(0.1, abs=1e-3)  # one period at 10 fps


def test_probe_large_frame_rate_and_size(tmp_path):
    frames = np.zeros((5, 90, 160, 3), np.uint8)
    info = probe(write_av(tmp_path / "f.mp4", frames, 50, options=FAST))
    assert (info.width, info.height, info.fps) == (160, 90, Fraction(50))


@pytest.mark.parametrize("suffix,fmt,acodec", [("h264", "h264", None), ("ts", None, "mp2")])
def test_streams_without_declared_duration(tmp_path, suffix, fmt, acodec):
    """Raw H.264 has no timestamps or duration at all; MPEG-TS has no duration field."""
    sound = tone(440.0, 2.0, 48000) if acodec else None
    path = write_av(tmp_path / f"raw.{suffix}", ramp_frames(20), 10, sound, 48000 if acodec else None,
                    audio_codec=acodec or "aac", options=FAST, format=fmt)
    info = probe(path)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    from avlocate.media import VideoSpec, open_clip

    video, _ = open_clip(path, VideoSpec(fps=10), None).read_all()
    assert video.shape[0] == 20
    # The TS muxer starts video a little after audio (B-frame delay): frame i is at delay + i/10
    # from the clip origin, so grid time k/10 shows the latest i with delay + i/10 <= k/10.
    with av.open(str(path)) as c:
        starts = [s.start_time * s.time_base for s in c.streams if s.start_time is not None]
        vs = c.streams.video[0]
        delay = float(vs.start_time * vs.time_base - min(starts)) if vs.start_time is not None else 0.0
    expected = [max(0, math.floor(round((k / 10 - delay) * 10, 6))) for k in range(20)]
    grey = video.double().mean(dim=(1, 2, 3)).numpy()
    assert np.abs(grey - 6.0 * np.array(expected)).max() < 3
