"""``--live`` features, block by block, equal the whole-file run's for i3d-vggish, vgg19-vggish
and clip-clap (``lite``: tests/cli/test_live.py).

Each test extracts a short synthetic video whole (``ex.extract(open_clip(...))``) and through
:class:`SnippetFeed` (small decoded chunks, blocks of a few snippets, then ``finish()``), and
compares the concatenated block features with the whole run's. The videos are sized so that the
feed makes several blocks and a tail, and the tail holds what only the end of the file gives
(the file run's last I3D window, a VGG-19 segment with 3 of its 4 frames, a CLIP/CLAP window
ending within ``end_tolerance_seconds`` after the end).

Audio is at 22.05 kHz, resampled to 16 kHz by the resampy-0.2 filter whose float time register
drifts with the absolute position (see :func:`test_resampler_continues_the_whole_runs_time_register`):
without ``_BlockClip.audio_offset`` the blocks' VGGish inputs would differ from the file run's.

The networks are seeded random weights (the VGGish and VGG-19 files written into a temp
``AVLOCATE_WEIGHTS``), at test width (conftest.py) in the default tests. The default i3d-vggish
test replaces I3D and RAFT by cheap stand-ins with the same inputs and outputs (published size:
~1 s per I3D window and ~0.3-0.7 s per RAFT pair on 2 cores); the same comparison with every
network real, at the published size, is marked slow (~1 min). CLIP and CLAP are stand-ins
too (open_clip / laion_clap are optional extras), passed to ``ClipClapExtractor`` as its tests do.

Tolerance: a block batches its windows differently from the file run (I3D 4 windows per forward,
RAFT 24 pairs, VGG-19 ``frames_per_batch`` frames, VGGish the examples of one call), and CPU
kernels round per batch shape: the features moved by up to ~2e-6 of their scale here (0 for the
real-weights VGGish of the slow test), so the bound is 1e-4 of the scale. The VGGish inputs
(log-mel examples, float64 from the resampled audio) have no such excuse and are compared bit for
bit; that is what catches a misaligned or differently resampled block.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from avlocate.media import open_clip, probe, write_av
from avlocate.runners.live import SnippetFeed

SR = 22050  # not a divisor of 16 kHz: the resampler's drifting register matters (module doc)


class _Recorder(nn.Module):
    """Wraps the VGGish network and keeps its inputs (log-mel examples) per extract call."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.calls = []

    def forward(self, x):
        self.calls.append(x.clone())
        return self.inner(x)

    def take(self):
        out = torch.cat(self.calls) if self.calls else torch.zeros(0, 96, 64)
        self.calls = []
        return out


def _whole_and_live(ex, path, block, lead=1, frames_per_chunk=5, recorder=None):
    """(whole-file Features, list of the feed's block Features, the finish() Features). With a
    ``recorder`` around VGGish, also checks the VGGish examples: every example a block computes
    for a snippet after its lead is the file run's example of that snippet, bit for bit (the
    first example of a sub-clip that starts mid-stream may differ: the resampler's left edge, one
    reason for the lead)."""
    vspec, aspec = ex.media_request(probe(path))
    whole = ex.extract(open_clip(path, vspec, aspec))
    whole_examples = recorder.take() if recorder is not None else None
    clip = open_clip(path, vspec, aspec)
    feed = SnippetFeed(ex, clip, block_snippets=block, lead=lead)
    blocks, calls = [], []

    def run(step, *args):
        first = max(0, feed.next_snippet - lead)  # the snippet the block's sub-clip starts with
        got = step(*args)
        if recorder is not None and recorder.calls:
            calls.append((first, recorder.take()))
        return got

    for chunk in clip.chunks(frames_per_chunk=frames_per_chunk, audio_chunk_seconds=0.3):
        got = run(feed.push, chunk)
        if got is not None:
            blocks.append(got)
    tail = run(feed.finish)
    assert recorder is None or calls
    for first, examples in calls:
        for j in range(1 if first else 0, min(examples.shape[0], whole_examples.shape[0] - first)):
            diff = float((examples[j] - whole_examples[first + j]).abs().max())
            assert diff == 0.0, f"block from snippet {first}: example of snippet {first + j} differs by {diff:g}"
    return whole, blocks, tail


