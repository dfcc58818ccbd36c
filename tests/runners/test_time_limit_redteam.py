"""Red-team finding 3 (batch side): a default per-video time limit, proportional to the video's
length, that ``--timeout`` replaces and ``--no-timeout`` lifts (avlocate/runners/time_limit.py)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from avlocate.errors import TimeoutError_
from avlocate.runners import time_limit
from avlocate.runners.batch import run_batch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "media"))
import corpus  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

TARGET = '''
import os, threading

def run(video, options):
    if "hang" in os.path.basename(video):
        threading.Event().wait()  # never set: only the time limit ends this
    return {"video": video, "duration": 1.0, "events": []}
'''


def test_redteam_default_limit_is_proportional_to_the_length(tmp_path, monkeypatch):
    clip = corpus.make_video(tmp_path / "two.mp4", seconds=2.0, audio=False)
    monkeypatch.setattr(time_limit, "FLOOR_S", 1e6)
    assert time_limit.default_limit(str(clip)) == 1e6  # short: the floor
    monkeypatch.setattr(time_limit, "FLOOR_S", 1.0)
    assert time_limit.default_limit(str(clip)) == pytest.approx(time_limit.PER_SECOND * 2.0, rel=0.05)
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    assert time_limit.default_limit(str(tmp_path / "junk.mp4")) == 1.0  # unreadable: the floor
    assert time_limit.default_limit("http://127.0.0.1:9/live.ts") is None  # a stream has no length


def test_redteam_batch_stops_a_hung_video_at_the_default_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(time_limit, "FLOOR_S", 2.0)  # the empty files below cannot be probed: the floor
    (tmp_path / "fake_target.py").write_text(TARGET)
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("a.mp4", "b_hang.mp4", "c.mp4"):
        (folder / name).write_bytes(b"")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))
    out = tmp_path / "r.jsonl"
    summary = run_batch(folder, out, {}, target="fake_target:run", env=env, default_limit=True)
    records = {Path(r["video"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["b_hang.mp4"]["error_code"] == TimeoutError_.exit_code
    assert "default limit" in records["b_hang.mp4"]["error"] and "--no-timeout" in records["b_hang.mp4"]["error"]
    assert "error" not in records["a.mp4"] and "error" not in records["c.mp4"]
    assert (summary.succeeded, summary.failed) == (2, 1)


def test_redteam_no_timeout_does_not_combine_with_timeout(cli, tmp_path):
    r = cli("batch", tmp_path, "--out", tmp_path / "r.jsonl", "--timeout", "5", "--no-timeout")
    assert r.code == 2 and r.err.count("\n") == 1 and "--no-timeout" in r.err
