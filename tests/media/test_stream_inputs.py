"""URLs, standard input and list files as inputs (issue 17): one pass, same events as the file.

A real HTTP server on 127.0.0.1 serves samples/demo1.mp4 and an MPEG-TS remux of it made here
with PyAV (tests/stream_fixtures.py). The pipe tests run `avlocate run -` in this process with a
real OS pipe as its standard input (a writer thread feeds it: non-seekable, read through its file
descriptor as a shell pipe is); one test feeds a fresh `avlocate` process's stdin, as the shell does.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import av
import pytest

from avlocate.cli import main
from avlocate.errors import (ConnectionRefusedError_, MediaError, NoVideoStreamError, RemoteNotFoundError,
                             StreamEndedEarlyError, UnknownHostError)
from avlocate.media.source import is_stream, read_list
from avlocate.pipeline import locate
from avlocate.results import Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/stream_fixtures.py
from stream_fixtures import StreamServer, free_port, moov_at_end, remux, remux_to_ts  # noqa: E402

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo1.mp4"


def _only(src: Path, dst: Path, kind: str) -> Path:
    """An MPEG-TS with only the ``kind`` ("audio" | "video") stream of ``src``."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mpegts") as out:
        s_in = next(s for s in inp.streams if s.type == kind)
        s_out = out.add_stream_from_template(s_in)
        for packet in inp.demux(s_in):
            if packet.dts is None:
                continue
            packet.stream = s_out
            out.mux(packet)
    return dst


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("streams")
    return {
        "mp4": DEMO,
        "ts": remux_to_ts(DEMO, d / "demo1.ts"),
        "moov_end": moov_at_end(DEMO, d / "moov_end.mp4"),
        "audio_only": _only(DEMO, d / "audio_only.ts", "audio"),
        "video_only": _only(DEMO, d / "video_only.ts", "video"),
        "mkv": remux(DEMO, d / "demo1.mkv", "matroska"),
        "fmp4": remux(DEMO, d / "demo1_frag.mp4", "mp4", {"movflags": "frag_keyframe+empty_moov"}),
        "flv": remux(DEMO, d / "demo1.flv", "flv"),
    }


@pytest.fixture(scope="module")
def file_run(media):
    """``locate(file)`` of each prepared file, run once per module: the reference the stream
    runs are compared with (several tests compare with the same file)."""
    runs: dict[str, Result] = {}

    def result(kind: str) -> Result:
        if kind not in runs:
            runs[kind] = locate(media[kind], device="cpu")
        return runs[kind]

    return result


@pytest.fixture(scope="module")
def server(media):
    files = {p.name: p.read_bytes() for p in media.values()}
    with StreamServer(files) as srv:
        yield srv


def _events(result) -> list[tuple[str, float, float]]:  # noqa: ANN001
    return sorted((e.label, e.start, e.end) for e in result.events)


def assert_same_events(got, want, tol: float = 0.1) -> None:  # noqa: ANN001
    got, want = sorted(got), sorted(want)
    assert [g[0] for g in got] == [w[0] for w in want], (got, want)
    for g, w in zip(got, want):
        assert abs(g[1] - w[1]) <= tol and abs(g[2] - w[2]) <= tol, (got, want)


def test_urls_and_stdin_are_streams_never_paths():
    assert is_stream("http://127.0.0.1:8765/demo1.mp4") and is_stream("rtsp://cam/1") and is_stream("-")
    assert not is_stream("clip.mp4") and not is_stream(Path("-")) and not is_stream("C:/videos/a.mp4")


def test_url_gives_the_events_of_the_file(server, media, file_run):
    want = file_run("mp4")
    got = locate(server.url("demo1.mp4"), device="cpu")
    assert got.video == server.url("demo1.mp4")  # as given: not mangled into http:/...
    assert_same_events(_events(got), _events(want))
    assert abs(got.duration - want.duration) < 0.1 and got.warnings == {}


def test_mpegts_url_gives_the_events_of_the_ts_file(server, media, file_run):
    want = file_run("ts")
    got = locate(server.url("demo1.ts"), device="cpu")
    assert want.events, "the demo file must have events for this comparison to mean anything"
    assert_same_events(_events(got), _events(want))


def _cli(args: list[str], stdin: Path | None = None) -> subprocess.CompletedProcess:
    with open(stdin, "rb") if stdin else open("/dev/null", "rb") as f:
        return subprocess.run([sys.executable, "-m", "avlocate", "run", *args], stdin=f, capture_output=True,
                              timeout=300)


