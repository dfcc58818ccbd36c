"""``avlocate run --live`` (issue 17): an MPEG-TS fed at a steady pace through a pipe, a stall.

The paced test reads the event lines while the feeder is still writing: the first line must come
before the feed ends (ordering, no clock guesses), and all events must equal the file run's. The
feeder keeps its last quarter back until that first line has come (or a guard of minutes has
passed): the stream is still open when the first event is due however slow the machine, so the
pace can be 4 times real time instead of real time. An implementation that printed nothing before
the end of its input would still fail, only after the guard.

Where the model is not what a test is about (Ctrl-C, stalls, a piped MP4, a timestamp jump), it
runs the small ``lite-demo`` model; the paced test keeps the default model (a dense head).
"""
from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from avlocate.errors import StreamEndedEarlyError
from avlocate.runners.live import LiveConfig, SnippetFeed
from avlocate.media import open_clip, probe
from avlocate.pipeline.models import load_model
from avlocate.pipeline import locate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/stream_fixtures.py
from stream_fixtures import StreamServer, half_then_silence, remux_to_ts  # noqa: E402

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo1.mp4"
SMALL = ["-m", "lite-demo"]  # where the model is not what is tested
HOLD_GUARD_S = 300.0  # only ends the wait of a feeder whose reader never gets a line


@pytest.fixture(scope="module")
def ts(tmp_path_factory) -> Path:
    # demo1 twice in a row (~38 s): the first events (ending ~10 s in) are decided (within the
    # delay bound of 6 s) long before the held-back last quarter (from ~28 s on).
    return remux_to_ts(DEMO, tmp_path_factory.mktemp("live") / "demo1x2.ts", repeat=2)


class PacedFeeder(threading.Thread):
    """Writes a file into a pipe at ``speed`` times the pace of its duration (bytes spread evenly
    over time), holding back what lies after ``hold_at`` of it until ``release`` is set.

    When the reader is not reading (the pipe is full, e.g. while the model loads), the schedule
    moves on from where it is instead of sending a burst afterwards, as a camera would.
    """

    def __init__(self, data: bytes, seconds: float, pipe, speed: float = 4.0,  # noqa: ANN001
                 hold_at: float = 0.75) -> None:
        super().__init__(daemon=True)
        self.data, self.pipe = data, pipe
        self.piece = 2048
        self.period = seconds / speed * self.piece / len(data)
        self.hold_from = int(len(data) * hold_at)
        self.release = threading.Event()  # set by the reader when the first line has come
        self.finished = threading.Event()

    def run(self) -> None:
        anchor = time.monotonic()
        try:
            for k, i in enumerate(range(0, len(self.data), self.piece)):
                if i >= self.hold_from and not self.release.is_set():
                    self.release.wait(HOLD_GUARD_S)  # an event, not a clock: see the module doc
                    anchor = time.monotonic() - k * self.period
                due = anchor + k * self.period
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)  # the pace of a live source
                before = time.monotonic()
                self.pipe.write(self.data[i:i + self.piece])
                self.pipe.flush()
                if time.monotonic() - before > 0.5:  # the reader was not reading: no burst afterwards
                    anchor = time.monotonic() - k * self.period
            self.pipe.close()
        except (BrokenPipeError, ValueError, OSError):
            pass
        finally:
            self.finished.set()


