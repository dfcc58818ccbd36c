import json
import subprocess
import sys

import pytest
import srt
import webvtt

from avlocate import __version__
from avlocate.errors import InputNotFoundError, MediaError, OutputError


def test_version(cli):
    r = cli("--version")
    assert r.code == 0 and __version__ in r.out


def test_python_dash_m_and_piped_stdout_is_json(repo_root):
    proc = subprocess.run([sys.executable, "-m", "avlocate", "run", str(repo_root / "samples" / "demo1.mp4")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # piped stdout carries only the result, as JSON
    assert data["model"] == "esgnet-demo" and data["events"]
    assert "bundled demo model" in proc.stderr  # the fallback note goes to stderr, one line
    assert len([line for line in proc.stderr.splitlines() if "bundled demo" in line]) == 1


def test_formats_to_output_dir(cli, repo_root, tmp_path):
    video = repo_root / "samples" / "demo2.mp4"
    r = cli("run", video, "--model", "lite-demo", "--format", "all", "-o", tmp_path / "out")
    assert r.code == 0, r.err
    assert r.out == ""
    out = tmp_path / "out"
    data = json.loads((out / "demo2.json").read_text())
    n = len(data["events"])
    assert n > 0
    assert len(list(srt.parse((out / "demo2.srt").read_text()))) == n
    assert len(webvtt.read(str(out / "demo2.vtt")).captions) == n
    assert len((out / "demo2.csv").read_text().strip().splitlines()) == n + 1
    assert len((out / "demo2.jsonl").read_text().strip().splitlines()) == 1
    assert "demo2" in (out / "demo2.txt").read_text()
    page = (out / "demo2.html").read_text()
    assert '"../' in page or "demo2.mp4" in page  # the video is referenced relative to the page
    from PIL import Image

    with Image.open(out / "demo2.png") as img:
        assert img.width == 1200


def test_png_to_a_pipe_and_report_of_a_batch(cli, repo_root, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "avlocate", "run", str(repo_root / "samples" / "demo3.mp4"),
                           "-q", "-f", "png"], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"\x89PNG\r\n")  # piped: the picture's bytes and nothing else
    out = tmp_path / "r.jsonl"
    folder = tmp_path / "v"
    folder.mkdir()
    import shutil

    shutil.copy(repo_root / "samples" / "demo3.mp4", folder / "x.mp4")
    assert cli("batch", folder, "--out", out, "-q", "--in-process").code == 0  # the report is tested, not the batch
    r = cli("report", out, "-o", tmp_path / "rep")
    assert r.code == 0, r.err
    index = (tmp_path / "rep" / "index.html").read_text()
    assert "x.html" in index and (tmp_path / "rep" / "x.html").is_file()


def test_several_videos_give_a_json_array(cli, repo_root):
    r = cli("run", repo_root / "samples" / "demo1.mp4", repo_root / "samples" / "demo3.mp4", "-f", "json", "-q")
    assert r.code == 0, r.err
    assert [d["video"].rsplit("/", 1)[-1] for d in r.json()] == ["demo1.mp4", "demo3.mp4"]
    assert r.err == ""  # --quiet


def test_models_lists_the_demo(cli):
    r = cli("models")
    assert r.code == 0
    assert "lite-demo" in r.out and "present" in r.out
    assert "lite-av" in r.out and "lite" in r.out


def test_unknown_model_and_bad_threshold(cli, repo_root):
    r = cli("run", repo_root / "samples" / "demo1.mp4", "--model", "nope")
    assert r.code == 5 and r.err.count("\n") == 1 and "nope" in r.err
    r = cli("run", repo_root / "samples" / "demo1.mp4", "--threshold", "3")
    assert r.code == 2 and r.err.count("\n") == 1


def test_known_model_without_weights_is_a_clear_offline_error(cli, repo_root, monkeypatch, tmp_path):
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path))
    r = cli("run", repo_root / "samples" / "demo1.mp4", "--model", "esgnet")
    assert r.code == 5 and r.err.count("\n") == 1
    assert "not installed" in r.err and "Traceback" not in r.err


def test_unwritable_output_dir(cli, repo_root, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = cli("run", repo_root / "samples" / "demo1.mp4", "-q", "-f", "json", "-o", blocker / "sub")
    assert r.code == OutputError.exit_code and r.err.count("\n") == 1


@pytest.mark.parametrize("name,code", [
    ("empty", MediaError.exit_code),
    ("truncated", MediaError.exit_code),
    ("text_as_mp4", MediaError.exit_code),
    ("directory", InputNotFoundError.exit_code),
    ("missing_path", InputNotFoundError.exit_code),
    ("audio_only", MediaError.exit_code),
])
def test_bad_inputs(cli, bad_inputs, name, code):
    r = cli("run", bad_inputs[name], "-q", "-f", "json")
    assert r.code == code, (r.code, r.err)
    assert r.err.count("\n") == 1 and "Traceback" not in r.err, r.err
    assert bad_inputs[name].name in r.err  # the message names the file
    assert r.out == ""


def test_video_without_audio_warns(cli, bad_inputs):
    r = cli("run", bad_inputs["no_audio"], "-f", "json")
    assert r.code == 0, r.err
    assert r.json()["warnings"].get("audio") == "missing"
    assert "audio" in r.err


def test_one_frame_video_gives_a_result(cli, bad_inputs):
    r = cli("run", bad_inputs["one_frame"], "-f", "json", "-q")
    assert r.code == 0, r.err
    assert r.json()["events"] == []


def test_truncated_file_with_index_first_keeps_what_decoded(cli, bad_inputs):
    r = cli("run", bad_inputs["truncated_faststart"], "-f", "json", "-q")
    assert r.code == 0, r.err
    assert "video" in r.json()["warnings"]


def test_precision_option_reaches_the_extractor(cli, repo_root):
    """`lite` has no networks to autocast: bf16 is refused in one line; fp32 is its normal path."""
    video = repo_root / "samples" / "demo1.mp4"
    r = cli("run", video, "--model", "lite-demo", "--precision", "bf16", "-f", "json")
    assert r.code == 2 and r.err.count("\n") == 1 and "precision" in r.err
    ok = cli("run", video, "--model", "lite-demo", "--precision", "fp32", "-f", "json", "-q")
    assert ok.code == 0 and json.loads(ok.out)["events"]
