"""The page's markup and data, without a browser (the browser test opens it for real)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from avlocate.outputs.report.html import page_data, render_html, video_source, write_html
from avlocate.results import Event, Result


def _data_block(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="avl-data">(.*?)</script>', page, re.S)
    assert m, "no data block"
    return json.loads(m.group(1))


def test_hostile_strings_cannot_leave_the_data_block(tmp_path, hostile):
    label = hostile + " </script><!-- & -->"
    r = Result(str(tmp_path / "a.mp4"), 5.0, [Event(label, 0, 1, 0.5)], warnings={"x": "</script><b>"})
    page = render_html(r, page_dir=tmp_path)
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<b>" not in page and "<!--" not in page
    data = _data_block(page)
    assert data["lanes"][0]["label"] == label and data["events"][0]["label"] == label
    assert {"text": "warning: x: </script><b>", "error": False} in data["notes"]


def test_csp_allows_exactly_the_inline_blocks(tmp_path):
    import base64
    import hashlib

    page = render_html(Result("a.mp4", 1.0, []), page_dir=tmp_path)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp.replace("&#x27;", "'")
    assert "default-src 'none'" in csp.replace("&#x27;", "'")
    offline = page.replace("http://www.w3.org/2000/svg", "")  # an XML namespace name, never fetched
    assert "http://" not in offline and "https://" not in offline


def test_video_is_referenced_relative_to_the_page(tmp_path, small_video):
    r = Result(str(small_video), 4.0, [])
    src, notes = video_source(r, tmp_path / "pages")
    assert notes == []
    assert (tmp_path / "pages" / src.replace("%20", " ")).resolve() == small_video.resolve()
    page = write_html(r, tmp_path / "pages" / "p.html").read_text()
    assert f'src="{src}"' in page


def test_embed_inlines_small_videos_and_refers_to_big_ones(tmp_path, small_video):
    r = Result(str(small_video), 4.0, [])
    src, notes = video_source(r, tmp_path, embed=True)
    assert src.startswith("data:video/mp4;base64,") and notes == []
    import base64

    assert base64.b64decode(src.split(",", 1)[1]) == small_video.read_bytes()
    size = small_video.stat().st_size
    src, notes = video_source(r, tmp_path, embed=True, embed_limit=size - 1)
    assert not src.startswith("data:") and "not embedded" in notes[0]


def test_missing_video_is_a_note_not_an_error(tmp_path):
    r = Result("nowhere/gone.mp4", 4.0, [Event("a", 0, 1, 1.0)], error=None)
    data = page_data(r, video_source(r, tmp_path, video_base=tmp_path)[1])
    assert any("not found" in n["text"] for n in data["notes"])


def test_page_data_lanes_rows_and_indices(make_result):
    r = make_result("v.mp4")
    data = page_data(r)
    assert sum(len(lane["events"]) for lane in data["lanes"]) == len(r.events)
    seen = sorted(ev["index"] for lane in data["lanes"] for ev in lane["events"])
    assert seen == list(range(len(r.events)))
    for lane in data["lanes"]:
        for ev in lane["events"]:
            assert r.events[ev["index"]].label == lane["label"] == ev["label"]
            assert ev["row"] < lane["rows"]
    dog = next(lane for lane in data["lanes"] if lane["label"] == "dog barking")
    assert dog["rows"] == 2 and dog["curve"] is not None


@pytest.mark.parametrize("failed", [True, False])
def test_errors_and_warnings_become_notes(failed):
    r = Result("v.mp4", None, [], warnings={"audio": "missing"}, error="cannot decode" if failed else None, error_code=4)
    texts = [n["text"] for n in page_data(r)["notes"]]
    assert "warning: audio: missing" in texts
    assert ("error: cannot decode" in texts) == failed


def test_result_round_trips_through_json_to_the_same_page(tmp_path, make_result):
    r = make_result(str(Path("v.mp4")))
    again = Result.from_dict(json.loads(json.dumps(r.to_dict())))
    assert page_data(again) == page_data(r)
