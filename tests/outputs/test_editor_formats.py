"""Editor formats, each read back by its own rules: OTIO with opentimelineio's reader, the Audacity
label track by Audacity's line rules, the TSV with the csv module's tab dialect."""
import csv
import io
import os
import re
from pathlib import Path

import opentimelineio as otio
import pytest

from avlocate.errors import UsageError
from avlocate.outputs.editor_formats import FALLBACK_RATE, video_rate
from avlocate.results import Event, Result
from avlocate.outputs.writers import EXTENSIONS, FORMATS, PER_VIDEO, parse_formats, render, write_file


@pytest.fixture
def result():
    events = [
        Event("siren", 4.0, 9.5, 0.8),
        Event("bell", 1.2346, 6.0, 0.9),  # overlaps the siren
        Event("drum", 12.0, 13.0, 0.55, modality="audio"),
        Event("bell", 14.25, 14.25, 0.41),  # a point event (start == end)
    ]
    return Result(video="a b/ü #1.mp4", duration=20.0, events=events, model="m", weights="w@abc", extractor="lite",
                  warnings={"audio": "missing"})


def _read_otio(result: Result, tmp_path: Path):  # noqa: ANN202
    path = tmp_path / f"t.{EXTENSIONS['otio']}"
    write_file("otio", result, path)
    timeline = otio.adapters.read_from_file(str(path))
    (track,) = timeline.tracks
    (clip,) = track
    return timeline, track, clip


def test_otio_reads_back_as_the_events(result, tmp_path):
    timeline, track, clip = _read_otio(result, tmp_path)
    assert isinstance(timeline, otio.schema.Timeline) and track.kind == otio.schema.TrackKind.Video
    assert isinstance(clip, otio.schema.Clip)
    ref = clip.media_reference
    assert isinstance(ref, otio.schema.ExternalReference)
    # An absolute file URL that leads back to the video, whatever the current directory.
    assert ref.target_url.startswith("file:///")
    assert otio.url_utils.filepath_from_url(ref.target_url) == os.path.abspath(result.video)
    assert ref.available_range.start_time.to_seconds() == 0
    assert ref.available_range.duration.to_seconds() == pytest.approx(result.duration, abs=1e-6)
    assert clip.source_range == ref.available_range
    assert timeline.duration().to_seconds() == pytest.approx(result.duration, abs=1e-6)

    assert len(clip.markers) == len(result.events)
    for marker, ev in zip(clip.markers, result.events):
        assert marker.name == ev.label
        # milliseconds, as in every other format
        assert marker.marked_range.start_time.to_seconds() == pytest.approx(round(ev.start, 3), abs=1e-6)
        assert marker.marked_range.end_time_exclusive().to_seconds() == pytest.approx(round(ev.end, 3), abs=1e-6)
        meta = marker.metadata["avlocate"]
        assert meta["score"] == pytest.approx(ev.score, abs=1e-4)
        assert meta["label"] == ev.label
        assert meta["modality"] == (ev.modality or "audio-visual")
        assert (meta["start"], meta["end"]) == (ev.to_dict()["start"], ev.to_dict()["end"])
    # One colour per label, so the two bells look alike and unlike the others.
    colors = {m.name: m.color for m in clip.markers}
    assert len(set(colors.values())) == len(colors) == 3
    assert [m.color for m in clip.markers if m.name == "bell"] == [colors["bell"]] * 2
    run = timeline.metadata["avlocate"]
    assert (run["video"], run["model"], run["weights"]) == (result.video, "m", "w@abc")
    assert dict(run["warnings"]) == {"audio": "missing"}


def test_otio_rate_is_the_videos_own_when_it_can_be_read(repo_root, tmp_path):
    from avlocate.media.probe import probe

    video = repo_root / "samples" / "demo1.mp4"
    expected = float(probe(video).fps)
    assert video_rate(str(video)) == expected
    r = Result(video=str(video), duration=18.16, events=[Event("drum", 6.149, 9.64, 0.7358)])
    _, _, clip = _read_otio(r, tmp_path)
    assert clip.source_range.duration.rate == expected
    assert clip.markers[0].marked_range.start_time.rate == expected
    assert clip.markers[0].marked_range.start_time.to_seconds() == pytest.approx(6.149, abs=1e-6)
    # a file that is not there (or not a video), a URL, standard input: the fallback rate
    (tmp_path / "not_a_video.mp4").write_text("hello")
    for other in (str(tmp_path / "gone.mp4"), str(tmp_path / "not_a_video.mp4"), "http://127.0.0.1:9/x.mp4", "-"):
        assert video_rate(other) == FALLBACK_RATE


