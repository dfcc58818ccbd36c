"""``avlocate run --live --model zeroshot`` gives the events of the zero-shot file run.

The stand-in encoders of test_model.py (mean colour, hashed text) find nothing in demo1, so a
live/file comparison with them would pass with no events at all. These stand-ins are built from
what demo1 holds (samples/README.md, samples/demo1.json; measured per 1-s window):

* image: how much of the frame is each class's colour (yellow bell disc, blue siren square,
  green engine triangle, magenta drum diamond; pixels within 80 RGB units of the colour), next
  to a constant "background" coordinate, in an orthonormal 5-D basis of the 64-D space. The
  objects cover 1-4 % of a frame; x100 puts a visible one well above the background.
* audio: the window's RMS split into bands (80-400 Hz engine noise, 400-1500 Hz siren sweep and
  bell fundamentals, 1500-3000 Hz bell harmonics, 3-8 kHz drum clicks) next to a constant 0.03
  "quiet" coordinate (silence in demo1 is ~0.013 RMS, sounds 0.07-0.2), same kind of basis.
* text: a prompt naming a label is the unit vector of that label's concept (its colour axis; its
  bands' mix), a background prompt (no label named) the background/quiet axis.

With the default temperature each modality picks its class sharply. On demo1 the file run
finds the two bell events of the ground truth (6.6-9.9 s, 12.8-15.7 s) and rejects the drum
sound without the diamond (1-4.4 s) and the green triangle without engine noise: the min
fusion needs both. (The drum event overlapping the first bell is not found: the yellow disc
and the bell's tones outweigh the diamond and the clicks in the softmax.)
"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from avlocate.features.clip_clap.extractor import ClipClapExtractor
from avlocate.media.source import open_input_clip
from avlocate.media.specs import ClipChunk
from avlocate.pipeline.live import LiveStream, model_analyzer, model_locator
from avlocate.pipeline.models import LoadedModel
from avlocate.runners.live import LiveConfig, LivePrinter, SnippetFeed, run_live, window_snippets
from avlocate.zeroshot.model import default_extractor_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/stream_fixtures.py
from stream_fixtures import remux_to_ts  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/zeroshot/door.py
from door import zeroshot_model  # noqa: E402

torch.set_num_threads(1)
DIM = 64
DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo1.mp4"
COLOURS = {"bell": (255, 220, 0), "siren": (0, 64, 255), "engine": (0, 210, 0), "drum": (235, 0, 235)}
LABELS = tuple(COLOURS)
BANDS_HZ = ((80, 400), (400, 1500), (1500, 3000), (3000, 8000))
SOUNDS = {"engine": (0, 1, 0, 0, 0), "siren": (0, 0, 1, 0, 0), "bell": (0, 0, 0.8, 0.6, 0), "drum": (0, 0, 0, 0, 1)}
QUIET = (1, 0, 0, 0, 0)


def _basis(seed: int) -> torch.Tensor:
    """(5, DIM) orthonormal rows: cosines between concepts are kept exactly."""
    q, _ = torch.linalg.qr(torch.randn(DIM, 5, generator=torch.Generator().manual_seed(seed)))
    return q.T.contiguous()


def _named(text: str) -> str | None:
    return next((name for name in LABELS if name in text), None)


class ColourClip:
    """CLIP stand-in: coverage of each class colour (see the module doc)."""

    dim, arch, weights_id, device = DIM, "stand-in", "colour-coverage", torch.device("cpu")
    basis = _basis(11)

    def preprocess_frames(self, frames: torch.Tensor) -> torch.Tensor:
        colours = torch.tensor(list(COLOURS.values()), dtype=torch.float32)
        near = ((frames.float()[:, :, :, None, :] - colours).norm(dim=-1) < 80).float().mean(dim=(1, 2))
        return torch.cat([torch.ones(frames.shape[0], 1), 100.0 * near], dim=1)

    def encode_images(self, pixels: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        return F.normalize(pixels @ self.basis, dim=-1)

    def encode_text(self, texts, batch_size: int = 64) -> torch.Tensor:  # noqa: ANN001
        return torch.stack([self.basis[0 if _named(t) is None else 1 + LABELS.index(_named(t))] for t in texts])


class BandClap(ColourClip):
    """CLAP stand-in: RMS per frequency band (see the module doc)."""

    amodel, weights_id = "stand-in", "band-rms"
    basis = _basis(12)

    def encode_audio(self, windows, batch_size: int = 8) -> torch.Tensor:  # noqa: ANN001
        rows = []
        for w in windows:
            w = w.float()
            power = torch.fft.rfft(w).abs().pow(2)
            freq = torch.fft.rfftfreq(w.numel(), 1 / 48_000)
            share = [power[(freq >= lo) & (freq < hi)].sum() / power.sum().clamp(min=1e-12) for lo, hi in BANDS_HZ]
            rms = w.pow(2).mean().sqrt()
            rows.append(torch.stack([torch.tensor(0.03), *(rms * s.sqrt() for s in share)]))
        return F.normalize(torch.stack(rows) @ self.basis, dim=-1)

    def encode_text(self, texts, batch_size: int = 64) -> torch.Tensor:  # noqa: ANN001
        concepts = torch.tensor([SOUNDS[_named(t)] if _named(t) else QUIET for t in texts], dtype=torch.float32)
        return F.normalize(concepts, dim=-1) @ self.basis


def _model() -> LoadedModel:
    ex = ClipClapExtractor(default_extractor_config(device="cpu"), clip_encoder=ColourClip(), clap_encoder=BandClap())
    return zeroshot_model(list(LABELS), ex)


def _live(zs: LoadedModel, video: Path, piped: bool, config: LiveConfig) -> list[dict]:
    """The lines ``avlocate run --live --model zeroshot`` prints, run in-process (the loaded
    model's stream: a 30-s window unless configured)."""
    ex, out = zs.extractor, io.StringIO()
    with open(video, "rb") as pipe:
        clip = open_input_clip("-", ex.media_request, stdin=pipe) if piped else open_input_clip(video, ex.media_request)
        run_live(LiveStream(clip, ex, model_locator(zs, config), config), LivePrinter(str(video), out, None, False))
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture(scope="module")
def zs() -> LoadedModel:
    return _model()


@pytest.fixture(scope="module")
def demo1x2(tmp_path_factory) -> Path:
    # demo1 twice (~37 s): longer than the 30-s window, so it slides, and events close mid-stream.
    return remux_to_ts(DEMO, tmp_path_factory.mktemp("live_zs") / "demo1x2.ts", repeat=2)


@pytest.fixture(scope="module")
def file_run(zs):
    """The file run's events of a video, computed once per video for the module's live cases."""
    runs: dict[Path, list] = {}

    def events(video: Path) -> list:
        if video not in runs:
            runs[video] = zs.locate(video).events
        return runs[video]

    return events


def test_the_stand_ins_find_demo1s_bells_and_reject_its_distractors(zs):
    got = zs.locate(DEMO).events
    truth = [e for e in json.loads(DEMO.with_suffix(".json").read_text())["events"] if e["label"] == "bell"]
    assert [e.label for e in got] == ["bell", "bell"]
    for e, t in zip(got, truth):
        assert abs(e.start - t["start"]) <= 0.5 and abs(e.end - t["end"]) <= 0.5, (got, truth)


@pytest.mark.parametrize("case", ["demo1.mp4", "demo1x2.ts piped", "demo1x2.ts piped, 6-s window"])
def test_live_zeroshot_gives_the_events_of_the_file_run(zs, demo1x2, file_run, case):
    video, piped = (DEMO, False) if case == "demo1.mp4" else (demo1x2, True)
    # A 6-s window (the delay bound): the 3-3.5-s events' starts leave it before they close (stitching).
    config = LiveConfig(window_seconds=6.0) if "window" in case else LiveConfig()
    want = file_run(video)
    lines = _live(zs, video, piped, config)
    assert len(want) >= 2  # not vacuous
    got = sorted((line["label"], line["start"], line["end"]) for line in lines)
    expected = sorted((e.label, e.start, e.end) for e in want)
    assert [g[0] for g in got] == [w[0] for w in expected], (got, expected)
    for g, w in zip(got, expected):
        assert abs(g[1] - w[1]) <= 0.1 and abs(g[2] - w[2]) <= 0.1, (got, expected)
    bound = config.delay_bound_seconds
    for line in lines:
        if not line["final"]:  # closed mid-stream: within the stated delay of its end
            assert line["stream_time"] - line["end"] <= bound + 1e-6, line
    if video == demo1x2:
        assert sum(not line["final"] for line in lines) >= 3  # closed by the sliding window, not by the flush
    if "window" in case:  # stitched: printed after its start had left the window
        assert any(line["start"] < line["stream_time"] - config.window_seconds for line in lines), lines


class _Cut:
    """A clip of demo1 ending at ``seconds`` (a file that short: floor(s * fps) frames,
    round(s * rate) samples), streamed in chunks."""

    def __init__(self, clip, seconds: float) -> None:  # noqa: ANN001
        self.clip, self.duration = clip, seconds
        self.video, self.audio, self.info, self.path = clip.video, clip.audio, clip.info, clip.path
        self.frame_size, self.stats, self.warnings = clip.frame_size, clip.stats, {}

    def chunks(self, frames_per_chunk: int = 16, audio_chunk_seconds: float = 10.0):  # noqa: ANN201
        frames = int(self.duration * float(self.video.fps))
        samples = round(self.duration * self.audio.sample_rate)
        for c in self.clip.chunks(frames_per_chunk, audio_chunk_seconds):
            nf = max(0, min(c.frames.shape[0], frames - c.first_frame))
            na = max(0, min(c.audio.shape[0], samples - c.first_sample))
            yield ClipChunk(c.frames[:nf], c.frame_times[:nf], c.first_frame, c.audio[:na], c.first_sample)


def test_the_last_block_keeps_the_window_the_file_run_keeps_within_the_end_tolerance(zs):
    """12.45 s: clip-clap's last 1-s window ends at 12.5 s, inside its 0.1-s end tolerance, so the
    file run has 24 snippets; a live feed that only counted complete windows had 23."""
    ex = zs.extractor
    whole = ex.extract(_Cut(open_input_clip(DEMO, ex.media_request), 12.45))
    assert whole.num_snippets == 24
    cut = _Cut(open_input_clip(DEMO, ex.media_request), 12.45)
    feed = SnippetFeed(ex, cut, block_snippets=4)
    parts = [f for c in cut.chunks(2, 0.5) if (f := feed.push(c)) is not None]
    parts.append(feed.finish(cut.duration))
    visual = torch.cat([p.visual for p in parts if p is not None])
    audio = torch.cat([p.audio for p in parts if p is not None])
    assert visual.shape[0] == 24
    assert torch.allclose(visual, whole.visual, atol=1e-5) and torch.allclose(audio, whole.audio, atol=1e-5)


def test_an_event_longer_than_the_window_is_printed_whole_as_in_the_file_run(zs):
    """A 42-s siren (visual and audio snippets = the siren's text rows) in 60 s of snippets: the
    30-s window never holds it whole, yet it is printed once, with the file run's start and end."""
    from avlocate.features.base import Features
    from avlocate.runners.live import LiveLocator
    from avlocate.zeroshot.scoring import decode, score_snippets

    bank, tl = zs.head.text_bank(), zs.extractor.timeline
    step, n = tl.step_seconds, 120
    row = torch.full((n,), len(LABELS))  # the bank's background row (rows 0..K-1: the labels)
    row[10:94] = LABELS.index("siren")  # 5.0-47.5 s
    visual, audio = bank.visual[row], bank.audio[row]
    scores = score_snippets(visual, audio, bank, step, zs.head.config)
    want = decode(scores, tl.with_duration(None), zs.head.config)
    assert [(e.label, e.start, e.end) for e in want] == [("siren", 5.25, 47.25)]
    config = LiveConfig()
    locator = LiveLocator(model_analyzer(zs, None), step, window_snippets(None, step, config), config)
    printed = []
    for first in range(0, n, 4):  # 2-s blocks, as run_live feeds them
        locator.add(Features(visual[first:first + 4], audio[first:first + 4], tl.with_duration(None), "clip-clap"))
        printed += locator.step_closed()
    printed += locator.flush(None)
    assert [(c.event.label, c.event.start, c.event.end, c.final) for c in printed] == [("siren", 5.25, 47.25, False)]
    assert printed[0].stream_time - 47.25 <= config.delay_bound_seconds


def test_redteam_concatenated_recordings_keep_the_second_ones_events_with_clip_clap(zs, tmp_path):
    """`cat a.ts b.ts` (a jump back in time): the clip-clap extractor plans its windows from the
    data, not from the first recording's header length, so the bells of both copies are found
    (demo1's two bells, then the same two one copy later) and the jump is reported."""
    import av

    one = remux_to_ts(DEMO, tmp_path / "demo1.ts")
    with av.open(str(one)) as c:
        half = c.duration / av.time_base  # where the second copy starts on the re-based timeline
    cat = tmp_path / "cat.ts"
    cat.write_bytes(one.read_bytes() * 2)
    single = [(e.start, e.end) for e in zs.locate(one).events]
    result = zs.locate(cat)
    got = [(e.label, e.start, e.end) for e in result.events]
    assert len(single) == 2 and [g[0] for g in got] == ["bell"] * 4, got
    want = single + [(s + half, e + half) for s, e in single]
    for (_, s, e), (ws, we) in zip(got, want):
        assert abs(s - ws) <= 0.6 and abs(e - we) <= 0.6, (got, want)
    assert "timeline" in result.warnings
