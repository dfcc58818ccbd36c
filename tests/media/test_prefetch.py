"""Decoding ahead of the models (media/prefetch.py): every mode delivers the same chunks, errors
and truncation warnings come back from the worker, an early stop ends it, and decoding is counted."""
from __future__ import annotations

import multiprocessing
import time

import pytest
import torch

import corpus
from avlocate.errors import MediaError
from avlocate.media import AudioSpec, VideoSpec, open_clip
from avlocate.media.prefetch import MODES, default_mode

SPECS = (VideoSpec(fps=10, width=32, height=24), AudioSpec(16000))


def _read(path, mode, frames_per_chunk=7):
    clip = open_clip(path, *SPECS)
    clip.prefetch = mode
    chunks = list(clip.chunks(frames_per_chunk))
    return clip, chunks


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return corpus.make_video(tmp_path_factory.mktemp("prefetch") / "v.mp4", seconds=3.0)


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_every_mode_gives_the_chunks_of_inline_decoding(video, mode):
    _, inline = _read(video, "off")
    clip, other = _read(video, mode)
    assert len(other) == len(inline) > 1
    for a, b in zip(inline, other):
        assert torch.equal(a.frames, b.frames) and torch.equal(a.audio, b.audio)
        assert torch.equal(a.frame_times, b.frame_times)
        assert (a.first_frame, a.first_sample) == (b.first_frame, b.first_sample)
    assert clip.stats.frames == 30 and clip.stats.samples == 48000
    assert clip.stats.decode_seconds > 0 and clip.stats.wait_seconds >= 0


@pytest.mark.parametrize("mode", MODES)
def test_truncation_found_by_the_worker_reaches_the_clip(bad_inputs, mode):
    clip = open_clip(bad_inputs["truncated_faststart"], *SPECS)
    clip.prefetch = mode
    frames = sum(c.frames.shape[0] for c in clip.chunks(5))
    assert clip.warnings["video"].startswith("truncated at")
    assert frames == clip.num_frames and clip.duration < clip.info.duration


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_a_decoding_error_in_the_worker_is_raised_with_its_message(tmp_path, mode):
    messages = {}
    for m in ("off", mode):
        path = corpus.make_video(tmp_path / f"later_{m}.mp4", seconds=1.0)
        clip = open_clip(path, *SPECS)
        clip.prefetch = m
        list(clip.chunks())  # the first pass reads the container open_clip opened
        path.write_text("replaced by text\n")  # broken after it: the next pass opens it again and meets it
        with pytest.raises(MediaError) as info:
            list(clip.chunks())
        messages[m] = str(info.value).replace(f"later_{m}", "later")
        assert info.value.exit_code == MediaError.exit_code
    assert messages[mode] == messages["off"]


def test_stopping_early_ends_the_decoding_process(video):
    clip = open_clip(video, *SPECS)
    clip.prefetch = "process"
    before = set(multiprocessing.active_children())
    it = clip.chunks(2)
    next(it)
    workers = set(multiprocessing.active_children()) - before
    assert len(workers) == 1
    it.close()
    (worker,) = workers
    deadline = time.monotonic() + 5
    while worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not worker.is_alive()


def test_prefetch_mode_from_the_environment(monkeypatch):
    monkeypatch.setenv("AVLOCATE_PREFETCH", "thread")
    assert default_mode() == "thread"
    monkeypatch.setenv("AVLOCATE_PREFETCH", "sideways")
    with pytest.raises(Exception, match="AVLOCATE_PREFETCH"):
        default_mode()
