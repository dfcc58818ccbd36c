"""Red-team findings 4-8 and 10 of issue 25: what ``run`` and ``report`` write.

4. ``run`` with several inputs threw finished work away when one failed; ``run - -`` lost the first.
5. ``run -o`` wrote in place (a full disk left a truncated page) and checked the folder at the end.
6. ``report --embed`` embedded any local file a results line named (``/etc/passwd``).
7. Label text injected into SRT, VTT, CSV/TSV; PNG crashed on a newline.
8. The HTML page of a URL input had a dead player (the URL joined to the folder as a path).
10. Output names collided (``x.labels.mp4``'s table overwrote ``x.mp4``'s label track).
"""
from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest
import srt
import webvtt

from avlocate.errors import EXIT_BATCH_FAILURES, OutputError, UsageError
from avlocate.outputs.report import write_report
from avlocate.outputs.report.html import render_html
from avlocate.outputs.report.names import unique_stems
from avlocate.outputs.writers import EXTENSIONS, render
from avlocate.results import Event, Result

MODEL = "lite-demo"  # what is written is tested, not the model (the smallest demo model is the quickest)


def _data_block(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="avl-data">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1))


# -- 4: several inputs behave like batch ----------------------------------------------------------

def test_redteam_run_several_inputs_keeps_each_success(cli, tmp_path, repo_root):
    """Also 10: ``x.labels.mp4``'s table (``x.labels.txt``) and ``x.mp4``'s Audacity track (also
    ``x.labels.txt``) both survive: names are unique as final file names."""
    for name in ("x.mp4", "x.labels.mp4"):
        shutil.copy(repo_root / "samples" / "demo1.mp4", tmp_path / name)
    (tmp_path / "empty.mp4").write_bytes(b"")
    out = tmp_path / "out"
    r = cli("run", tmp_path / "x.mp4", tmp_path / "empty.mp4", tmp_path / "x.labels.mp4", "-m", MODEL, "-q",
            "-f", "table,audacity", "-o", out)
    assert r.code == EXIT_BATCH_FAILURES, r.err
    failures = [line for line in r.err.splitlines() if line.startswith("avlocate: failed:")]
    assert len(failures) == 1 and "empty.mp4" in failures[0]
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 4, names
    assert "x.labels.txt" in names and "x.txt" in names
    # x.mp4's label track is a label track (tab-separated), not x.labels.mp4's table
    assert "\t" in (out / "x.labels.txt").read_text()


def test_redteam_run_several_inputs_on_stdout_is_an_array_of_the_successes(cli, tmp_path, repo_root):
    (tmp_path / "empty.mp4").write_bytes(b"")
    r = cli("run", repo_root / "samples" / "demo1.mp4", tmp_path / "empty.mp4", "-m", MODEL, "-q", "-f", "json")
    assert r.code == EXIT_BATCH_FAILURES
    data = json.loads(r.out)
    assert isinstance(data, list) and [Path(d["video"]).name for d in data] == ["demo1.mp4"]


def test_redteam_stdin_given_twice_is_refused_before_reading(cli):
    r = cli("run", "-", "-", "-m", MODEL, "-q")
    assert r.code == UsageError.exit_code and "standard input" in r.err and r.err.count("\n") == 1


# -- 5: atomic outputs, folder checked first -----------------------------------------------------

def test_redteam_unwritable_output_folder_is_found_before_the_work(cli, tmp_path):
    (tmp_path / "file").write_text("")
    # the input does not exist: were the folder checked after the work, that would be the error
    r = cli("run", tmp_path / "missing.mp4", "-m", MODEL, "-q", "-o", tmp_path / "file" / "out")
    assert r.code == OutputError.exit_code and r.err.count("\n") == 1
    r = cli("report", tmp_path / "missing.jsonl", "-o", tmp_path / "file" / "rep")
    assert r.code != 0 and r.err.count("\n") == 1


def test_redteam_a_failed_write_leaves_every_old_file_whole(cli, tmp_path, repo_root):
    """A file size limit (as a full disk does) fails the html write after json was written: all
    or none, the old files stay as they were and no temporary file is left."""
    resource = pytest.importorskip("resource")
    out = tmp_path / "out"
    out.mkdir()
    (out / "demo1.json").write_text("old json\n")
    (out / "demo1.html").write_text("old page\n")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), no signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (6000, hard))  # json (~2 kB) fits, the page (~10 kB) does not
    try:
        r = cli("run", repo_root / "samples" / "demo1.mp4", "-m", MODEL, "-q", "-f", "json,html", "-o", out)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert r.code == OutputError.exit_code, r.err
    assert (out / "demo1.json").read_text() == "old json\n" and (out / "demo1.html").read_text() == "old page\n"
    assert sorted(p.name for p in out.iterdir()) == ["demo1.html", "demo1.json"]


