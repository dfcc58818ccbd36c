"""Bad inputs: each is an avlocate error with a one-line message naming the file, never a raw av error."""
from __future__ import annotations

import math

import numpy as np
import pytest

from avlocate.errors import AvlocateError, InputNotFoundError, MediaError
from avlocate.media import AudioSpec, VideoSpec, open_clip, probe

from corpus import make_video

EXPECTED = {
    "empty": (MediaError, "empty file"),
    "truncated": (MediaError, "not a readable video/audio file"),
    "text_as_mp4": (MediaError, "not a readable video/audio file"),
    "directory": (InputNotFoundError, "is a directory"),
    "missing": (InputNotFoundError, "no such file"),
}


def _check_message(err: AvlocateError, path) -> None:
    msg = str(err)
    assert "\n" not in msg and "\r" not in msg
    assert str(path) in msg
    assert "check" in msg or "pass" in msg  # says what to do


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_bad_inputs_raise_one_line_errors(bad_inputs, key):
    path = bad_inputs[key]
    cls, words = EXPECTED[key]
    for call in (lambda: probe(path), lambda: open_clip(path, VideoSpec(fps=10), AudioSpec(16000)),
                 lambda: open_clip(str(path), None, AudioSpec(16000))):
        with pytest.raises(cls) as info:
            call()
        assert words in str(info.value)
        _check_message(info.value, path)


def test_truncated_faststart_keeps_what_decoded(bad_inputs):
    path = bad_inputs["truncated_faststart"]
    declared = probe(path).duration
    clip = open_clip(path, VideoSpec(fps=10), AudioSpec(16000))
    video, audio = clip.read_all()
    assert 0 < clip.duration < declared - 1.0
    assert clip.warnings["video"].startswith("truncated at")
    assert video.shape[0] == math.floor(clip.duration * 10 + 1e-3) > 0
    assert audio.shape[0] == round(clip.duration * 16000)


def test_file_broken_after_open_fails_cleanly_during_chunks(tmp_path):
    """open_clip opens the file once and its first pass decodes that open file (issue #24); a later
    pass opens the path again and finds the text that replaced it: a MediaError, no raw error."""
    path = make_video(tmp_path / "later.mp4", seconds=1.0)
    clip = open_clip(path, VideoSpec(fps=10), AudioSpec(16000))
    text = tmp_path / "text.tmp"
    text.write_text("replaced by text\n")
    text.replace(path)  # a new file under the old name; the open one is still the video
    video, audio = clip.read_all()
    assert video.shape[0] == 10 and audio.shape[0] == 16000 and clip.warnings == {}
    with pytest.raises(MediaError) as info:
        list(clip.chunks())
    _check_message(info.value, path)


@pytest.mark.parametrize("seed", range(12))
def test_corrupted_bytes_never_leak_raw_errors(tmp_path, seed):
    """Random damage anywhere in a file: either it decodes (maybe with warnings) or a MediaError."""
    path = make_video(tmp_path / f"dmg{seed}.mp4", seconds=1.0, faststart=bool(seed % 2))
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(seed)
    start = int(rng.integers(0, len(data) - 600))
    data[start : start + 512] = rng.integers(0, 256, 512, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    try:
        clip = open_clip(path, VideoSpec(fps=10), AudioSpec(16000))
        video, audio = clip.read_all()
    except AvlocateError as err:
        _check_message(err, path)
        return
    assert video.shape[0] == max(1, math.floor(clip.duration * 10 + 1e-3))
    assert audio.shape[0] == round(clip.duration * 16000)


def test_random_bytes_named_mp4(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(MediaError) as info:
        probe(path)
    _check_message(info.value, path)


def test_open_clip_needs_a_spec(bad_inputs):
    with pytest.raises(ValueError):
        open_clip(bad_inputs["no_audio"], None, None)


def test_errors_carry_their_exit_codes(bad_inputs):
    with pytest.raises(MediaError) as info:
        probe(bad_inputs["empty"])
    assert info.value.exit_code == MediaError.exit_code
    with pytest.raises(InputNotFoundError) as info:
        probe(bad_inputs["missing"])
    assert info.value.exit_code == InputNotFoundError.exit_code
