import json
import shutil

import pytest

from avlocate.runners.batch import _read_done, find_videos


@pytest.fixture
def folder(tmp_path, repo_root, bad_inputs):
    d = tmp_path / "videos"
    (d / "sub").mkdir(parents=True)
    shutil.copy(repo_root / "samples" / "demo1.mp4", d / "a.mp4")
    shutil.copy(repo_root / "samples" / "demo2.mp4", d / "sub" / "b.mp4")
    shutil.copy(bad_inputs["empty"], d / "c_empty.mp4")
    shutil.copy(bad_inputs["text_as_mp4"], d / "d_text.mp4")
    (d / "notes.txt").write_text("not a video, not even tried")
    return d


SMALL = ("--model", "lite-demo")  # the batch's flow is tested, not the model (the default costs more per video)


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_batch_records_failures_and_resumes(cli, folder, tmp_path):
    out = tmp_path / "results.jsonl"
    r = cli("batch", folder, "--out", out, "-q", *SMALL)
    assert r.code == 1  # some videos failed
    lines = _lines(out)
    names = [line["video"].rsplit("/", 1)[-1] for line in lines]
    assert names == ["a.mp4", "c_empty.mp4", "d_text.mp4", "b.mp4"]  # sorted by path
    by_name = dict(zip(names, lines))
    assert by_name["a.mp4"]["events"] and "error" not in by_name["a.mp4"]
    assert by_name["c_empty.mp4"]["error_code"] == 4 and "\n" not in by_name["c_empty.mp4"]["error"]

    before = out.read_text()
    r = cli("batch", folder, "--out", out, "-q", *SMALL)  # resume: nothing new to do
    assert out.read_text() == before

    r = cli("batch", folder, "--out", out, "-q", "--overwrite", "--in-process", *SMALL)  # no second worker to start
    assert len(_lines(out)) == 4


def test_torn_last_line_is_repaired(cli, folder, tmp_path):
    out = tmp_path / "results.jsonl"
    cli("batch", folder, "--out", out, "-q", "--in-process", *SMALL)  # the lines to tear (no worker to start)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][: len(lines[2]) // 2])  # killed mid-write
    assert len(_read_done(out)) == 2
    cli("batch", folder, "--out", out, "-q", *SMALL)
    final = _lines(out)
    assert len(final) == 4 and len({d["video"] for d in final}) == 4


def test_find_videos_survives_symlink_loops(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "v.mp4").write_bytes(b"")
    (tmp_path / "x" / "loop").symlink_to(tmp_path)
    found = find_videos(tmp_path)
    assert [p.name for p in found].count("v.mp4") >= 1
    assert len(found) < 10


def test_batch_on_missing_folder_and_unwritable_out(cli, tmp_path, folder):
    r = cli("batch", tmp_path / "nope", "--out", tmp_path / "r.jsonl")
    assert r.code == 3 and r.err.count("\n") == 1
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    r = cli("batch", folder, "--out", blocker / "r.jsonl")
    assert r.code == 7 and r.err.count("\n") == 1
