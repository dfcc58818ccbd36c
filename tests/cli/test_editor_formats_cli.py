"""`avlocate run` on the demo with the editor formats: each file read back by its own rules and
compared with the JSON events of the same run."""
import csv
import io
import json

import opentimelineio as otio
import pytest


def test_demo_in_the_editor_formats(cli, repo_root, tmp_path):
    video = repo_root / "samples" / "demo1.mp4"
    out = tmp_path / "out"
    r = cli("run", video, "-q", "-f", "json,otio,audacity,tsv", "-o", out)
    assert r.code == 0, r.err
    assert sorted(p.name for p in out.iterdir()) == ["demo1.json", "demo1.labels.txt", "demo1.otio", "demo1.tsv"]
    events = json.loads((out / "demo1.json").read_text())["events"]
    assert events  # the demo has events, so every comparison below compares something

    timeline = otio.adapters.read_from_file(str(out / "demo1.otio"))
    (clip,) = timeline.tracks[0]
    assert otio.url_utils.filepath_from_url(clip.media_reference.target_url) == str(video)
    assert [m.name for m in clip.markers] == [e["label"] for e in events]
    for m, e in zip(clip.markers, events):
        assert m.marked_range.start_time.to_seconds() == pytest.approx(e["start"], abs=1e-6)
        assert m.marked_range.end_time_exclusive().to_seconds() == pytest.approx(e["end"], abs=1e-6)
        assert m.metadata["avlocate"]["score"] == e["score"]

    labels = [line.split("\t") for line in (out / "demo1.labels.txt").read_text().splitlines()]
    assert [(float(s), float(t), name) for s, t, name in labels] == [(e["start"], e["end"], e["label"]) for e in events]

    rows = list(csv.DictReader(io.StringIO((out / "demo1.tsv").read_text()), dialect="excel-tab"))
    assert [(int(x["start"]), int(x["end"]), x["text"]) for x in rows] == \
        [(round(e["start"] * 1000), round(e["end"] * 1000), e["label"]) for e in events]


def test_tsv_on_stdout(cli, repo_root):
    r = cli("run", repo_root / "samples" / "demo1.mp4", "-q", "-f", "tsv")
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == "start\tend\ttext" and len(r.out.splitlines()) > 1