def _piped(monkeypatch, capsys, args: list[str], data: bytes | None, hold_open: bool = False
           ) -> tuple[int, str, str]:
    """``avlocate run - ARGS`` in this process, its standard input a real OS pipe that a thread
    fills with ``data`` and then closes (the end of the stream); with ``hold_open``, the thread
    sends half of ``data`` and keeps the pipe open and silent until the run has returned (a
    stall, not an end). ``data=None``: standard input is /dev/null. (In-process: a fresh
    interpreter's imports cost seconds per test; the fresh-process pipe is tested once below.)"""
    if data is None:
        stdin, feeder = open(os.devnull, "r"), None  # noqa: SIM115 - closed below
    else:
        read_fd, write_fd = os.pipe()
        returned = threading.Event()

        def feed() -> None:
            view = memoryview(data[: len(data) // 2] if hold_open else data)
            try:
                while view:
                    view = view[os.write(write_fd, view):]
                if hold_open:
                    returned.wait(300)
            except BrokenPipeError:  # the reader stopped early (an error it reports)
                pass
            finally:
                os.close(write_fd)

        stdin, feeder = open(read_fd, "r"), threading.Thread(target=feed, daemon=True)  # noqa: SIM115
        feeder.start()
    monkeypatch.setattr(sys, "stdin", stdin)
    capsys.readouterr()
    try:
        rc = main(["run", "-", *args])
    finally:
        if feeder is not None:
            returned.set()
        stdin.close()  # a writer still blocked on a full pipe gets EPIPE and ends
        if feeder is not None:
            feeder.join(60)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("kind", ["ts", "mp4", "mkv", "fmp4", "flv"])
def test_pipe_gives_the_events_of_the_file(media, file_run, kind, monkeypatch, capsys):
    want = file_run(kind)
    rc, out, err = _piped(monkeypatch, capsys, ["-f", "json", "-q", "--device", "cpu"], media[kind].read_bytes())
    assert rc == 0, err
    got = json.loads(out)
    assert got["video"] == "-"
    assert_same_events([(e["label"], e["start"], e["end"]) for e in got["events"]], _events(want))


def test_a_fresh_process_reads_the_video_on_its_standard_input(media, file_run):
    """`avlocate run - < demo1.ts` as a shell runs it: a new interpreter's own stdin."""
    want = file_run("ts")
    proc = _cli(["-", "-f", "json", "-q", "--device", "cpu"], stdin=media["ts"])
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["video"] == "-" and want.events
    assert_same_events([(e["label"], e["start"], e["end"]) for e in got["events"]], _events(want))


def test_mp4_with_index_at_the_end_from_a_pipe_says_how_to_fix_it(media, monkeypatch, capsys):
    rc, _, err = _piped(monkeypatch, capsys, ["-q"], media["moov_end"].read_bytes())
    assert rc == MediaError.exit_code
    line = err.strip()
    assert "\n" not in line and "moov" in line and "+faststart" in line and "mpegts" in line


def test_empty_stdin_is_one_line(monkeypatch, capsys):
    rc, _, err = _piped(monkeypatch, capsys, ["-q"], None)
    assert rc == MediaError.exit_code
    assert err.strip().count("\n") == 0 and "empty" in err


def _main(capsys, args: list[str]) -> tuple[int, str, str]:
    rc = main(["run", *args, "-q", "--device", "cpu"])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("make_url, error, words", [
    (lambda srv: srv.url("missing"), RemoteNotFoundError, "404"),
    (lambda srv: f"http://127.0.0.1:{free_port()}/demo1.ts", ConnectionRefusedError_, "refused"),
    (lambda srv: "http://no-such-host.invalid/demo1.ts", UnknownHostError, "unknown host"),
    (lambda srv: srv.url("audio_only.ts"), NoVideoStreamError, "no video"),
])
def test_bad_urls_are_one_line_with_their_own_exit_code(server, capsys, make_url, error, words):
    url = make_url(server)
    rc, out, err = _main(capsys, [url])
    assert rc == error.exit_code
    assert out == "" and err.count("\n") == 1 and url in err and words in err


def test_exit_codes_are_distinct_and_in_the_readme(repo_root):
    codes = [e.exit_code for e in (StreamEndedEarlyError, ConnectionRefusedError_, RemoteNotFoundError,
                                   UnknownHostError, NoVideoStreamError)]
    assert len(set(codes)) == len(codes) and not set(codes) & {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 70, 130}
    readme = (repo_root / "README.md").read_text()
    for code in codes:
        assert f"\n| {code} |" in readme


def test_stream_without_audio_is_a_warning(server, capsys):
    rc, out, err = _main(capsys, [server.url("video_only.ts"), "-f", "json"])
    assert rc == 0
    assert json.loads(out)["warnings"] == {"audio": "missing"}


def test_dropped_connection_keeps_the_events_so_far_and_says_it_ended_early(server, media, file_run, capsys):
    rc, out, err = main(["run", server.url("drop/demo1.ts"), "-f", "json", "--device", "cpu"]), *capsys.readouterr()
    assert rc == StreamEndedEarlyError.exit_code
    result = json.loads(out)
    assert "ended early" in result["warnings"]["stream"]
    assert result["duration"] < file_run("ts").duration - 1
    assert "warning" in err and "ended early" in err


def test_stalled_url_ends_after_the_stall_timeout(server, capsys):
    rc = main(["run", server.url("stall/demo1.ts"), "-f", "json", "--device", "cpu", "-q", "--stall-timeout", "2"])
    out, _ = capsys.readouterr()
    assert server.stalled.is_set()
    assert rc == StreamEndedEarlyError.exit_code
    assert "ended early" in json.loads(out)["warnings"]["stream"]


def test_stall_timeout_reaches_the_library(server):
    result = locate(server.url("stall/demo1.ts"), device="cpu", stall_timeout=1.5)  # a run option, as --stall-timeout
    assert "stream" in result.warnings


def test_list_file_reads_paths_urls_and_comments(tmp_path):
    lst = tmp_path / "inputs.txt"
    lst.write_text("# my inputs\n\nclip.mp4\n  http://h/x.ts  \n/abs/y.mkv\n")
    assert read_list(lst) == [str(tmp_path / "clip.mp4"), "http://h/x.ts", "/abs/y.mkv"]


def test_batch_list_file_records_each_failure_and_goes_on(server, media, tmp_path, capsys):
    lst = tmp_path / "inputs.txt"
    lst.write_text("\n".join([
        "# good and bad lines",
        str(media["mp4"]),
        server.url("demo1.ts"),
        str(tmp_path / "no-such.mp4"),
        server.url("missing"),
        f"http://127.0.0.1:{free_port()}/x.ts",
    ]) + "\n")
    out = tmp_path / "out.jsonl"
    # --in-process: what is tested is reading the list, not the worker process (tests/runners)
    rc = main(["batch", str(lst), "--out", str(out), "--device", "cpu", "-q", "--in-process"])
    assert rc == 1
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["video"] for r in records] == read_list(lst)
    ok = [r for r in records if "error" not in r]
    bad = {r["video"]: r for r in records if "error" in r}
    assert len(ok) == 2 and all(r["events"] for r in ok)
    assert bad[server.url("missing")]["error_code"] == RemoteNotFoundError.exit_code
    assert bad[str(tmp_path / "no-such.mp4")]["error_code"] == 3
    assert len(bad) == 3


def test_stalled_pipe_ends_after_the_stall_timeout_with_the_events_so_far(media, file_run, monkeypatch, capsys):
    data = remux_to_ts(DEMO, media["ts"].parent / "demo1x2.ts", repeat=2).read_bytes()
    rc, out, err = _piped(monkeypatch, capsys, ["-f", "json", "--device", "cpu", "-q", "--stall-timeout", "2"], data,
                          hold_open=True)
    assert rc == StreamEndedEarlyError.exit_code, err
    result = json.loads(out)
    assert "no data on standard input for 2 s" in result["warnings"]["stream"]
    assert result["events"], "the events of the half that arrived are written"
    assert result["duration"] < file_run("ts").duration * 2 - 5


def test_redteam_silent_pipe_from_the_start_is_10(monkeypatch, capsys):
    """Red-team finding 14: a stall before the first data is a stall (10), not unreadable media (4)."""
    rc, out, err = _piped(monkeypatch, capsys, ["--device", "cpu", "-q", "--stall-timeout", "1"], b"", hold_open=True)
    assert rc == StreamEndedEarlyError.exit_code and out == ""  # a stall before the first data is still a stall
    assert err.count("\n") == 1 and "--stall-timeout" in err


def test_stream_outputs_are_named_after_stdin_or_the_url(server, media, tmp_path, monkeypatch, capsys):
    rc, _, err = _piped(monkeypatch, capsys, ["-o", str(tmp_path / "pipe"), "-f", "json,srt", "-q", "--device", "cpu"],
                        media["ts"].read_bytes())
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / "pipe").iterdir()) == ["stdin.json", "stdin.srt"]
    url = server.url("demo1.ts") + "?token=abc"
    rc, _, err = _main(capsys, [url, "-o", str(tmp_path / "url"), "-f", "json"])
    assert rc == 0, err
    assert [p.name for p in (tmp_path / "url").iterdir()] == ["demo1.json"]
    assert json.loads((tmp_path / "url" / "demo1.json").read_text())["video"] == url


def test_video_stem_names():
    from avlocate.media.inputs import video_stem

    assert video_stem("-") == "stdin"
    assert video_stem("http://h/a/demo1.mp4?t=1") == "demo1"
    assert video_stem("rtsp://cam.local:554/") == "cam.local"
    assert video_stem("http://h/live?id=3") == "live"
    assert video_stem("a/b/x.mp4") == "x" and video_stem(Path("a/b/x.mp4")) == "x"
