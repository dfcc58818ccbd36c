"""Issue 20: what the README promises holds where a new user meets it (through the CLI)."""
from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

MODEL = "lite-demo"  # bundled, fast


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def two_videos(tmp_path, repo_root) -> Path:
    d = tmp_path / "videos"
    d.mkdir()
    shutil.copy(repo_root / "samples" / "demo1.mp4", d / "a.mp4")
    shutil.copy(repo_root / "samples" / "demo2.mp4", d / "b.mp4")
    return d


# -- 1: validate before work, resume safely -------------------------------------------------------

@pytest.mark.parametrize("args, code", [(["-m", "bogus"], 5), (["--device", "tpu"], 2), (["--threshold", "3"], 2)])
def test_batch_mistakes_write_nothing(cli, two_videos, tmp_path, args, code):
    out = tmp_path / "r.jsonl"
    r = cli("batch", two_videos, "--out", out, "-q", *(["-m", MODEL] if "-m" not in args else []), *args)
    assert r.code == code, r.err
    assert r.err.strip().count("\n") == 0 and r.err.startswith("avlocate: ")
    assert not out.exists()  # not a single line, not even an empty file


def test_resume_refuses_lines_of_another_model_or_settings(cli, two_videos, tmp_path):
    out = tmp_path / "r.jsonl"
    assert cli("batch", two_videos, "--out", out, "-q", "-m", MODEL).code == 0
    before = out.read_text()
    assert all(line["settings"] == {"threshold": None, "precision": None} for line in _lines(out))

    r = cli("batch", two_videos, "--out", out, "-q", "-m", "esgnet-demo")
    assert r.code == 2 and "lite-demo" in r.err and "esgnet-demo" in r.err and "--overwrite" in r.err
    assert r.err.strip().count("\n") == 0
    r = cli("batch", two_videos, "--out", out, "-q", "-m", MODEL, "--threshold", "0.9")
    assert r.code == 2 and "0.9" in r.err
    assert out.read_text() == before

    r = cli("batch", two_videos, "--out", out, "-m", MODEL)  # same command: resumes, nothing to do
    assert r.code == 0 and "0 done, 0 failed, 2 already in" in r.err
    r = cli("batch", two_videos, "--out", out, "-q", "-m", "esgnet-demo", "--overwrite")
    assert r.code == 0 and {line["model"] for line in _lines(out)} == {"esgnet-demo"}


def test_failed_videos_keep_exit_1_until_retried(cli, two_videos, tmp_path, repo_root):
    good = (two_videos / "a.mp4").read_bytes()
    (two_videos / "a.mp4").write_text("not a video")  # the first line will be the error
    out = tmp_path / "r.jsonl"
    assert cli("batch", two_videos, "--out", out, "-q", "-m", MODEL).code == 1
    r = cli("batch", two_videos, "--out", out, "-m", MODEL)
    assert r.code == 1 and "failed earlier" in r.err and "--retry-failed" in r.err

    (two_videos / "a.mp4").write_bytes(good)  # the user fixes the file
    r = cli("batch", two_videos, "--out", out, "-m", MODEL, "--retry-failed")
    assert r.code == 0, r.err
    assert "1 done, 0 failed, 1 already in" in r.err
    lines = _lines(out)
    assert len(lines) == 2 and not any("error" in line for line in lines)
    # replaced in place: the redone video's line is where its error line was
    assert [Path(line["video"]).name for line in lines] == ["a.mp4", "b.mp4"]
    assert not list(tmp_path.glob(".r.jsonl*"))  # no temporary file left behind


def test_poisoned_output_from_an_old_run_is_not_trusted(cli, two_videos, tmp_path):
    """Error lines written by an older version (every video failed on a bad -m) keep exit 1."""
    out = tmp_path / "r.jsonl"
    out.write_text("".join(json.dumps({"video": str(v), "error": "no model named 'bogus'", "error_code": 5}) + "\n"
                           for v in sorted(two_videos.iterdir())))
    r = cli("batch", two_videos, "--out", out, "-m", MODEL)
    assert r.code == 1 and "2 of them failed earlier" in r.err
    assert cli("batch", two_videos, "--out", out, "-q", "-m", MODEL, "--retry-failed").code == 0
    assert [line.get("model") for line in _lines(out)] == [MODEL, MODEL]


# -- 2 and 18: a card given by path loads the weights beside it; train-demo's file modes ----------

