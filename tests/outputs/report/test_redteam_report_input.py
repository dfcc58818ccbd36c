"""Red-team finding 11 (`report`): a results file with NaN/Infinity, a non-string video, warnings
as a string, or bytes that are not UTF-8 is one line (exit 2) naming the line, never exit 70."""
from __future__ import annotations

import json

import pytest

GOOD = {"video": "a.mp4", "duration": 4.0, "events": [{"label": "bell", "start": 0.5, "end": 1.5, "score": 0.9}],
        "warnings": {}, "timing": {"total": 1.0}}


def _line(**changes) -> str:  # noqa: ANN003
    return json.dumps({**GOOD, **changes})


@pytest.mark.parametrize("second_line, words", [
    ('{"video": "b.mp4", "duration": NaN, "events": []}', "NaN"),
    ('{"video": "b.mp4", "duration": 3.0, "events": [{"label": "x", "start": 0, "end": Infinity}]}', "Infinity"),
    (_line(video=42), "'video'"),
    (_line(video=["a"]), "'video'"),
    (_line(warnings="audio missing"), "'warnings'"),
    (_line(events="none"), "'events'"),
    (_line(events=[{"label": 3, "start": 0, "end": 1}]), "events[0]"),
    (_line(timing={"total": "fast"}), "'timing'"),
    (_line(error_code="x"), "'error_code'"),
])
def test_redteam_report_bad_line_is_one_line(cli, tmp_path, second_line, words):
    results = tmp_path / "r.jsonl"
    results.write_text(_line() + "\n" + second_line + "\n", encoding="utf-8")
    r = cli("report", results, "-o", tmp_path / "out")
    assert r.code == 2, (r.code, r.err)
    assert r.err.count("\n") == 1 and "internal error" not in r.err and f"{results}:2:" in r.err and words in r.err, r.err


def test_redteam_report_non_utf8_is_one_line(cli, tmp_path):
    results = tmp_path / "r.jsonl"
    results.write_bytes(_line().encode() + b"\n" + b'{"video": "caf\xe9.mp4", "events": []}\n')
    r = cli("report", results, "-o", tmp_path / "out")
    assert r.code == 2 and r.err.count("\n") == 1 and "UTF-8" in r.err, r.err


def test_redteam_report_good_file_still_works(cli, tmp_path):
    results = tmp_path / "r.jsonl"
    results.write_text(_line() + "\n" + _line(video="b.mp4", warnings={"audio": "missing"}) + "\n", encoding="utf-8")
    r = cli("report", results, "-o", tmp_path / "out")
    assert r.code == 0, r.err
    assert (tmp_path / "out" / "index.html").is_file()


def test_redteam_png_draws_a_newline_in_a_label_or_a_file_name():
    """Finding 11: Pillow cannot measure multi-line text; the PNG writer crashed (exit 70)."""
    from avlocate.outputs.report.png import render_png
    from avlocate.results import Event, Result

    result = Result(video="new\nline\x00.mp4", duration=4.0,
                    events=[Event("bell\nring", 0.5, 1.5, 0.9), Event("tab\there", 2.0, 3.0, 0.8)])
    assert render_png(result, width=600)[:8] == b"\x89PNG\r\n\x1a\n"
