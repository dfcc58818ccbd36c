"""Failures found by fuzzing (test_fuzz.py), kept as regular tests."""
from __future__ import annotations

import math
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from avlocate.errors import MediaError
from avlocate.media import AudioSpec, VideoSpec, open_clip
from avlocate.media.audio import AudioAssembler

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "media"))
from corpus import make_video  # noqa: E402


def _frame(rate: int, layout: str, n: int, pts: int) -> av.AudioFrame:
    channels = 2 if layout == "stereo" else 1
    frame = av.AudioFrame.from_ndarray(np.full((channels, n), 0.25, dtype=np.float32), format="fltp", layout=layout)
    frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
    return frame


def test_audio_whose_rate_and_layout_change_midway_is_resampled_not_a_crash():
    """Was: ValueError "Frame does not match AudioResampler setup" out of the media layer."""
    asm = AudioAssembler(16000, Fraction(0), max_samples=10**6)
    asm.add(_frame(16000, "mono", 16000, 0))  # 1 s at 16 kHz mono
    asm.add(_frame(44100, "stereo", 44100, 44100))  # then 1 s at 44.1 kHz stereo
    asm.add(None)
    audio, first = asm.take()
    assert first == 0 and abs(audio.shape[0] - 32000) <= 64  # both seconds, at the output rate
    assert np.abs(audio[20000:30000] - audio[20000]).max() < 0.05 and audio[20000] > 0.1  # the 2nd part is sound


def test_joined_ts_segments_with_different_audio_decode(tmp_path):
    first = make_video(tmp_path / "a.ts", seconds=1.0, sample_rate=16000, channels=1, format="mpegts")
    second = make_video(tmp_path / "b.ts", seconds=1.0, sample_rate=44100, channels=2, format="mpegts")
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    clip = open_clip(joined, VideoSpec(fps=8), AudioSpec(16000))
    video, audio = clip.read_all()
    assert video.shape[0] >= 8 and audio.shape[0] == round(clip.duration * 16000)
    assert float(audio[-2000:].abs().max()) > 0.1  # the second segment's tone is there, not silence


def test_padding_is_not_eaten_by_a_pending_skip():
    """Was: a truncated mkv whose audio began 32 ms before the clip origin and ended before it gave
    792 audio samples instead of round(duration * rate) = 1088 (the padding went into the skip)."""
    asm = AudioAssembler(16000, Fraction(32, 1000), max_samples=10**6)  # origin 0.032 s
    asm.add(_frame(16000, "mono", 216, 0))  # 13.5 ms of sound, all before the origin
    asm.add(None)
    asm.pad_to(1088)
    audio, first = asm.take()
    assert first == 0 and audio.shape[0] == 1088 and not audio.any()


def test_silence_after_an_early_audio_end_streams_in_bounded_pieces(tmp_path):
    """Was: the padding of the whole missing audio came in the last chunk at once (3 GB for a
    damaged TS whose timestamps claimed 14 h). Here: 1 s of sound, then a picture every 50 s up to
    1 h (a gap of 50 s is below the mkv discontinuity bound, media/timeline.py: the hour is real)."""
    times = [i / 10 for i in range(10)] + [50.0 * k for k in range(1, 73)]
    from avlocate.media.encode import write_av
    from corpus import FAST, ramp_frames, tone

    path = write_av(tmp_path / "gap.mkv", ramp_frames(len(times)), 10, tone(440.0, 1.1, 16000), 16000,
                    frame_times=times, format="matroska", options=FAST)
    clip = open_clip(path, VideoSpec(fps=2, shorter_side=24), AudioSpec(16000))
    frames = samples = largest = 0
    for chunk in clip.chunks(frames_per_chunk=64, audio_chunk_seconds=10.0):
        frames += chunk.frames.shape[0]
        samples += chunk.audio.shape[0]
        largest = max(largest, chunk.audio.shape[0])
    assert clip.duration > 3600 and samples == round(clip.duration * 16000)
    assert largest <= 40 * 16000  # a chunk's worth (32 s of frames at 2 fps) plus the 10-s pieces, not an hour


def test_truncated_clip_covers_every_frame_it_handed_out(tmp_path):
    """Was: a cut file whose last decoded frame filled a grid slot reaching past the truncation
    point gave floor(duration * fps) + 1 frames. Frames here sit 32 ms off the 8-fps grid."""
    times = [0.032 + i / 10 for i in range(20)]
    full = make_video(tmp_path / "full.mp4", seconds=2.0, fps=10, sample_rate=16000, channels=1,
                      frame_times=times, faststart=True)
    data = full.read_bytes()
    truncated = 0
    for percent in range(30, 96, 3):
        cut = tmp_path / f"cut{percent}.mp4"
        cut.write_bytes(data[: len(data) * percent // 100])
        try:
            clip = open_clip(cut, VideoSpec(fps=8), AudioSpec(16000))
            video, audio = clip.read_all()
        except MediaError:
            continue
        truncated += "video" in clip.warnings
        assert video.shape[0] == max(1, math.floor(clip.duration * 8 + 1e-3)), (percent, clip.duration)
        assert audio.shape[0] == round(clip.duration * 16000)
    assert truncated >= 5


def test_a_far_first_audio_timestamp_does_not_allocate_the_gap():
    """Was: the silence before a first audio frame stamped hours late was made as one array
    (5.7 GB for a damaged TS, found by fuzzing). Now it is a count, made as it is taken."""
    import tracemalloc

    asm = AudioAssembler(16000, Fraction(0), max_samples=10**10)
    tracemalloc.start()
    try:
        asm.add(_frame(16000, "mono", 1600, 3600 * 16000))  # first audio frame at 1 h
        first_piece, first = asm.take(limit=160_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20  # not the 230 MB of an hour of silence
    assert first == 0 and first_piece.shape[0] == 160_000 and not first_piece.any()
    assert asm.queued == 3600 * 16000 + 1600 - 160_000