def _live(args: list[str], stdin=subprocess.DEVNULL) -> subprocess.Popen:  # noqa: ANN001
    return subprocess.Popen([sys.executable, "-m", "avlocate", "run", *args, "--live", "--device", "cpu", "-q"],
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _read_lines(proc: subprocess.Popen, feeder: PacedFeeder | None) -> list[tuple[dict, bool]]:
    """(line, whether the feeder had finished when the line arrived) for every output line."""
    out = []
    for raw in proc.stdout:
        out.append((json.loads(raw), feeder.finished.is_set() if feeder is not None else True))
        if feeder is not None:
            feeder.release.set()
    return out


def test_live_pipe_prints_events_before_the_feed_ends_and_equal_to_the_file(ts):
    proc = _live(["-"], stdin=subprocess.PIPE)
    feeder = PacedFeeder(ts.read_bytes(), probe(ts).duration, proc.stdin)
    feeder.start()
    # The file run is computed while the live process starts (its lines wait in the pipe; the
    # feeder holds its last quarter until the first one is read, so the order is kept).
    want = locate(ts, device="cpu")
    assert want.events
    lines = _read_lines(proc, feeder)
    rc = proc.wait(timeout=300)
    assert rc == 0, proc.stderr.read().decode()
    assert lines and lines[0][1] is False, "the first event line must arrive while the stream is still being fed"
    got = sorted((line["label"], line["start"], line["end"]) for line, _ in lines)
    expected = sorted((e.label, e.start, e.end) for e in want.events)
    assert [g[0] for g in got] == [w[0] for w in expected]
    for g, w in zip(got, expected):
        assert abs(g[1] - w[1]) <= 0.1 and abs(g[2] - w[2]) <= 0.1, (got, expected)
    bound = LiveConfig().delay_bound_seconds
    for line, _ in lines:
        start = dt.datetime.fromisoformat(line["start_time"])
        end = dt.datetime.fromisoformat(line["end_time"])
        assert start.tzinfo is not None
        assert abs((end - start).total_seconds() - (line["end"] - line["start"])) < 0.002
        if not line["final"]:  # closed mid-stream: within the stated delay of its end
            assert line["stream_time"] - line["end"] <= bound + 1e-6, line


def test_ctrl_c_flushes_the_open_events_and_exits_0(ts):
    proc = _live(["-", *SMALL], stdin=subprocess.PIPE)
    feeder = PacedFeeder(ts.read_bytes(), probe(ts).duration, proc.stdin)
    feeder.start()
    try:
        first = proc.stdout.readline()
        assert first, proc.stderr.read().decode()
        assert not feeder.finished.is_set()  # Ctrl-C comes mid-stream: the feeder is holding its last part
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read().splitlines()
        rc = proc.wait(timeout=120)
    finally:
        feeder.release.set()
    assert rc == 0
    for raw in [first, *rest]:
        json.loads(raw)


def test_stalled_stream_ends_after_the_stall_timeout_with_the_events_so_far(ts):
    with StreamServer({"demo1.ts": ts.read_bytes()}) as srv:
        proc = _live([srv.url("stall/demo1.ts"), *SMALL, "--stall-timeout", "2"])  # stops after ~19 s of 38
        lines = _read_lines(proc, None)
        rc = proc.wait(timeout=300)
        err = proc.stderr.read().decode()
        assert srv.stalled.is_set()
    assert rc == StreamEndedEarlyError.exit_code
    assert err == ""  # -q: the warning is not printed, the exit code says it
    assert lines, "the events found before the stall are written"
    assert all(line["end"] <= 22.0 for line, _ in lines)  # only the first half of the stream arrived


def test_snippets_made_block_by_block_equal_the_whole_file_and_memory_stays_bounded():
    loaded = load_model(None, "cpu")
    ex = loaded.extractor
    vspec, aspec = ex.media_request(probe(DEMO))
    whole = ex.extract(open_clip(DEMO, vspec, aspec))
    clip = open_clip(DEMO, vspec, aspec)
    block = 8
    feed = SnippetFeed(ex, clip, block_snippets=block, lead=1)
    parts, most = [], 0
    for chunk in clip.chunks(frames_per_chunk=4, audio_chunk_seconds=0.5):
        got = feed.push(chunk)
        if got is not None:
            parts.append(got)
        most = max(most, feed.frames.shape[0])
    tail = feed.finish()
    if tail is not None:
        parts.append(tail)
    import torch

    visual = torch.cat([p.visual for p in parts])
    audio = torch.cat([p.audio for p in parts])
    assert visual.shape == whole.visual.shape
    assert torch.allclose(visual, whole.visual, atol=1e-5) and torch.allclose(audio, whole.audio, atol=1e-5)
    tl = ex.timeline
    # never more than one block (plus the lead, one window and one chunk) of frames held
    assert most <= (block + 1) * tl.stride + tl.window + 4


def test_terminal_progress_shows_stream_time_and_lag():
    import io

    from avlocate.runners.live import LivePrinter

    err = io.StringIO()
    printer = LivePrinter("-", io.StringIO(), err, progress=True)
    printer.set_anchor(0.0)
    printer.status(3723.0)
    text = err.getvalue()
    assert "01:02:03 of stream processed" in text and "lag" in text and text.startswith("\r")
    quiet = io.StringIO()
    LivePrinter("-", io.StringIO(), quiet, progress=False).status(5.0)
    assert quiet.getvalue() == ""


def test_live_refuses_options_that_do_not_apply(capsys):
    from avlocate.cli import main

    rc = main(["run", "-", "--live", "-f", "srt"])
    assert rc == 2 and "--live prints one JSON line" in capsys.readouterr().err


def test_locator_memory_stays_flat_over_two_hours_and_each_event_is_printed_once():
    """Two hours of snippets (0.25 s each) through the sliding-window locator. The analysis is a
    rule on the features themselves (an event wherever feature 0 is high), so every window sees
    the events it holds, cut at its edges as a model would."""
    import torch

    from avlocate.features.base import Features
    from avlocate.runners.live import LiveLocator
    from avlocate.results import Event
    from avlocate.timeline import Timeline

    tl = Timeline(fps=8.0, window=4, stride=2)
    step, period, length = tl.step_seconds, 80, 12  # an event of 3 s every 20 s

    def analyze(feats: Features) -> list[Event]:
        on = feats.visual[:, 0] > 0.5
        events, i = [], 0
        while i < len(on):
            if on[i]:
                j = i
                while j < len(on) and on[j]:
                    j += 1
                events.append(Event("beep", i * step, j * step, 0.9))
                i = j
            else:
                i += 1
        return events

    window = 128
    locator = LiveLocator(analyze, step, window, LiveConfig())
    total, block, printed, most_printed = 2 * 3600 * 4, 8, [], 0
    for first in range(0, total, block):
        idx = torch.arange(first, first + block)
        visual = ((idx % period) < length).float()[:, None].repeat(1, 3)
        locator.add(Features(visual, torch.zeros(block, 2), tl, "rule"))
        printed += locator.step_closed()
        assert len(locator.visual) <= window
        most_printed = max(most_printed, len(locator.printed))
    printed += locator.flush(None)
    starts = [round(c.event.start, 3) for c in printed]
    assert starts == [k * period * step for k in range(total // period)]  # each once, in order
    assert all(c.event.end - c.event.start == length * step for c in printed)
    assert most_printed <= 60.0 / (period * step) + 2  # only the last minute of printed events is kept


def test_demo1_mp4_piped_live_gives_the_events_of_the_file():
    with open(DEMO, "rb") as f:
        proc = _live(["-", *SMALL], stdin=f)
        want = sorted((e.label, e.start, e.end) for e in locate(DEMO, model="lite-demo", device="cpu").events)
        lines = _read_lines(proc, None)
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
    assert want
    got = sorted((line["label"], line["start"], line["end"]) for line, _ in lines)
    assert [g[0] for g in got] == [w[0] for w in want]
    for g, w in zip(got, want):
        assert abs(g[1] - w[1]) <= 0.1 and abs(g[2] - w[2]) <= 0.1, (got, want)


def test_stalled_pipe_ends_the_live_run_after_the_stall_timeout(ts):
    """A pipe whose writer stays alive but sends nothing (a hung camera feed) ends like a stalled
    network stream: the events so far, a warning, exit code 10."""
    # ~19 s of 38, then silence with the pipe open
    rc, out, err = half_then_silence(ts.read_bytes(), ["--live", *SMALL, "--device", "cpu", "--stall-timeout", "2"])
    assert rc == StreamEndedEarlyError.exit_code, err
    lines = [json.loads(raw) for raw in out.splitlines()]
    assert lines, "the events found before the stall are written"
    assert all(line["end"] <= 22.0 for line in lines)
    assert "no data on standard input" in err and "event(s) found so far" in err



def test_redteam_live_says_a_timestamp_jump_when_it_happens_and_keeps_the_second_recording(tmp_path):
    """`cat a.ts b.ts | avlocate run - --live`: the jump back is a warning line on stderr and the
    events of both recordings are printed (demo1's, then the same ones one copy later)."""
    import av

    repo = Path(__file__).resolve().parents[2]
    one = remux_to_ts(repo / "samples" / "demo1.mp4", tmp_path / "demo1.ts")
    with av.open(str(one)) as c:
        half = c.duration / av.time_base  # where the second copy starts on the re-based timeline
    cat = tmp_path / "cat.ts"
    cat.write_bytes(one.read_bytes() * 2)
    procs = {}
    for name, path in (("one", one), ("cat", cat)):  # the two runs side by side (independent processes)
        with open(path, "rb") as f:
            procs[name] = subprocess.Popen([sys.executable, "-m", "avlocate", "run", "-", "--live", *SMALL,
                                            "--device", "cpu"], stdin=f, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)
    runs = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=900)
        runs[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        assert runs[name].returncode == 0, runs[name].stderr
    first = [json.loads(x) for x in runs["one"].stdout.splitlines()]
    got = [json.loads(x) for x in runs["cat"].stdout.splitlines()]
    assert len(first) >= 2 and len(got) == 2 * len(first), (first, got)
    for e in first:  # each event again, one copy later
        assert any(g["label"] == e["label"] and abs(g["start"] - (e["start"] + half)) <= 0.5 for g in got), (e, got)
    assert "timeline" not in runs["one"].stderr
    assert any("timeline" in line and "jump" in line for line in runs["cat"].stderr.splitlines()), runs["cat"].stderr
