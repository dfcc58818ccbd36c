"""chunks(): one demux pass over both streams, bounded memory, consistent totals."""
from __future__ import annotations

import gc
import importlib
import math
import tracemalloc

import numpy as np
import pytest

from avlocate.media import AudioSpec, VideoSpec, open_clip

from corpus import FAST, tone
from avlocate.media import write_av

probe_mod = importlib.import_module("avlocate.media.probe")  # the package binds `probe` to the function


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """16 s at 25 fps, 160x120 (400 frames = 23 MB as RGB), with 16 kHz audio."""
    n, h, w = 400, 120, 160
    levels = (np.arange(n) % 200).astype(np.uint8)

    def frames():
        for level in levels:
            yield np.full((h, w, 3), level, np.uint8)

    path = tmp_path_factory.mktemp("long") / "long.mp4"
    return write_av(path, frames(), 25, tone(440.0, n / 25, 16000), 16000, options=FAST)


class _CountingContainer:
    """Wraps a PyAV input container to count demux calls and packets read."""

    def __init__(self, inner):
        self.inner = inner
        self.demux_calls: list[list] = []
        self.packets = 0

    def demux(self, *args, **kwargs):
        # Record types now: PyAV stream objects must not be touched after the container closes.
        self.demux_calls.append(sorted(s.type for s in args[0]) if args else [])

        def gen():
            for packet in self.inner.demux(*args, **kwargs):
                self.packets += 1
                yield packet

        return gen()

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_one_demux_pass_over_both_streams_and_progressive_chunks(long_video, monkeypatch):
    """The file is opened once (by open_clip's probe) and every packet is read once: the probe
    reads a few (to decode the first frame), the decoding pass decodes those and demuxes the rest."""
    import av

    with av.open(str(long_video)) as c:
        in_file = sum(1 for p in c.demux() if p.size)
    made: list[_CountingContainer] = []
    real_open = probe_mod.open_input

    def counting_open(path):
        made.append(_CountingContainer(real_open(path)))
        return made[-1]

    monkeypatch.setattr(probe_mod, "open_input", counting_open)
    clip = open_clip(long_video, VideoSpec(fps=25, shorter_side=60), AudioSpec(16000))
    clip.prefetch = "off"  # this test watches the demux pass itself, in this process
    (container,) = made
    read_by_probe = container.packets
    assert 0 < read_by_probe < in_file / 4
    packets_at_chunk = []
    n_frames = n_audio = 0
    for chunk in clip.chunks(frames_per_chunk=32):
        assert chunk.frames.shape[0] <= 32
        assert chunk.first_frame == n_frames and chunk.first_sample == n_audio
        packets_at_chunk.append(container.packets)
        n_frames += chunk.frames.shape[0]
        n_audio += chunk.audio.shape[0]
    assert len(made) == 1
    # the probe's demux and the decoding pass's, each over both streams
    assert container.demux_calls == [["audio", "video"], ["audio", "video"]]
    # the flush packets PyAV adds at the end (one per stream) aside, each packet was read once
    assert container.packets - 2 == in_file
    # the first chunk arrived while most of the file was still unread
    assert packets_at_chunk[0] < container.packets / 4
    assert n_frames == 400 and n_audio == 16 * 16000
    # audio arrives interleaved with the frames, not all at the end
    assert read_by_probe < packets_at_chunk[0]


def test_peak_memory_is_bounded_by_the_chunk(long_video):
    clip = open_clip(long_video, VideoSpec(fps=25), AudioSpec(16000))
    frame_bytes = 120 * 160 * 3
    gc.collect()
    tracemalloc.start()
    try:
        seen = 0
        for chunk in clip.chunks(frames_per_chunk=16):
            seen += chunk.frames.shape[0]
            del chunk
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == 400
    whole = 400 * frame_bytes
    # A chunk is 16 frames (0.9 MB); allow converted/cached frames and audio but far below the whole.
    assert peak < 6 * 16 * frame_bytes < whole / 4, (peak, whole)


def test_chunk_contents_match_read_all(long_video):
    clip = open_clip(long_video, VideoSpec(fps=10, width=40, height=30), AudioSpec(8000))
    parts = list(clip.chunks(frames_per_chunk=7))
    video, audio = clip.read_all()
    assert sum(p.frames.shape[0] for p in parts) == video.shape[0] == math.floor(16 * 10)
    assert sum(p.audio.shape[0] for p in parts) == audio.shape[0] == 16 * 8000
    # output frame k at k/10 s is source frame 2.5k -> grey level (floor(2.5k) % 200)
    grey = video.double().mean(dim=(1, 2, 3)).numpy()
    expected = np.array([math.floor(2.5 * k) % 200 for k in range(160)], dtype=float)
    assert np.abs(grey - expected).max() < 3


def test_bad_frames_per_chunk(long_video):
    clip = open_clip(long_video, VideoSpec(fps=25), None)
    with pytest.raises(ValueError):
        next(clip.chunks(frames_per_chunk=0))


def test_a_file_the_probe_reads_to_its_end_is_still_opened_once(bad_inputs, av_opens):
    """A one-frame file: its frame leaves the decoder only when it is drained at the end of the
    file, so the probe reads the whole file; the decoding pass replays it from the same open."""
    opened = av_opens
    path = bad_inputs["one_frame"]
    clip = open_clip(path, VideoSpec(fps=10), AudioSpec(16000))
    video, audio = clip.read_all()
    assert opened == [str(path)]
    assert video.shape[0] == 1 and audio.shape[0] == round(clip.duration * 16000)
    assert clip.warnings == {"audio": "missing"}
