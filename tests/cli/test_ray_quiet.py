"""Issue 20, item 17: a successful `batch --engine ray` prints avlocate's lines only on stderr."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("ray", reason="Ray not installed: pip install 'avlocate[ray]'")


def test_ray_batch_stderr_is_avlocates_own(tmp_path, repo_root):
    videos = tmp_path / "v"
    videos.mkdir()
    shutil.copy(repo_root / "samples" / "demo1.mp4", videos / "a.mp4")
    shutil.copy(repo_root / "samples" / "demo2.mp4", videos / "b.mp4")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    r = subprocess.run([sys.executable, "-m", "avlocate", "batch", str(videos), "--out", str(tmp_path / "r.jsonl"),
                        "-m", "lite-demo", "--engine", "ray", "--workers", "2"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert all(line.startswith("avlocate: ") for line in lines), r.stderr[-2000:]
    assert "2 done, 0 failed" in lines[0] and "hang forever" not in r.stderr
