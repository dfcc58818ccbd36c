"""Error lines name the file once: "avlocate: failed: /x/a.mp4: not a readable ..." (batch, extract)
and "avlocate: /x/a.mp4: not a readable ..." (run), never "/x/a.mp4: /x/a.mp4: ...".

Was: batch and extract printed "failed: PATH: ERROR" where ERROR already started with PATH.
"""
from __future__ import annotations

import json
import shutil

import pytest

from avlocate.errors import naming

BAD = ("empty", "text_as_mp4", "truncated", "audio_only", "directory", "missing_path")  # each an error line


def test_naming_puts_the_path_in_front_once():
    assert naming("/x/a.mp4", "/x/a.mp4: empty file") == "/x/a.mp4: empty file"
    assert naming("/x/a.mp4", "internal error: ValueError: boom") == "/x/a.mp4: internal error: ValueError: boom"
    assert naming("./a.mp4", "a.mp4: empty file") == "a.mp4: empty file"  # Path() spelling of the same name
    assert naming("/x/a.mp4", "/x/a.mp4.part: gone") == "/x/a.mp4: /x/a.mp4.part: gone"  # another file


@pytest.fixture
def folder(tmp_path, bad_inputs, repo_root):
    d = tmp_path / "videos"
    d.mkdir()
    shutil.copy(repo_root / "samples" / "demo1.mp4", d / "good.mp4")
    for name in ("empty", "text_as_mp4"):
        shutil.copy(bad_inputs[name], d / f"{name}.mp4")
    return d


def _failed_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("avlocate: failed: ")]


def test_batch_names_the_path_once(cli, folder, tmp_path):
    out = tmp_path / "r.jsonl"
    r = cli("batch", folder, "--out", out, "--model", "lite-demo")
    assert r.code == 1, r.err
    lines = _failed_lines(r.err)
    assert len(lines) == 2, r.err
    for name in ("empty", "text_as_mp4"):
        path = str(folder / f"{name}.mp4")
        (line,) = [x for x in lines if path in x]
        assert line.count(path) == 1 and line.startswith(f"avlocate: failed: {path}: "), line
    for record in map(json.loads, out.read_text().splitlines()):
        if "error" in record:  # the JSONL error names its video once too, at the start
            assert record["error"].startswith(record["video"] + ": ") and record["error"].count(record["video"]) == 1


@pytest.mark.parametrize("name", BAD)
def test_run_names_the_path_once(cli, bad_inputs, name):
    path = str(bad_inputs[name])
    r = cli("run", path, "-q", "-f", "json", "--model", "lite-demo")
    assert r.code != 0 and r.err.count("\n") == 1, r.err
    assert r.err.startswith(f"avlocate: {path}: ") and not r.err.startswith(f"avlocate: {path}: {path}"), r.err
    if name != "directory":  # whose hint quotes the path: "use `avlocate batch PATH` for folders"
        assert r.err.count(path) == 1, r.err


def test_extract_names_the_path_once(cli, folder, tmp_path):
    out = tmp_path / "features"
    r = cli("extract", folder, "-e", "lite", "-o", out)
    assert r.code == 1, r.err
    lines = _failed_lines(r.err)
    assert len(lines) == 2, r.err
    for line in lines:
        path = line.removeprefix("avlocate: failed: ").split(": ", 1)[0]
        assert line.count(path) == 1 and path.startswith(str(folder)), line
    failures = [json.loads(x) for x in (out / "failures.jsonl").read_text().splitlines()]
    assert len(failures) == 2
    for f in failures:
        assert f["error"].startswith(f["video"] + ": ") and f["error"].count(f["video"]) == 1
