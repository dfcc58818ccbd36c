"""Per-stage timing in each result and the end-of-run throughput line (issue: throughput, item 4)."""
from __future__ import annotations

import json
import re

import pytest

from avlocate.accounting import summary_line

STAGES = {"decode", "extract", "head", "postprocess", "total"}


def test_summary_line_sums_successful_videos_only():
    records = [
        {"duration": 10.0, "timing": {"decode": 0.5}, "throughput": {"frames_decoded": 80}},
        {"duration": 30.0, "timing": {"decode": 1.5}, "throughput": {"frames_decoded": 240}},
        {"video": "bad.mp4", "error": "not a video", "duration": None},
    ]
    line = summary_line(records, wall_seconds=4.0)
    assert line == "decoded 320 frames (160 frames/s); 40.0 s of video in 4.0 s (10.0x real time)"
    assert summary_line([records[2]], 1.0) is None
    assert summary_line([], 1.0) is None
    # features reused from disk: nothing decoded, only the real-time factor
    assert summary_line([{"duration": 5.0, "timing": {}}], 2.0) == "5.0 s of video in 2.0 s (2.5x real time)"


@pytest.mark.parametrize("prefetch", ["process", "off"])
def test_result_records_each_stage_and_what_was_decoded(repo_root, monkeypatch, prefetch):
    import avlocate
    from avlocate.pipeline.models import load_model

    monkeypatch.setenv("AVLOCATE_PREFETCH", prefetch)
    video = repo_root / "samples" / "demo1.mp4"
    result = avlocate.locate(video, model="lite-demo", device="cpu").to_dict()
    timing = result["timing"]
    assert set(timing) == STAGES
    assert all(v >= 0 for v in timing.values()) and timing["decode"] > 0 and timing["extract"] > 0
    assert timing["total"] >= timing["extract"] + timing["head"] + timing["postprocess"] - 0.002
    fps = load_model("lite-demo", "cpu").extractor.config.fps
    throughput = result["throughput"]
    assert throughput["frames_decoded"] == int(result["duration"] * fps + 1e-6)  # the extractor's frames
    assert throughput["decode_fps"] > 0 and throughput["realtime_factor"] > 0


def test_run_prints_the_throughput_line_unless_quiet(cli, repo_root, tmp_path):
    video = repo_root / "samples" / "demo2.mp4"
    r = cli("run", video, "--model", "lite-demo", "--format", "json")
    assert r.code == 0, r.err
    lines = [line for line in r.err.splitlines() if "real time" in line]
    assert len(lines) == 1
    m = re.fullmatch(r"avlocate: decoded (\d+) frames \(\d+ frames/s\); ([\d.]+) s of video in [\d.]+ s \([\d.]+x real time\)",
                     lines[0])
    data = json.loads(r.out)
    assert m and int(m.group(1)) == data["throughput"]["frames_decoded"]
    assert float(m.group(2)) == pytest.approx(data["duration"], abs=0.05)
    quiet = cli("run", video, "--model", "lite-demo", "--format", "json", "--quiet")
    assert quiet.code == 0 and quiet.err == ""


def test_batch_prints_the_throughput_line_of_the_videos_it_ran(cli, repo_root, tmp_path):
    import shutil

    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(repo_root / "samples" / "demo1.mp4", folder / "a.mp4")
    shutil.copy(repo_root / "samples" / "demo2.mp4", folder / "b.mp4")
    (folder / "c.mp4").write_text("not a video")
    out = tmp_path / "r.jsonl"
    r = cli("batch", folder, "--out", out, "--model", "lite-demo")  # the default: a worker process
    assert r.code == 1  # c.mp4 failed
    records = [json.loads(line) for line in out.read_text().splitlines()]
    frames = sum(rec["throughput"]["frames_decoded"] for rec in records if "error" not in rec)
    video_s = sum(rec["duration"] for rec in records if "error" not in rec)
    (line,) = [x for x in r.err.splitlines() if "real time" in x]
    assert line.startswith(f"avlocate: decoded {frames} frames") and f"{video_s:.1f} s of video" in line
    again = cli("batch", folder, "--out", out, "--model", "lite-demo", "--in-process")  # nothing left to run
    assert not [x for x in again.err.splitlines() if "real time" in x]
    # quiet: the same, in-process (no second worker start-up; what is tested is the batch's own line)
    assert cli("batch", folder, "--out", out, "--model", "lite-demo", "--in-process", "--overwrite", "-q").err == ""