def _assert_same(whole, blocks, tail, min_blocks=2):
    assert len(blocks) >= min_blocks and tail is not None and tail.num_snippets >= 1, "several blocks and a tail"
    parts = blocks + [tail]
    visual = torch.cat([p.visual for p in parts])
    audio = torch.cat([p.audio for p in parts])
    assert visual.shape == whole.visual.shape and audio.shape == whole.audio.shape
    assert all(p.visual_shape == whole.visual_shape for p in parts)
    for got, want in ((visual, whole.visual), (audio, whole.audio)):
        scale = float(want.abs().max())
        assert scale > 0
        assert float((got - want).abs().max()) <= 1e-4 * scale


def _audio(seconds, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(round(seconds * SR)) / SR
    tone = 0.3 * torch.sin(2 * torch.pi * 440 * t) * (t > 0.7) + 0.2 * torch.sin(2 * torch.pi * 1250 * t) * (t < 1.9)
    return (tone + 0.05 * torch.randn(t.shape[0], generator=g)).clamp(-1, 1).numpy()


def _frames(n, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 1, 1, 3, generator=g) * 200
    return (base + torch.rand(n, h, w, 3, generator=g) * 55).clamp(0, 255).to(torch.uint8).numpy()


# -- the resampler ----------------------------------------------------------------------------------
@pytest.mark.parametrize("sr,version", [(22050, "0.2.2"), (44100, "0.2.2"), (22050, "0.4"), (8000, "0.2.2")])
def test_resampler_continues_the_whole_runs_time_register(sr, version):
    """A resampler started at ``origin`` gives the whole signal's outputs bit for bit (after the
    left-edge reach), where a fresh one on the same samples does not for resampy 0.2's filter."""
    from avlocate.features.vggish.resample import KaiserResampler

    g = torch.Generator().manual_seed(sr)
    x = torch.randn(round(1.7 * sr), generator=g, dtype=torch.float64) * 0.2
    r = KaiserResampler(sr, 16000, version)
    whole = torch.cat([r.push(x[: sr // 3]), r.push(x[sr // 3:]), r.finish()])
    for start in (0.32, 0.96):  # block starts (--live: snippet starts), a whole number of outputs
        s0, k0 = round(start * sr), round(start * 16000)
        r = KaiserResampler(sr, 16000, version, origin=s0)
        part = torch.cat([r.push(x[s0:]), r.finish()])
        assert part.shape[0] == whole.shape[0] - k0
        edge = 200  # > the filter's reach (<= 130 outputs at these rates)
        assert torch.equal(part[edge:], whole[k0 + edge:])
        fresh = KaiserResampler(sr, 16000, version)
        restarted = torch.cat([fresh.push(x[s0:]), fresh.finish()])
        drift = float((restarted[edge:] - whole[k0 + edge:]).abs().max())
        if version == "0.2.2" and sr in (22050, 44100):
            assert drift > 1e-5  # the register restarted at 0: what origin fixes
        assert drift < 1e-3


def test_accumulated_time_is_the_sequential_register():
    from avlocate.features.vggish.resample import accumulated_time

    inc = 22050 / 16000
    seq = torch.cumsum(torch.cat([torch.zeros(1, dtype=torch.float64), torch.full((99_999,), inc, dtype=torch.float64)]), 0)
    for k in (0, 1, 777, 70_001, 99_999, 5):  # increasing (continued), then back to the start (recomputed)
        assert accumulated_time(inc, k) == float(seq[k])


# -- i3d-vggish -------------------------------------------------------------------------------------
class _PairFlow(nn.Module):
    """RAFT stand-in: a flow per pair from both frames (RAFT's signature; values in +-20 px)."""

    def forward(self, a, b, num_flow_updates=20):
        d = (b - a)[:, :2] * 10.0 + 0.5 * a[:, 1:3]
        return [d]


class _WindowNet(nn.Module):
    """I3D stand-in: (N, C, 24, 224, 224) -> (N, 1024), a fixed projection of every time step's
    and channel's pooled 8x8 map, so a misplaced frame or flow changes it."""

    def __init__(self, channels, seed):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.proj = nn.Parameter(torch.randn(channels * 24 * 64, 1024, generator=g) / 100.0)

    def forward(self, x):
        pooled = F.adaptive_avg_pool3d(x, (24, 8, 8)).flatten(1)
        return pooled @ self.proj


@pytest.fixture(scope="module")
def live_i3d_video(tmp_path_factory):
    n = 81  # 25 fps: 8 I3D windows (window k reads frames 8k..8k+24); 3.24 s of audio: 8 examples
    return write_av(tmp_path_factory.mktemp("i3d_live") / "clip.mp4", _frames(n, 256, 256, 11), 25,
                    _audio(n / 25, 12), SR)


def test_i3d_vggish_blocks_equal_the_whole_file(live_i3d_video, i3d_vggish_weights, width_divisor, monkeypatch):
    from avlocate.features.i3d_vggish import WEIGHT_FILES, I3DVGGishConfig, I3DVGGishExtractor
    from avlocate.features.vggish.network import VGGishConfig
    from avlocate.features.vggish.weights import load_vggish

    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(i3d_vggish_weights))
    ex = I3DVGGishExtractor(I3DVGGishConfig(device="cpu", frames_per_chunk=7, width_divisor=width_divisor))
    vggish = load_vggish(i3d_vggish_weights / WEIGHT_FILES["vggish"], VGGishConfig(width_divisor=width_divisor))
    recorder = _Recorder(vggish)
    ex._models = {"rgb": _WindowNet(3, 1).eval(), "flow": _WindowNet(2, 2).eval(), "raft": _PairFlow(),
                  "vggish": recorder}
    whole, blocks, tail = _whole_and_live(ex, live_i3d_video, block=3, recorder=recorder)
    assert whole.num_snippets == 8
    _assert_same(whole, blocks, tail)
    # An I3D window reads one frame past its 24 (and a VGGish example 0.975 s): a block returns the
    # snippets it can make, the rest come with the next one; the file's last window with the tail.
    assert sum(b.num_snippets for b in blocks) + tail.num_snippets == 8


@pytest.mark.slow
def test_i3d_vggish_blocks_equal_the_whole_file_with_every_network(tmp_path_factory, monkeypatch):
    """As above with seeded random I3D (rgb, flow), RAFT and VGGish weights (~3 min on 2 cores)."""
    from avlocate.features.flow.raft import build_raft
    from avlocate.features.i3d import I3D, I3DConfig
    from avlocate.features.i3d_vggish import WEIGHT_FILES, I3DVGGishConfig, I3DVGGishExtractor
    from avlocate.features.vggish.network import VGGish
    from avlocate.weights.checkpoint import write_safetensors

    d = tmp_path_factory.mktemp("i3d_live_weights")
    torch.manual_seed(0)
    write_safetensors(I3D(I3DConfig(modality="rgb")).state_dict(), d / WEIGHT_FILES["i3d-rgb"])
    write_safetensors(I3D(I3DConfig(modality="flow")).state_dict(), d / WEIGHT_FILES["i3d-flow"])
    write_safetensors(build_raft().state_dict(), d / WEIGHT_FILES["raft-sintel"])
    write_safetensors(VGGish().state_dict(), d / WEIGHT_FILES["vggish"])
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(d))
    n = 57  # 5 windows
    video = write_av(d / "clip.mp4", _frames(n, 256, 256, 13), 25, _audio(n / 25, 14), SR)
    ex = I3DVGGishExtractor(I3DVGGishConfig(device="cpu", raft_iterations=1))
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # big convolutions: 2 threads pay here (not for the small ops elsewhere)
    try:
        whole, blocks, tail = _whole_and_live(ex, video, block=3)
    finally:
        torch.set_num_threads(before)
    assert whole.num_snippets == 5
    _assert_same(whole, blocks, tail)


# -- vgg19-vggish -----------------------------------------------------------------------------------
def test_vgg19_vggish_blocks_equal_the_whole_file(vgg19_vggish_weights, width_divisor, tmp_path, monkeypatch):
    """The Timeline says 1 fps, the media layer decodes ``frames_per_second`` (here 4): the feed
    must count snippets in 4-frame steps. 5.98 s: 5 full segments and one with 3 of its 4 frames
    whose audio example (5 .. 5.975 s) is complete, so the file run counts it: the tail must too."""
    from avlocate.features.vgg19_vggish import VGG19VGGishConfig, VGG19VGGishExtractor

    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(vgg19_vggish_weights))
    n = 299  # at 50 fps: 5.98 s
    video = write_av(tmp_path / "clip.mp4", _frames(n, 48, 64, 21), 50, _audio(n / 50, 22), SR)
    ex = VGG19VGGishExtractor(VGG19VGGishConfig(frames_per_second=4, image_size=64, frames_per_batch=3, device="cpu",
                                                width_divisor=width_divisor))
    models = ex.models()
    models["vggish"] = recorder = _Recorder(models["vggish"])
    whole, blocks, tail = _whole_and_live(ex, video, block=2, recorder=recorder)
    assert whole.num_snippets == 6 and whole.visual_shape == (2, 2, 512)
    _assert_same(whole, blocks, tail)


# -- clip-clap --------------------------------------------------------------------------------------
class _ImageEncoder:
    """CLIP stand-in: a fixed projection of the frame's 4x4 colour map (unit vectors)."""

    dim, arch, weights_id, device = 32, "stand-in", "stand-in", torch.device("cpu")

    def __init__(self):
        self.proj = torch.randn(3 * 16, self.dim, generator=torch.Generator().manual_seed(31))

    def preprocess_frames(self, frames):
        return F.adaptive_avg_pool2d(frames.permute(0, 3, 1, 2).float() / 255.0, 4).flatten(1)

    def encode_images(self, pixels, batch_size=32):
        return F.normalize(pixels @ self.proj, dim=-1)


class _AudioEncoder:
    """CLAP stand-in: a fixed projection of the window's samples themselves (a window shifted by
    one sample, or cut short, gives another embedding)."""

    dim, amodel, weights_id, device = 32, "stand-in", "stand-in", torch.device("cpu")

    def __init__(self, samples):
        self.proj = torch.randn(samples, self.dim, generator=torch.Generator().manual_seed(32))

    def encode_audio(self, windows, batch_size=8):
        return F.normalize(torch.stack([w.float() for w in windows]) @ self.proj, dim=-1)


@pytest.mark.parametrize("lead", [0, 1])  # 0: what --live uses for clip-clap (live_lead_snippets)
def test_clip_clap_blocks_equal_the_whole_file(tmp_path, lead):
    """The zero-shot protocol (1-s windows every 0.5 s) with 2 frames per window: Timeline fps 2,
    frames decoded at 8 fps, audio at 48 kHz. 4.95 s: 9 windows, the last one ending 0.05 s
    after the end (within ``end_tolerance_seconds``: its audio tail zero-padded, as in the file run)."""
    from avlocate.features.clip_clap.extractor import ClipClapConfig, ClipClapExtractor

    cfg = ClipClapConfig(hop_seconds=0.5, window_hops=2, frames_per_window=2, device="cpu")
    ex = ClipClapExtractor(cfg, clip_encoder=_ImageEncoder(), clap_encoder=_AudioEncoder(48_000))
    n = 99  # at 20 fps: 4.95 s
    g = torch.Generator().manual_seed(41)
    audio = (0.3 * torch.randn(round(4.95 * 48_000), generator=g)).clamp(-1, 1).numpy()
    video = write_av(tmp_path / "clip.mp4", _frames(n, 48, 64, 42), 20, audio, 48_000)
    whole, blocks, tail = _whole_and_live(ex, video, block=3, lead=lead)
    assert whole.num_snippets == 9
    _assert_same(whole, blocks, tail)
