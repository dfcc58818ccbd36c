"""Video frames: timestamp-based selection (CFR and VFR), counts, rotation, resizing."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from avlocate.media import AudioSpec, VideoSpec, frame_count, iter_video_frames, open_clip, probe, write_av
from avlocate.media.video import GridSelector

from corpus import FAST, make_video

PALETTE = np.array(
    [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255], [255, 255, 255], [0, 0, 0]],
    dtype=np.uint8,
)


def _colour_index(frame: torch.Tensor) -> int:
    mean = frame.double().mean(dim=(0, 1)).numpy()
    return int(np.argmin(((PALETTE.astype(float) - mean) ** 2).sum(axis=1)))


def _expected_index(times: list[float], t: float) -> int:
    """The rule, written out naively: latest frame with time <= t, else the first frame."""
    chosen = [i for i, ti in enumerate(times) if ti <= t + 1e-9]
    return chosen[-1] if chosen else 0


@pytest.mark.parametrize("suffix", ["mp4", "mkv"])
@pytest.mark.parametrize("out_fps", [10, 20, 7])
def test_vfr_frames_are_chosen_by_timestamp(tmp_path, suffix, out_fps):
    times = [0.0, 0.1, 0.15, 0.7, 1.0, 1.05, 1.5]  # irregular: gaps of 50 ms up to 550 ms
    frames = np.stack([np.broadcast_to(PALETTE[i], (32, 32, 3)) for i in range(len(times))])
    path = write_av(tmp_path / f"vfr.{suffix}", frames, 10, frame_times=times, options=FAST)
    info = probe(path)
    assert info.duration == pytest.approx(1.6, abs=1e-3)  # last frame + one nominal period

    clip = open_clip(path, VideoSpec(fps=out_fps), None)
    video, _ = clip.read_all()
    assert video.shape[0] == math.floor(1.6 * out_fps + 1e-3)
    got = [_colour_index(f) for f in video]
    want = [_expected_index(times, k / out_fps) for k in range(video.shape[0])]
    assert got == want


def test_cfr_upsampling_and_downsampling_follow_the_grid(av_mp4):
    # av_mp4: 20 frames at 10 fps, grey level 6 * i in frame i.
    for out_fps in (25, 4, 10):
        clip = open_clip(av_mp4, VideoSpec(fps=out_fps), None)
        video, _ = clip.read_all()
        assert video.shape[0] == frame_count(2.0, out_fps) == math.floor(2.0 * out_fps)
        grey = video.double().mean(dim=(1, 2, 3))
        expected = torch.tensor([6.0 * math.floor(k * 10 / out_fps + 1e-9) for k in range(video.shape[0])], dtype=torch.float64)
        assert torch.allclose(grey, expected, atol=3.0), (out_fps, grey, expected)


def test_chunks_carry_grid_times_and_indices(av_mp4):
    clip = open_clip(av_mp4, VideoSpec(fps=Fraction(30000, 1001)), None)
    seen = 0
    for chunk in clip.chunks(frames_per_chunk=16):
        n = chunk.frames.shape[0]
        assert chunk.first_frame == seen and n <= 16
        expected = torch.arange(seen, seen + n, dtype=torch.float64) * 1001 / 30000
        assert chunk.frame_times.dtype == torch.float64
        assert torch.allclose(chunk.frame_times, expected, atol=1e-12)
        assert chunk.frames.dtype == torch.uint8 and chunk.frames.shape[1:] == (48, 64, 3)
        seen += n
    assert seen == clip.num_frames == math.floor(2.0 * 30000 / 1001)


def test_one_frame_video(bad_inputs):
    for out_fps, expected in ((10, 1), (5, 1), (25, 2)):  # floor(0.1 * fps), at least one
        clip = open_clip(bad_inputs["one_frame"], VideoSpec(fps=out_fps), None)
        video, _ = clip.read_all()
        assert video.shape[0] == expected
        assert clip.warnings == {}


def _marker_file(tmp_path, rotation: int):
    """Coded 64x32 (W x H) frame, red 16x16 block in the coded top-left corner."""
    frame = np.zeros((32, 64, 3), np.uint8)
    frame[:16, :16] = (255, 0, 0)
    return write_av(tmp_path / f"rot{rotation}.mp4", np.stack([frame] * 3), 10, rotation=rotation, options=FAST)


def _red_corner(frame: torch.Tensor) -> str:
    h, w = frame.shape[:2]
    red = frame[..., 0].double()
    corners = {
        "top-left": red[: h // 4, : w // 4].mean(),
        "top-right": red[: h // 4, -w // 4 :].mean(),
        "bottom-left": red[-h // 4 :, : w // 4].mean(),
        "bottom-right": red[-h // 4 :, -w // 4 :].mean(),
    }
    return max(corners, key=corners.get)


# Clockwise turns of the coded picture: its top-left corner moves to ...
@pytest.mark.parametrize(
    "rotation,corner,shape",
    [(0, "top-left", (32, 64)), (90, "top-right", (64, 32)), (180, "bottom-right", (32, 64)), (270, "bottom-left", (64, 32))],
)
def test_rotation_metadata_is_applied(tmp_path, rotation, corner, shape):
    path = _marker_file(tmp_path, rotation)
    info = probe(path)
    assert info.rotation == rotation
    assert (info.height, info.width) == shape
    video, _ = open_clip(path, VideoSpec(fps=10), None).read_all()
    assert video.shape == (3, *shape, 3)
    assert _red_corner(video[0]) == corner


@pytest.mark.parametrize("rotation,corner", [(90, "top-right"), (270, "bottom-left")])
def test_rotation_is_found_and_applied_by_one_open(tmp_path, av_opens, rotation, corner):
    """open_clip opens the file once: the probe decodes the first frame for its display matrix on
    the container the decoder then reads on (issue #24). 60 frames: the first decoded frame comes
    well before the end even with 16 frame threads."""
    frame = np.zeros((32, 64, 3), np.uint8)
    frame[:16, :16] = (255, 0, 0)
    path = write_av(tmp_path / f"long_rot{rotation}.mp4", np.stack([frame] * 60), 10, rotation=rotation, options=FAST)
    opened = av_opens
    opened.clear()  # writing the file opened it too: count from here
    clip = open_clip(path, VideoSpec(fps=10), None)
    assert clip.info.rotation == rotation and (clip.info.width, clip.info.height) == (32, 64)
    video, _ = clip.read_all()
    assert opened == [str(path)]
    assert video.shape == (60, 64, 32, 3)
    assert {_red_corner(f) for f in video} == {corner}


def test_rotation_with_resize_refers_to_the_upright_picture(tmp_path):
    path = _marker_file(tmp_path, 90)  # upright: 32 wide, 64 high
    video, _ = open_clip(path, VideoSpec(fps=10, shorter_side=16), None).read_all()
    assert video.shape[1:] == (32, 16, 3)
    assert _red_corner(video[0]) == "top-right"
    video, _ = open_clip(path, VideoSpec(fps=10, width=20, height=30), None).read_all()
    assert video.shape[1:] == (30, 20, 3)


def test_resize_exact_and_shorter_side(tmp_path):
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :32] = (0, 255, 0)  # left half green
    path = write_av(tmp_path / "half.mp4", np.stack([frame] * 4), 10, options=FAST)
    video, _ = open_clip(path, VideoSpec(fps=10, width=32, height=24), None).read_all()
    assert video.shape == (4, 24, 32, 3)
    green = video[0, :, :, 1].double()
    assert green[:, :14].mean() > 200 and green[:, 18:].mean() < 40
    video, _ = open_clip(path, VideoSpec(fps=10, shorter_side=24), None).read_all()
    assert video.shape == (4, 24, 32, 3)
    video, _ = open_clip(path, VideoSpec(fps=10, shorter_side=96), None).read_all()
    assert video.shape == (4, 96, 128, 3)
    video, _ = open_clip(path, VideoSpec(fps=10), None).read_all()
    assert video.shape == (4, 48, 64, 3)


def test_portrait_shorter_side(tmp_path):
    path = make_video(tmp_path / "portrait.mp4", seconds=0.5, width=48, height=64, audio=False)
    video, _ = open_clip(path, VideoSpec(fps=10, shorter_side=24), None).read_all()
    assert video.shape == (5, 32, 24, 3)


def test_iter_video_frames(av_mp4):
    items = list(iter_video_frames(av_mp4, VideoSpec(fps=5, shorter_side=24), frames_per_chunk=3))
    assert [t for t, _ in items] == pytest.approx([k / 5 for k in range(10)])
    assert all(f.shape == (24, 32, 3) for _, f in items)


def test_video_spec_validation():
    for bad in (dict(fps=0), dict(fps=10, width=32), dict(fps=10, width=32, height=32, shorter_side=8), dict(fps=10, shorter_side=0)):
        with pytest.raises(ValueError):
            VideoSpec(**bad)


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=40),
    start=st.integers(min_value=0, max_value=300),
    fps=st.sampled_from([Fraction(1), Fraction(7), Fraction(10), Fraction(25), Fraction(30000, 1001)]),
)
def test_grid_selector_matches_the_naive_rule(gaps, start, fps):
    times = [Fraction(start, 1000)]
    for g in gaps[:-1]:
        times.append(times[-1] + Fraction(g, 1000))
    end = times[-1] + Fraction(gaps[-1], 1000)
    total = frame_count(float(end), fps)
    sel = GridSelector(fps, total)
    chosen: list[int] = []
    for i, t in enumerate(times):
        n = sel.push(t)
        chosen += [max(i - 1, 0)] * n
    chosen += [len(times) - 1] * sel.remaining(total)
    naive = [max([i for i, t in enumerate(times) if t <= Fraction(k) / fps] or [0]) for k in range(total)]
    assert chosen == naive


def test_late_video_track_keeps_its_timestamps(tmp_path):
    """Video starting 0.5 s after the audio: the clip origin is the audio start; frames before
    the first video frame repeat it, and every later frame sits at its own timestamp."""
    sr = 16000
    times = [0.5 + k / 10 for k in range(10)]
    frames = np.stack([np.broadcast_to(PALETTE[k % 8], (32, 32, 3)) for k in range(10)])
    audio = np.full(round(1.5 * sr), 0.1, np.float32)
    path = write_av(tmp_path / "late_video.mkv", frames, 10, audio, sr, frame_times=times, options=FAST)
    info = probe(path)
    assert info.start_time == pytest.approx(0.0, abs=1e-3)
    assert info.duration == pytest.approx(1.5, abs=0.08)  # mkv counts AAC's last padded block
    video, _ = open_clip(path, VideoSpec(fps=10), AudioSpec(sr)).read_all()
    assert video.shape[0] == frame_count(info.duration, 10) >= 15
    got = [_colour_index(f) for f in video]
    assert got == [_expected_index(times, k / 10) % 8 for k in range(video.shape[0])]


def test_legacy_rotate_tag_is_read_when_there_is_no_display_matrix():
    """FFmpeg >= 6 muxers no longer write the old ``rotate`` tag (checked: PyAV drops it), so this
    fallback is tested on stand-ins for the container and stream."""
    from types import SimpleNamespace

    from avlocate.media.probe import _rotation

    container = SimpleNamespace(demux=lambda stream: iter(()))
    for tag, expected in (("90", 90), ("-90", 270), ("180", 180), ("0", 0), ("bogus", 0)):
        assert _rotation(container, SimpleNamespace(metadata={"rotate": tag}))[0] == expected