def test_card_by_path_uses_its_own_weights(cli, tmp_path, repo_root):
    td = tmp_path / "td1"
    trained = cli("train-demo", "--head", "lite", "--out", td, "--videos", "4", "--epochs", "1")
    assert trained.code == 0, trained.err
    r = cli("run", repo_root / "samples" / "demo1.mp4", "-m", td / "lite-demo.json", "-q", "-f", "json")
    assert r.code == 0, r.err
    from avlocate.weights.store import sha256_of

    assert r.json()["weights"] == f"lite-demo.safetensors@{sha256_of(td / 'lite-demo.safetensors')[:12]}"
    modes = {p.suffix: stat.S_IMODE(p.stat().st_mode) for p in td.iterdir()}
    assert modes[".safetensors"] == modes[".json"]


# -- 3 and 10: -o with two videos of the same name; per-video formats refused before any work -----

def test_same_base_name_gets_distinct_files(cli, tmp_path, repo_root):
    for sub, src in (("a", "demo1.mp4"), ("b", "demo2.mp4")):
        (tmp_path / sub).mkdir()
        shutil.copy(repo_root / "samples" / src, tmp_path / sub / "x.mp4")
    out = tmp_path / "out"
    r = cli("run", tmp_path / "a" / "x.mp4", tmp_path / "b" / "x.mp4", "-m", MODEL, "-q", "-f", "srt,json", "-o", out)
    assert r.code == 0, r.err
    assert sorted(p.name for p in out.iterdir()) == ["x-2.json", "x-2.srt", "x.json", "x.srt"]
    assert json.loads((out / "x.json").read_text())["video"].endswith("a/x.mp4")
    assert json.loads((out / "x-2.json").read_text())["video"].endswith("b/x.mp4")


def test_per_video_format_with_two_videos_is_refused_before_work(cli, tmp_path):
    # The videos do not even exist: the refusal comes before anything is opened.
    r = cli("run", tmp_path / "one.mp4", tmp_path / "two.mp4", "-f", "srt", "-m", MODEL)
    assert r.code == 2 and "srt holds one video" in r.err and "-o DIR" in r.err


def test_bad_device_on_run_is_a_usage_error(cli, repo_root):
    r = cli("run", repo_root / "samples" / "demo1.mp4", "--device", "tpu", "-m", MODEL, "-q")
    assert r.code == 2 and "tpu" in r.err


# -- 11: an empty folder, skipped files -----------------------------------------------------------

def test_batch_on_a_folder_without_videos(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    out = tmp_path / "r.jsonl"
    r = cli("batch", tmp_path / "empty", "--out", out, "-m", MODEL)
    assert r.code == 3 and "no videos found" in r.err and "1 other file(s) skipped" in r.err and ".mp4" in r.err
    assert not out.exists()


def test_batch_says_how_many_files_it_skipped(cli, two_videos, tmp_path):
    (two_videos / "notes.txt").write_text("hello")
    r = cli("batch", two_videos, "--out", tmp_path / "r.jsonl", "-m", MODEL)
    assert r.code == 0 and "1 file(s) skipped, not a video extension" in r.err


def test_readme_lists_the_video_extensions(repo_root):
    from avlocate.runners.batch import VIDEO_EXTENSIONS

    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    assert all(f"`{ext}`" in readme for ext in VIDEO_EXTENSIONS)


def test_retry_failed_also_clears_ray_shards(two_videos, tmp_path):
    """With --engine ray the shards feed --out again on the next run: the retried error lines must
    leave them too, or the fold would bring them back and the video would not be redone."""
    from avlocate.runners.batch_start import prepare_batch

    out = tmp_path / "r.jsonl"
    shards = tmp_path / "r.jsonl.shards"
    shards.mkdir()
    a, b = (str(v) for v in sorted(two_videos.iterdir()))
    error = json.dumps({"video": b, "error": "x: not media", "error_code": 4}) + "\n"
    out.write_text(error)
    (shards / "actor-0.jsonl").write_text(error + json.dumps({"video": a, "error": "y", "error_code": 4}) + "\n")
    options = {"model": MODEL, "device": "cpu", "threshold": None}
    start = prepare_batch(two_videos, out, options, True, overwrite=False, retry_failed=True, shards_dir=shards)
    assert start.retried == 2  # a's error line is only in a shard (not folded yet): it counts too
    assert out.read_text() == "" and (shards / "actor-0.jsonl").read_text() == ""
    out.write_text(error)
    (shards / "actor-0.jsonl").write_text(error)
    start = prepare_batch(two_videos, out, options, True, overwrite=False, retry_failed=False, shards_dir=shards)
    assert start.failed_before == [b] and out.read_text() == error  # without --retry-failed: kept, exit 1
