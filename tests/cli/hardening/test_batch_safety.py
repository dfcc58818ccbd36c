"""Crash safety of `avlocate batch`: SIGKILL + resume, one writer per output, full disk, time limit."""
from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avlocate.runners.batch import run_batch
from avlocate.errors import EXIT_INTERNAL, InputNotFoundError, OutputError, TimeoutError_, UsageError
from avlocate.runners.jsonl import ResultsFile

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "media"))
from corpus import make_video  # noqa: E402

from harness import MODEL, REPO, avlocate_cmd, subprocess_env  # noqa: E402


@pytest.fixture(scope="module")
def four_videos(tmp_path_factory) -> Path:
    """Four small videos, long enough (4 s) that a batch over them takes a few seconds."""
    d = tmp_path_factory.mktemp("four") / "videos"
    d.mkdir()
    for i in range(4):
        make_video(d / f"v{i}.mp4", seconds=4.0, fps=10, sample_rate=16000, channels=1)
    return d


def _valid_lines(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]  # raises on any invalid line


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _kill_after_first_line(args: list[str], out: Path) -> tuple[int, list[int]]:
    """Start a batch, SIGKILL it as soon as its first line is on disk; (lines then, its children)."""
    proc = subprocess.Popen(args, cwd=REPO, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.005)
    assert proc.poll() is None, f"batch ended before it could be killed: {proc.stderr.read().decode()}"
    children = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return out.read_bytes().count(b"\n"), children