def test_otio_keeps_urls_and_spans_the_events_without_a_duration(tmp_path):
    url = "https://example.invalid/clips/a%20b.mp4?x=1"
    r = Result(video=url, duration=None, events=[Event("bell", 2.0, 7.5, 0.9), Event("drum", 1.0, 3.0, 0.6)])
    timeline, _, clip = _read_otio(r, tmp_path)
    assert clip.media_reference.target_url == url
    assert clip.name == "a b.mp4" and timeline.name == "a b"
    assert clip.source_range.duration.to_seconds() == pytest.approx(7.5)
    assert clip.source_range.duration.rate == FALLBACK_RATE
    assert [m.name for m in clip.markers] == ["drum", "bell"]


def test_otio_takes_a_file_name_that_is_not_utf8(tmp_path):
    name = os.fsdecode(b"clip-\xff.mp4")
    r = Result(video=name, duration=3.0, events=[Event("bell", 0.5, 1.0, 0.9)])
    timeline, _, clip = _read_otio(r, tmp_path)
    assert clip.name == "clip-\\xff.mp4" and timeline.metadata["avlocate"]["video"] == "clip-\\xff.mp4"
    assert clip.media_reference.target_url.endswith("/clip-%FF.mp4")  # the exact bytes, percent-encoded
    assert len(clip.markers) == 1


_AUDACITY_TIME = re.compile(r"^\d+\.\d{6}$")


def _parse_audacity(text: str) -> list[tuple[float, float, str]]:
    """Audacity's label-track rules: one label per line, start TAB end TAB text, start <= end."""
    labels = []
    for line in text.splitlines():
        fields = line.split("\t")
        assert len(fields) == 3, line
        start, end, label = fields
        assert _AUDACITY_TIME.match(start) and _AUDACITY_TIME.match(end), line
        assert float(start) <= float(end), line
        labels.append((float(start), float(end), label))
    return labels


def test_audacity_label_track(result):
    text = render("audacity", [result])
    assert text.endswith("\n")
    labels = _parse_audacity(text)
    assert [label for *_, label in labels] == ["bell", "siren", "drum [audio only]", "bell"]
    for (start, end, _), ev in zip(labels, result.events):
        assert start == round(ev.start, 3) and end == round(ev.end, 3)  # milliseconds, as everywhere


def _parse_tsv(text: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text), dialect="excel-tab"))
    for row in rows:
        assert set(row) == {"start", "end", "text"} and None not in row.values()
    return rows


def test_tsv_as_whisper_writes_it(result):
    text = render("tsv", [result])
    assert text.splitlines()[0] == "start\tend\ttext"
    rows = _parse_tsv(text)
    assert [r["text"] for r in rows] == ["bell", "siren", "drum [audio only]", "bell"]
    for row, ev in zip(rows, result.events):
        assert row["start"].isdigit() and row["end"].isdigit()  # integer milliseconds
        assert int(row["start"]) == round(ev.start * 1000) and int(row["end"]) == round(ev.end * 1000)
    assert int(rows[0]["start"]) == 1235


def test_a_label_with_tabs_or_line_breaks_stays_one_record():
    r = Result(video="v.mp4", duration=5.0, events=[Event("dog\tbarking\nloud", 1.0, 2.0, 0.7)])
    assert _parse_audacity(render("audacity", [r])) == [(1.0, 2.0, "dog barking loud")]
    assert [row["text"] for row in _parse_tsv(render("tsv", [r]))] == ["dog barking loud"]


def test_no_events(tmp_path):
    r = Result(video="v.mp4", duration=5.0, events=[])
    assert render("audacity", [r]) == ""
    assert render("tsv", [r]) == "start\tend\ttext\n"
    _, _, clip = _read_otio(r, tmp_path)
    assert len(clip.markers) == 0 and clip.source_range.duration.to_seconds() == pytest.approx(5.0)


def test_registered_as_per_video_formats_with_their_own_files(result):
    assert parse_formats(["otio,audacity", "tsv"], "json") == ["otio", "audacity", "tsv"]
    for fmt in ("otio", "audacity", "tsv"):
        assert fmt in FORMATS and fmt in PER_VIDEO
        with pytest.raises(UsageError, match="-o DIR"):
            render(fmt, [result, result])
    # -o DIR writes <stem>.<ext> per format: no two formats may share a file (table is .txt too)
    assert len(set(EXTENSIONS.values())) == len(EXTENSIONS) and set(EXTENSIONS) == set(FORMATS)
