"""Red-team findings 1, 2, 9 and 15 of issue 25: the batch results file and the batch's inputs.

1. ``batch --out`` wiped an existing file that was not a results file (a text, a video, a list).
2. ``batch --out`` on a non-regular file read it without limit (/dev/zero) or hung (a FIFO).
9. ``batch FOLDER`` silently skipped subfolders it could not read.
15. A list naming the same video twice (or ``a/../a/x.mp4``) gave duplicate result lines.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from avlocate.errors import InputNotFoundError, OutputError
from avlocate.runners.batch import find_videos
from avlocate.runners.jsonl import MAX_LINE_BYTES, ResultsFile, check_results_file
from avlocate.runners.resume_check import last_lines

REPO = Path(__file__).resolve().parents[2]
LINE = json.dumps({"video": "a.mp4", "events": [], "model": "m"}) + "\n"


@pytest.fixture
def one_video(tmp_path, repo_root):
    d = tmp_path / "vids"
    d.mkdir()
    shutil.copy(repo_root / "samples" / "demo1.mp4", d / "a.mp4")
    return d


# -- 1: never wipe a file that is not a results file --------------------------------------------

@pytest.mark.parametrize("what", ["text", "video", "run_json", "list"])
def test_redteam_batch_out_on_a_file_that_is_not_results_is_refused_unchanged(cli, one_video, tmp_path, what):
    if what == "text":
        out = tmp_path / "notes.txt"
        out.write_text("my notes\nsecond line\n")
    elif what == "video":
        out = one_video / "a.mp4"  # the typo of the issue: --out vids/a.mp4
    elif what == "run_json":
        out = tmp_path / "demo1.json"
        out.write_text(json.dumps({"video": "x", "events": []}, indent=2) + "\n")
    else:
        out = tmp_path / "list.txt"
        out.write_text(f"{one_video / 'a.mp4'}\n")
    before = out.read_bytes()
    r = cli("batch", one_video, "--out", out, "-q", "--in-process")
    assert r.code == OutputError.exit_code, r.err
    assert r.err.count("\n") == 1 and "not an avlocate results file" in r.err
    assert out.read_bytes() == before
    r = cli("batch", one_video, "--out", out, "-q", "--in-process", "--overwrite")  # not even with --overwrite
    assert r.code == OutputError.exit_code and out.read_bytes() == before


def test_redteam_only_an_unterminated_last_line_is_ever_cut(tmp_path):
    out = tmp_path / "r.jsonl"
    # a terminated invalid last line is not a torn write: refused, not cut
    out.write_text(LINE + "not a result\n")
    with pytest.raises(OutputError, match="line 2"):
        ResultsFile(out)
    assert out.read_text() == LINE + "not a result\n"
    # a file that is one unterminated line of something else: refused, not cut to nothing
    out.write_text("hello")
    with pytest.raises(OutputError, match="not an avlocate results file"):
        ResultsFile(out)
    assert out.read_text() == "hello"
    # our own line torn by a crash is cut, alone or after whole lines
    for content, kept in ((LINE + LINE[:20], LINE), (LINE[:20], "")):
        out.write_text(content)
        with ResultsFile(out) as results:
            assert results.done == ({"a.mp4"} if kept else set())
        assert out.read_text() == kept


# -- 2: a non-regular --out is refused before anything reads it ---------------------------------

@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_redteam_device_as_results_file_is_refused(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    for check in (lambda: ResultsFile(Path(device)), lambda: last_lines(Path(device)),
                  lambda: check_results_file(Path(device))):
        with pytest.raises(OutputError, match="not a regular file"):
            check()


def test_redteam_fifo_as_batch_out_is_one_line_not_a_hang(cli, tmp_path, one_video):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    ran: list = []
    worker = threading.Thread(target=lambda: ran.append(cli("batch", one_video, "--out", fifo, "-q", "--in-process")))
    worker.start()
    worker.join(timeout=60)  # a bound for the old behaviour (blocked reading the pipe), not a wait
    if worker.is_alive():  # release the reader: a writer opens and closes the pipe (EOF)
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join()
        pytest.fail("batch blocked reading a FIFO given as --out")
    r = ran[0]
    assert r.code == OutputError.exit_code, r.err
    assert "not a regular file" in r.err and r.err.count("\n") == 1


def test_redteam_reading_results_is_bounded_by_line_length(tmp_path):
    out = tmp_path / "r.jsonl"
    with open(out, "wb") as f:
        f.write(LINE.encode())
        f.truncate(len(LINE) + MAX_LINE_BYTES + 2)  # a sparse run of zero bytes: one endless "line"
    with pytest.raises(OutputError, match="longer than"):
        last_lines(out)
    assert out.stat().st_size == len(LINE) + MAX_LINE_BYTES + 2


# -- 9: an unreadable subfolder is reported, not skipped ----------------------------------------

def test_redteam_unreadable_subfolder_refuses_the_batch(tmp_path):
    root = tmp_path / "vids"
    (root / "ok").mkdir(parents=True)
    (root / "locked").mkdir()
    (root / "ok" / "a.mp4").write_bytes(b"x")
    (root / "locked" / "b.mp4").write_bytes(b"x")
    os.chmod(root / "locked", 0)
    try:
        code = ("import sys; from pathlib import Path; from avlocate.runners.batch import find_videos\n"
                "try:\n    find_videos(Path(sys.argv[1]))\nexcept Exception as e:\n"
                "    print(type(e).__name__, e)\nelse:\n    print('no error')\n")
        cmd = [sys.executable, "-c", code, str(root)]
        if os.geteuid() == 0:  # root reads any folder: drop the capabilities that allow it
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: cannot make a folder unreadable")
            caps = "-dac_override,-dac_read_search"
            cmd = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PYTHONPATH=str(REPO)))
    finally:
        os.chmod(root / "locked", 0o755)
    assert r.stdout.startswith(InputNotFoundError.__name__), r.stdout + r.stderr
    assert "locked" in r.stdout and "cannot read this folder" in r.stdout


# -- 15: each video once, by resolved path -------------------------------------------------------

def test_redteam_list_naming_a_video_twice_gives_it_once(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.mp4").write_bytes(b"x")
    (tmp_path / "y.mp4").write_bytes(b"x")
    (tmp_path / "link.mp4").symlink_to(tmp_path / "y.mp4")
    listing = tmp_path / "list.txt"
    listing.write_text("a/x.mp4\ny.mp4\na/../a/x.mp4\na/x.mp4\nlink.mp4\nhttp://h/v.mp4\nhttp://h/v.mp4\n")
    duplicates: list[str] = []
    videos = find_videos(listing, duplicates=duplicates)
    assert videos == [str(tmp_path / "a/x.mp4"), str(tmp_path / "y.mp4"), "http://h/v.mp4"]
    assert len(duplicates) == 4
    # a folder with a link to one of its own files: the file once
    assert [Path(v).name for v in find_videos(tmp_path)] == ["x.mp4", "link.mp4"]