@pytest.mark.parametrize("isolated", [False, True], ids=["in-process", "worker-process"])
def test_sigkill_then_resume_gives_every_video_exactly_once(four_videos, model_dir, tmp_path, isolated, cli):
    out = tmp_path / "results.jsonl"
    batch = ["batch", four_videos, "--out", out, "--model", MODEL, "-q"]
    batch += ["--timeout", "60"] if isolated else ["--in-process"]
    args = avlocate_cmd(*batch)
    written, children = _kill_after_first_line(args, out)
    assert 1 <= written < 4, "the kill did not land part-way"
    if isolated:
        assert children, "the batch should have had a worker process"
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(c) for c in children), "worker outlived its SIGKILLed batch"
    # A kill in the middle of a write leaves a torn line: simulate one on top of the real kill.
    first = out.read_text(encoding="utf-8").splitlines()[0]
    with open(out, "a", encoding="utf-8") as f:
        f.write(first[: len(first) // 2])
    # The resume is the same command again; it runs in this process (the kill is what needed one).
    done = cli(*batch)
    assert done.code == 0, done.err
    records = _valid_lines(out)
    videos = [r["video"] for r in records]
    assert sorted(videos) == sorted(str(p) for p in four_videos.glob("*.mp4"))
    assert all("error" not in r for r in records)


def test_second_batch_on_the_same_output_refuses(four_videos, model_dir, tmp_path, cli):
    out = tmp_path / "results.jsonl"
    args = avlocate_cmd("batch", four_videos, "--out", out, "--model", MODEL, "-q")
    first = subprocess.Popen(args, cwd=REPO, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (out.exists() and out.read_bytes().count(b"\n") >= 1) and time.monotonic() < deadline:
            assert first.poll() is None, first.stderr.read().decode()
            time.sleep(0.005)
        second = cli("batch", four_videos, "--out", out, "--model", MODEL, "-q")
        assert first.poll() is None, "the first batch finished too early to test the lock"
        assert second.code == OutputError.exit_code
        assert second.err.count("\n") == 1 and "another `avlocate batch` is writing this file" in second.err
    finally:
        first.wait(timeout=180)
    assert first.returncode == 0, first.stderr.read().decode()
    records = _valid_lines(out)
    assert len(records) == 4 == len({r["video"] for r in records})
    # Once the first batch is done the lock is gone: a re-run works and has nothing left to do.
    again = cli("batch", four_videos, "--out", out, "--model", MODEL, "-q")
    assert again.code == 0 and _valid_lines(out) == records


def test_lock_is_per_file_and_released_on_close(tmp_path):
    out = tmp_path / "r.jsonl"
    with ResultsFile(out):
        with pytest.raises(OutputError, match="another `avlocate batch`"):
            ResultsFile(out)
        ResultsFile(tmp_path / "other.jsonl").close()  # another output is not blocked
    ResultsFile(out).close()


def _limit_file_size(limit: int):  # noqa: ANN202
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_full_disk_gives_one_line_error_and_no_partial_line(four_videos, model_dir, tmp_path, cli):
    """RLIMIT_FSIZE stands in for a full disk: the line that crosses 1000 bytes fails part-way."""
    out = tmp_path / "results.jsonl"
    args = avlocate_cmd("batch", four_videos, "--out", out, "--model", MODEL)
    done = subprocess.run(args, cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=180,
                          preexec_fn=_limit_file_size(1000))
    assert done.returncode == OutputError.exit_code, done.stderr
    assert done.stderr.count("\n") == 1 and "writing results failed" in done.stderr, done.stderr
    records = _valid_lines(out)  # no torn line: the partial write was cut back
    assert 1 <= len(records) < 4 and out.stat().st_size <= 1000
    # Room again (and in this process, as the file-size limit needed one): resuming completes the
    # batch without redoing the first video.
    done = cli("batch", four_videos, "--out", out, "--model", MODEL, "-q")
    assert done.code == 0, done.err
    final = _valid_lines(out)
    assert final[: len(records)] == records and len(final) == 4 == len({r["video"] for r in final})


def test_enospc_midway_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "r.jsonl"
    results = ResultsFile(out)
    results.append({"video": "a.mp4", "events": []})
    before = out.read_bytes()
    real_write = os.write
    calls = []

    def failing_write(fd, data):  # noqa: ANN001, ANN202
        if fd != results.fd:
            return real_write(fd, data)
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))  # a short write, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", failing_write)
    with pytest.raises(OutputError, match="No space left on device") as info:
        results.append({"video": "b.mp4", "events": [{"label": "x" * 200}]})
    monkeypatch.undo()
    assert len(calls) == 2 and "\n" not in str(info.value)
    assert out.read_bytes() == before
    results.close()


@pytest.mark.parametrize("kind", ["directory", "below-a-file"])
def test_unwritable_output_is_a_one_line_error(cli, four_videos, tmp_path, kind):
    if kind == "directory":
        out = tmp_path / "out.jsonl"
        out.mkdir()
    else:
        (tmp_path / "file").write_text("")
        out = tmp_path / "file" / "out.jsonl"
    r = cli("batch", four_videos, "--out", out)
    # A folder where a file is expected is 3, as the README's table says (red-team finding 14).
    code = InputNotFoundError.exit_code if kind == "directory" else OutputError.exit_code
    assert r.code == code and r.err.count("\n") == 1 and str(out) in r.err


def test_invalid_line_in_the_middle_is_refused_not_dropped(tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text('{"video": "a"}\nnot json\n{"video": "c"}\n')
    with pytest.raises(OutputError, match="line 2"):
        ResultsFile(out)
    assert out.read_text() == '{"video": "a"}\nnot json\n{"video": "c"}\n'


TARGETS = '''
import os, signal, threading, time

def run(video, options):
    name = os.path.basename(video)
    if "hang" in name:
        time.sleep(3600)
    if "segv" in name:
        time.sleep(float(options.get("segv_after", 0)))
        os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(float(options.get("work", 0)))
    return {"video": video, "duration": 1.0, "events": [], "pid": os.getpid(),
            "thread": threading.current_thread().name}
'''


@pytest.fixture
def fake_jobs(tmp_path):
    """A job function that hangs or segfaults on request, and a folder of (empty) videos."""
    (tmp_path / "fake_target.py").write_text(TARGETS)
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("a.mp4", "b_hang.mp4", "c.mp4", "d_segv.mp4", "e.mp4"):
        (folder / name).write_bytes(b"")
    return folder, subprocess_env(PYTHONPATH=str(tmp_path))


def test_hang_and_crash_cost_one_line_each(fake_jobs, tmp_path):
    folder, env = fake_jobs
    out = tmp_path / "r.jsonl"
    started = time.monotonic()
    summary = run_batch(folder, out, {}, timeout=2.0, target="fake_target:run", env=env)
    assert time.monotonic() - started < 60
    records = {Path(r["video"]).name: r for r in _valid_lines(out)}
    assert list(records) == ["a.mp4", "b_hang.mp4", "c.mp4", "d_segv.mp4", "e.mp4"]  # input order kept
    assert records["b_hang.mp4"]["error_code"] == TimeoutError_.exit_code
    assert "--timeout 2" in records["b_hang.mp4"]["error"]
    assert records["d_segv.mp4"]["error_code"] == EXIT_INTERNAL and "SIGSEGV" in records["d_segv.mp4"]["error"]
    assert all("error" not in records[n] for n in ("a.mp4", "c.mp4", "e.mp4"))
    assert records["a.mp4"]["pid"] != records["c.mp4"]["pid"] != records["e.mp4"]["pid"]  # replaced after each
    assert (summary.succeeded, summary.failed) == (3, 2)


def test_worker_is_reused_and_several_workers_share_the_work(fake_jobs, tmp_path):
    folder, env = fake_jobs
    for name in ("b_hang.mp4", "d_segv.mp4"):
        (folder / name).unlink()
    for i in range(4):
        (folder / f"x{i}.mp4").write_bytes(b"")
    out = tmp_path / "one.jsonl"
    run_batch(folder, out, {}, timeout=30.0, target="fake_target:run", env=env)
    assert len({r["pid"] for r in _valid_lines(out)}) == 1  # one persistent worker for all 7
    out = tmp_path / "two.jsonl"
    run_batch(folder, out, {}, workers=2, target="fake_target:run", env=env)
    records = _valid_lines(out)
    assert len(records) == 7 == len({r["video"] for r in records})


def test_videos_in_flight_in_workers_lose_only_the_guilty_video(fake_jobs, tmp_path):
    """Two videos per worker at once: a hang times out alone and its partner is handed out again;
    a segfault takes its partner down, and both run again alone, so only the guilty one is an
    error line."""
    folder, env = fake_jobs
    out = tmp_path / "r.jsonl"
    # "work" keeps each good video busy long enough to be in flight beside the hang or the crash.
    summary = run_batch(folder, out, {"work": 0.5, "segv_after": 0.2}, timeout=3.0, target="fake_target:run",
                        env=env, in_flight=2)
    records = {Path(r["video"]).name: r for r in _valid_lines(out)}
    assert sorted(records) == ["a.mp4", "b_hang.mp4", "c.mp4", "d_segv.mp4", "e.mp4"]
    assert records["b_hang.mp4"]["error_code"] == TimeoutError_.exit_code
    assert records["d_segv.mp4"]["error_code"] == EXIT_INTERNAL and "SIGSEGV" in records["d_segv.mp4"]["error"]
    assert all("error" not in records[n] for n in ("a.mp4", "c.mp4", "e.mp4"))
    assert any(records[n]["thread"].startswith("avlocate-video") for n in ("a.mp4", "c.mp4", "e.mp4"))
    assert (summary.succeeded, summary.failed) == (3, 2)

    out = tmp_path / "two.jsonl"  # two workers, two videos each, no time limit
    for name in ("b_hang.mp4", "d_segv.mp4"):
        (folder / name).unlink()
    summary = run_batch(folder, out, {"work": 0.3}, workers=2, target="fake_target:run", env=env, in_flight=2)
    records = _valid_lines(out)
    assert sorted(Path(r["video"]).name for r in records) == ["a.mp4", "c.mp4", "e.mp4"]
    assert (summary.succeeded, summary.failed) == (3, 0)


def test_timeout_must_be_positive(cli, four_videos, tmp_path):
    r = cli("batch", four_videos, "--out", tmp_path / "r.jsonl", "--timeout", "0")
    assert r.code == 2 and r.err.count("\n") == 1 and "--timeout" in r.err


def test_names_that_are_not_utf8_are_written_and_resumed(tmp_path):
    """Was: UnicodeEncodeError -> `avlocate batch` ended with exit 70 at such a file."""
    name = str(tmp_path / os.fsdecode(b"caf\xe9.mp4"))
    out = tmp_path / "r.jsonl"
    with ResultsFile(out) as results:
        results.append({"video": name, "events": []})
        results.append({"video": "plain.mp4", "events": []})
    with ResultsFile(out) as results:
        assert results.done == {name, "plain.mp4"}
    assert out.read_bytes().decode("ascii").count("\n") == 2  # valid UTF-8 (ASCII-escaped) JSON lines


def _has_open(pid: int, target: Path) -> bool:
    """True once process ``pid`` holds ``target`` open (read from /proc/PID/fd)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if Path(os.readlink(fd)) == target:
                return True
        except OSError:
            continue
    return False


def _wait_until(condition, what: str, limit: float = 120.0) -> None:
    """Poll ``condition`` until it holds; the limit only ends a test that would otherwise hang."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def test_ctrl_c_stops_the_batch_and_its_workers(corpus, model_dir, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    long_video = corpus["ten_hours"].path
    (folder / "long.mkv").symlink_to(long_video)  # keeps a worker busy
    out = tmp_path / "r.jsonl"
    args = avlocate_cmd("batch", folder, "--out", out, "--model", MODEL, "--timeout", "300")
    proc = subprocess.Popen(args, cwd=REPO, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    target = long_video.resolve()
    # Events, not guesses: Ctrl-C comes once a worker is decoding the long video (it holds it open).
    _wait_until(lambda: proc.poll() is not None or any(_has_open(c, target) for c in _children(proc.pid)),
                "a worker opening the long video")
    children = _children(proc.pid)
    assert proc.poll() is None and children, proc.stderr.read().decode()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    assert proc.wait(timeout=120) == 130
    assert "Traceback" not in proc.stderr.read().decode()
    _wait_until(lambda: not any(_alive(c) for c in children), "the workers to exit after the batch")
    _valid_lines(out)


def test_each_worker_gets_its_own_device(tmp_path):
    """`--device cuda:0,cuda:1` spreads the videos over one worker per device (checked with a
    target that reports the device it was given, as a GPU run cannot happen here)."""
    from avlocate.runners.batch import split_devices

    (tmp_path / "device_target.py").write_text(
        "import os, time\n"
        "def run(video, options):\n"
        "    time.sleep(0.8)  # long enough that both workers are up before the queue is empty\n"
        "    return {'video': video, 'device': options['device'], 'pid': os.getpid(), 'events': []}\n")
    folder = tmp_path / "videos"
    folder.mkdir()
    for i in range(6):
        (folder / f"v{i}.mp4").write_bytes(b"")
    out = tmp_path / "r.jsonl"
    run_batch(folder, out, {"device": "cuda:0, cuda:1"}, target="device_target:run",
              env=subprocess_env(PYTHONPATH=str(tmp_path)))
    records = _valid_lines(out)
    assert len(records) == 6
    by_pid: dict[int, set[str]] = {}
    for r in records:
        by_pid.setdefault(r["pid"], set()).add(r["device"])
    assert sorted(d for devs in by_pid.values() for d in devs) == ["cuda:0", "cuda:1"]  # two workers
    assert all(len(devs) == 1 for devs in by_pid.values())  # each worker keeps its device
    assert split_devices("cpu") == ["cpu"]
    with pytest.raises(UsageError, match="--device"):
        split_devices("cuda:0,,cuda:1")
