"""``write_report``: the index page and one page per video, from a batch's JSONL."""
from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser

import pytest

from avlocate.errors import InputNotFoundError, UsageError
from avlocate.outputs.report import read_results, write_report
from avlocate.results import Event, Result


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.text, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture
def batch(tmp_path, small_video, make_result, hostile):
    """A JSONL like `avlocate batch` writes: two videos with the same stem, one failure, a re-run."""
    for sub in ("a", "b"):
        (tmp_path / "videos" / sub).mkdir(parents=True)
        shutil.copy(small_video, tmp_path / "videos" / sub / "clip.mp4")
    first = make_result(str(tmp_path / "videos" / "a" / "clip.mp4"))
    old = Result(str(tmp_path / "videos" / "b" / "clip.mp4"), 4.0, [Event("x", 0, 1, 1.0)])
    rerun = Result(str(tmp_path / "videos" / "b" / "clip.mp4"), 4.0, [Event("bell", 1, 2, 0.8), Event("bell", 2.5, 3, 0.6)])
    failed = Result.failure(str(tmp_path / "videos" / "broken.mp4"), "cannot decode <video>", 4)
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in (first, old, failed, rerun)) + "\n")
    return path, [first, failed, rerun]


def test_index_lists_every_video_once_and_links_its_page(tmp_path, batch, hostile):
    path, expected = batch
    index = write_report(path, tmp_path / "report")
    parser = _Links()
    parser.feed(index.read_text(encoding="utf-8"))
    text = "".join(parser.text)
    assert sorted(parser.links) == ["clip-2.html", "clip.html"]  # same stem, two pages; none for the failure
    for link in parser.links:
        assert (tmp_path / "report" / link).is_file()
    assert "script" not in parser.tags and "video" not in parser.tags
    assert "cannot decode <video>" in text  # escaped, shown as text
    assert f"{hostile} ×1" in text and "bell ×2" in text and "dog barking ×3" in text
    assert "3 video(s)" in text and f"{sum(len(r.events) for r in expected)} event(s)" in text and "1 failed" in text
    assert "x ×1" not in text  # the re-run replaced the first line of that video


def test_pages_refer_to_their_own_videos(tmp_path, batch):
    path, _ = batch
    write_report(path, tmp_path / "report")
    assert 'src="../videos/a/clip.mp4"' in (tmp_path / "report" / "clip.html").read_text(encoding="utf-8")
    assert 'src="../videos/b/clip.mp4"' in (tmp_path / "report" / "clip-2.html").read_text(encoding="utf-8")


def test_read_results_keeps_the_last_line_per_video(batch):
    path, expected = batch
    got = read_results(path)
    assert [r.video for r in got] == [r.video for r in expected]
    assert got[-1].events == expected[-1].events


def test_missing_and_malformed_inputs_are_clear_errors(tmp_path):
    with pytest.raises(InputNotFoundError):
        write_report(tmp_path / "none.jsonl", tmp_path / "out")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"video": "a.mp4", "events": []}\nnot json\n')
    with pytest.raises(UsageError, match=r"bad.jsonl:2"):
        write_report(bad, tmp_path / "out")


def test_relative_video_paths_resolve_from_the_jsonl_folder(tmp_path, small_video, monkeypatch):
    """A results folder copied elsewhere: relative paths are found beside the JSONL file."""
    (tmp_path / "run" / "videos").mkdir(parents=True)
    shutil.copy(small_video, tmp_path / "run" / "videos" / "v.mp4")
    (tmp_path / "run" / "results.jsonl").write_text(json.dumps(Result("videos/v.mp4", 4.0, []).to_dict()) + "\n")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    write_report(tmp_path / "run" / "results.jsonl", tmp_path / "run" / "report")
    page = (tmp_path / "run" / "report" / "v.html").read_text(encoding="utf-8")
    assert 'src="../videos/v.mp4"' in page and "not found" not in page
