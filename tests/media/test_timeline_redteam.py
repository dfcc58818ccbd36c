"""Red-team finding 3: timestamp discontinuities (media/timeline.py).

Two recordings concatenated (`cat a.ts b.ts`) jump back; a muxer that skips ahead leaves a gap
without any data. Both are re-based onto one continuous timeline, in a file and in a one-pass
stream, with ``warnings["timeline"]`` saying where and by how much; a gap of the pictures that
the sound fills (a still image) is not a discontinuity. The last test checks the demo model's
events against the ground truth of samples/demo1.json.
"""
from __future__ import annotations

import io
import json
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from avlocate.media import AudioSpec, VideoSpec, open_clip
from avlocate.media.encode import write_av
from avlocate.media.onepass import open_stream_clip
from avlocate.media.timeline import Rebaser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/stream_fixtures.py
from stream_fixtures import remux_to_ts  # noqa: E402

import corpus  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SPECS = (VideoSpec(fps=10), AudioSpec(16000))


def _shifted_ts(src: Path, dst: Path, after_s: float, by_s: float) -> Path:
    """``src`` in MPEG-TS with every packet from ``after_s`` on stamped ``by_s`` later."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mpegts") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux(list(inp.streams)):
            if packet.dts is None or packet.stream_index not in streams:
                continue
            if packet.dts * packet.time_base >= after_s:
                shift = int(by_s / packet.time_base)
                packet.dts += shift
                packet.pts = None if packet.pts is None else packet.pts + shift
            packet.stream = streams[packet.stream_index]
            out.mux(packet)
    return dst


@pytest.fixture(scope="module")
def ts_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("timeline")
    mp4 = corpus.make_video(d / "two.mp4", seconds=2.0)  # 20 frames whose grey level is 6 * index
    one = remux_to_ts(mp4, d / "one.ts")
    cat = d / "cat.ts"
    cat.write_bytes(one.read_bytes() * 2)
    return {"one": one, "cat": cat, "ahead": _shifted_ts(mp4, d / "ahead.ts", 1.0, 600.0)}


def _file_clip(path: Path):
    return open_clip(path, *SPECS)


def _stream_clip(path: Path):
    return open_stream_clip("-", lambda info: SPECS, stdin=io.BytesIO(path.read_bytes()))


def _grey(frames) -> np.ndarray:  # noqa: ANN001
    return frames.float().mean(dim=(1, 2, 3)).numpy()


@pytest.mark.parametrize("opener", [_file_clip, _stream_clip], ids=["file", "stream"])
def test_redteam_concatenated_recordings_keep_the_second_one(ts_files, opener):
    clip = opener(ts_files["cat"])
    frames, audio = clip.read_all()
    assert clip.duration == pytest.approx(4.0, abs=0.15)
    assert frames.shape[0] == pytest.approx(40, abs=1)
    assert audio.shape[0] == pytest.approx(4.0 * 16000, abs=0.15 * 16000)
    grey = _grey(frames)
    # The second recording plays after the first, frame for frame (the ramp starts again).
    assert np.abs(grey[21:39] - grey[1:19]).max() < 4.0, grey
    assert grey[21] < grey[19] - 50
    assert "jump back by 2." in clip.warnings["timeline"] and "at 2." in clip.warnings["timeline"]
    # The second recording's sound is there too (not silence).
    assert float(audio[int(2.5 * 16000):int(3.5 * 16000)].abs().max()) > 0.1


@pytest.mark.parametrize("opener", [_file_clip, _stream_clip], ids=["file", "stream"])
def test_redteam_a_jump_ahead_is_not_filled_with_repeated_frames(ts_files, opener):
    clip = opener(ts_files["ahead"])
    frames, audio = clip.read_all()
    # The 2 s of data stay 2 s: neither 602 s of repeated frames nor 602 s of work.
    assert clip.duration == pytest.approx(2.0, abs=0.15)
    assert frames.shape[0] == pytest.approx(20, abs=1)
    assert audio.shape[0] == pytest.approx(2.0 * 16000, abs=0.15 * 16000)
    assert np.all(np.diff(_grey(frames)[1:20]) > 0)  # the ramp goes on, no frame repeated at the jump
    assert "jump ahead by 600.0" in clip.warnings["timeline"]


def test_redteam_continuous_ts_has_no_timeline_warning(ts_files):
    clip = _file_clip(ts_files["one"])
    frames, _ = clip.read_all()
    assert "timeline" not in clip.warnings and frames.shape[0] == 20


def test_redteam_a_still_picture_over_continuing_sound_is_not_a_discontinuity(tmp_path):
    # Pictures at 0-1.9 s, then one more at 14 s; the sound goes on throughout (a slideshow).
    times = [i / 10 for i in range(20)] + [14.0]
    sound = corpus.tone(440.0, 15.0, 16000)
    path = write_av(tmp_path / "still.ts", corpus.ramp_frames(len(times)), 10, sound, 16000, frame_times=times,
                    options=corpus.FAST, format="mpegts")
    clip = open_clip(path, *SPECS)
    frames, _ = clip.read_all()
    assert "timeline" not in clip.warnings
    assert clip.duration == pytest.approx(15.0, abs=0.2)
    grey = _grey(frames)
    assert abs(grey[139] - grey[20]) < 4 and grey[-1] > grey[20] + 2  # held until the last picture at 14 s


def test_redteam_rebaser_reports_one_discontinuity_for_streams_that_jump_one_after_another():
    r = Rebaser(gap_s=10.0)
    f = Fraction
    video = [r.place("v", f(k, 10), f(1, 10)) for k in range(30)]  # 0 .. 2.9 s
    audio = [r.place("a", f(k, 10), f(1, 10)) for k in range(25)]
    # Video jumps back to 0 first, then audio follows (they are interleaved).
    video += [r.place("v", f(k, 10), f(1, 10)) for k in range(10)]
    audio += [r.place("a", f(k, 10), f(1, 10)) for k in range(10)]
    assert video[30] == 3 and audio[25] == f(5, 2)  # each continues where it had ended
    assert len(r.jumps) == 1 and r.jumps[0].at == 3.0 and r.jumps[0].by == -3.0
    # Ahead over a gap that neither stream fills: a second discontinuity, once.
    v = r.place("v", f(900), f(1, 10))
    a = r.place("a", f(900), f(1, 10))
    assert v == 4 and a == f(7, 2) and len(r.jumps) == 2 and r.jumps[1].by == pytest.approx(899.0)
    assert "jump back by 3.00 s at 3.00 s" in r.warning() and "2 discontinuities" in r.warning()


def test_redteam_streams_that_jump_ahead_a_little_apart_do_not_cover_each_other():
    # Video 1.5 s ahead of audio in the interleaving; both jump +600 s, audio first.
    r = Rebaser(gap_s=10.0)
    f = Fraction
    for k in range(100):
        r.place("v", f(k, 10) + f(3, 2), f(1, 10))
        r.place("a", f(k, 10), f(1, 10))
    a = r.place("a", f(600), f(1, 10))  # audio ended at 10 s; video's data reaches 11.5 s
    v = r.place("v", f(6015, 10), f(1, 10))
    assert v == f(115, 10) and len(r.jumps) == 1 and r.jumps[0].by == pytest.approx(590.0)
    assert a in (f(10), f(600))  # audio's own step may pass for data (video reaches past it): it has no effect


def test_redteam_gap_filled_by_the_other_stream_is_kept():
    r = Rebaser(gap_s=10.0)
    f = Fraction
    r.place("v", f(0), f(1, 10))
    for k in range(1, 200):
        r.place("a", f(k, 10), f(1, 10))
    assert r.place("v", f(20), f(1, 10)) == 20 and not r.jumps


def _events_of(path: Path) -> list[tuple[str, float, float]]:
    from avlocate.pipeline import locate

    result = locate(path, device="cpu")
    return sorted((e.label, e.start, e.end) for e in result.events), result


def _match(got: list, want: list, tol: float) -> None:
    assert len(got) == len(want), (got, want)
    for (gl, gs, ge), (wl, ws, we) in zip(got, sorted(want)):
        assert gl == wl and abs(gs - ws) < tol and abs(ge - we) < tol, (got, want)


def test_redteam_cat_demo_twice_finds_the_events_of_both_halves(tmp_path):
    truth = json.loads((REPO / "samples" / "demo1.json").read_text())
    one = remux_to_ts(REPO / "samples" / "demo1.mp4", tmp_path / "demo1.ts")
    with av.open(str(one)) as c:
        half = c.duration / av.time_base  # where the second copy starts on the re-based timeline
    cat = tmp_path / "cat.ts"
    cat.write_bytes(one.read_bytes() * 2)
    got, result = _events_of(cat)
    want = [(e["label"], e["start"] + k * half, e["end"] + k * half) for k in (0, 1) for e in truth["events"]]
    _match(got, want, tol=0.5)
    assert "timeline" in result.warnings and result.duration == pytest.approx(2 * half, abs=0.1)