# -- 6: report --embed embeds only real videos ---------------------------------------------------

def test_redteam_report_embed_refuses_files_that_are_not_videos(tmp_path, repo_root):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:SECRET-HASH:19000:0:99999:7:::\n")
    disguised = tmp_path / "disguised.mp4"
    disguised.write_text("root:SECRET-HASH:19000:0:99999:7:::\n")
    video = tmp_path / "real.mp4"
    shutil.copy(repo_root / "samples" / "demo1.mp4", video)
    lines = [{"video": str(p), "duration": 10.0, "events": []} for p in (secret, disguised, video)]
    if os.path.exists("/etc/passwd"):
        lines.append({"video": "/etc/passwd", "duration": 10.0, "events": []})
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(d) + "\n" for d in lines))
    out = tmp_path / "report"
    write_report(results, out, embed=True)
    leaked = base64.b64encode(secret.read_bytes()).decode()
    for page in out.glob("*.html"):
        text = page.read_text()
        assert leaked[:24] not in text and "SECRET-HASH" not in text
        if page.name in ("secret.html", "disguised.html", "passwd.html"):
            assert 'src="data:' not in text
            assert any("not embedded" in n["text"] for n in _data_block(text)["notes"])
    assert 'src="data:video/mp4;base64,' in (out / "real.html").read_text()


# -- 7: per-format escaping ----------------------------------------------------------------------

HOSTILE_LABELS = ["dog\n\n99\n00:00:00,000 --> 10:00:00,000\nINJECTED", "<script>alert(1)</script> & co",
                  "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)", "\tTAB", "\rCR", "a\u2028b"]


@pytest.fixture
def hostile_result():
    events = [Event(label, float(i), i + 0.5, 0.7) for i, label in enumerate(HOSTILE_LABELS)]
    return Result(video="we\nird=name.mp4", duration=12.0, events=events, model="m")


def test_redteam_srt_and_vtt_cues_stay_one_line_and_escaped(hostile_result):
    n = len(HOSTILE_LABELS)
    subs = list(srt.parse(render("srt", [hostile_result])))
    assert len(subs) == n and all("\n" not in s.content for s in subs)
    assert not any(s.end.total_seconds() > 12 for s in subs)
    vtt = render("vtt", [hostile_result])
    cues = webvtt.from_buffer(io.StringIO(vtt)).captions
    assert len(cues) == n
    assert "<script>" not in vtt and "&lt;script&gt;" in vtt and "&amp; co" in vtt
    assert vtt.count("-->") == n


def test_redteam_csv_and_tsv_cells_are_never_formulas(hostile_result):
    rows = list(csv.DictReader(io.StringIO(render("csv", [hostile_result]))))
    assert len(rows) == len(HOSTILE_LABELS)
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    tsv = render("tsv", [hostile_result]).splitlines()[1:]
    assert len(tsv) == len(HOSTILE_LABELS)
    for line in tsv:
        text = line.split("\t")
        assert len(text) == 3 and not text[2].startswith(("=", "+", "-", "@")), line


def test_redteam_json_keeps_labels_exact_and_png_and_table_draw_any_text(hostile_result):
    data = json.loads(render("json", [hostile_result]))
    assert [e["label"] for e in data["events"]] == HOSTILE_LABELS
    assert render("png", [hostile_result])[:8] == b"\x89PNG\r\n\x1a\n"
    rich_markup = Result(video="[/bold].mp4", duration=2.0, events=[Event("[/red] x", 0.0, 1.0, 0.5)])
    assert "[/red] x" in render("table", [rich_markup])


# -- 8: a URL keeps its URL in the player --------------------------------------------------------

def test_redteam_url_input_keeps_its_url_in_the_html_player(tmp_path):
    url = "http://127.0.0.1:8765/clips/demo1.mp4?t=1&x=2"
    page = render_html(Result(url, 5.0, [Event("a", 0, 1, 0.5)]), page_dir=tmp_path / "out")
    src = re.search(r'<video[^>]* src="([^"]*)"', page).group(1)
    assert src.replace("&amp;", "&") == url
    page = render_html(Result("rtsp://cam.local/live", 5.0, []), page_dir=tmp_path)
    assert re.search(r'<video[^>]* src="([^"]*)"', page).group(1) == ""


# -- 10: names unique on final file names --------------------------------------------------------

def test_redteam_output_names_are_unique_as_file_names():
    exts = [EXTENSIONS["table"], EXTENSIONS["audacity"]]
    stems = unique_stems(["x.mp4", "x.labels.mp4", "X.mp4"], extensions=exts)
    names = [f"{s}.{e}".lower() for s in stems for e in exts]
    assert len(set(names)) == len(names), names
