import csv
import io
import json

import pytest
import srt
import webvtt

from avlocate.errors import UsageError
from avlocate.results import Event, Result
from avlocate.outputs.writers import FORMATS, parse_formats, render


@pytest.fixture
def result():
    events = [
        Event("siren", 4.0, 9.5, 0.8),
        Event("bell", 1.2346, 6.0, 0.9),  # overlaps the siren
        Event("drum", 12.0, 13.0, 0.55, modality="audio"),
    ]
    return Result(video="a b/ü.mp4", duration=20.0, events=events, model="m", weights="w@abc", extractor="lite",
                  warnings={"audio": "missing"}, timing={"total": 1.23456})


def test_events_sorted_and_ms_precision(result):
    d = json.loads(render("json", [result]))
    assert [e["label"] for e in d["events"]] == ["bell", "siren", "drum"]
    assert d["events"][0]["start"] == 1.235
    for key in ("video", "duration", "model", "weights", "extractor", "events", "warnings", "timing"):
        assert key in d
    assert d["warnings"] == {"audio": "missing"}


def test_json_array_for_several_and_jsonl_lines(result):
    other = Result(video="x.mp4", duration=1.0, events=[])
    arr = json.loads(render("json", [result, other]))
    assert isinstance(arr, list) and [r["video"] for r in arr] == ["a b/ü.mp4", "x.mp4"]
    lines = render("jsonl", [result, other]).splitlines()
    assert [json.loads(line)["video"] for line in lines] == ["a b/ü.mp4", "x.mp4"]
    assert [e.to_dict() for e in Result.from_dict(json.loads(lines[0])).events] == [e.to_dict() for e in result.events]


def test_srt_parses_with_overlaps(result):
    subs = list(srt.parse(render("srt", [result])))
    assert len(subs) == 3
    assert subs[0].start.total_seconds() == pytest.approx(1.235, abs=1e-3)
    assert subs[1].start.total_seconds() == 4.0 and subs[1].end.total_seconds() == 9.5
    assert subs[0].end > subs[1].start  # overlapping cues stay separate
    assert "drum [audio only]" in subs[2].content


def test_vtt_parses(result):
    cues = webvtt.from_buffer(io.StringIO(render("vtt", [result]))).captions
    assert len(cues) == 3
    assert cues[1].start == "00:00:04.000" and cues[1].end == "00:00:09.500"
    assert cues[0].text.startswith("bell")


def test_csv_rows(result):
    rows = list(csv.DictReader(io.StringIO(render("csv", [result]))))
    assert [r["label"] for r in rows] == ["bell", "siren", "drum"]
    assert rows[2]["modality"] == "audio" and rows[0]["modality"] == "audio-visual"
    assert float(rows[1]["end"]) == 9.5


def test_table_lists_every_event(result):
    text = render("table", [result])
    for label in ("bell", "siren", "drum"):
        assert label in text
    assert "audio: missing" in text


def test_parse_formats():
    assert parse_formats(None, "json") == ["json"]
    assert parse_formats(["srt,vtt", "json", "srt"], "table") == ["srt", "vtt", "json"]
    assert parse_formats(["all"], "table") == list(FORMATS)
    with pytest.raises(UsageError):
        parse_formats(["xml"], "json")


def test_srt_of_several_videos_is_an_error(result):
    with pytest.raises(UsageError):
        render("srt", [result, result])


def test_table_duration_is_end_minus_start_as_shown():
    """Was: 12.84 .. 15.69 shown with a duration of 2.84 (the unrounded 2.842)."""
    from rich.console import Console

    from avlocate.outputs.writers import rich_table

    res = Result(video="v.mp4", duration=20.0, events=[Event("bell", 12.844, 15.686, 0.9), Event("drum", 1.006, 2.004, 0.8)],
                 model="m", weights="w", extractor="e", feature_protocol={}, device="cpu")
    console = Console(width=200, record=True, force_terminal=False)
    console.print(rich_table(res))
    rows = [line.replace("│", " ").split() for line in console.export_text().splitlines()]
    rows = [r for r in rows if len(r) == 6 and r[0].isdigit()]
    assert len(rows) == 2
    for _, _, start, end, duration, _ in rows:
        assert f"{float(end) - float(start):.2f}" == duration
