"""Events for the tools people edit with: an OpenTimelineIO timeline, an Audacity label track and
a whisper-style TSV. Each describes one video (``-o DIR`` for several).

* ``otio`` — built with ``opentimelineio`` (the library the editors' importers share) rather than
  by hand, so the file follows whatever schema version that library writes. One video track with
  the video as a clip (an external reference to it, its duration as the available range) and one
  marker per event on that clip: name = label, marked range = start..end, and the event's fields
  (score, modality, times in seconds) in the marker metadata under ``"avlocate"``.
* ``audacity`` — Audacity's label-track text (File > Import > Labels): ``start<TAB>end<TAB>label``
  per line, seconds with six decimals, as Audacity itself exports them.
* ``tsv`` — what whisper writes with ``--output_format tsv``: a ``start<TAB>end<TAB>text`` header,
  then integer milliseconds (locale-proof, no decimal separator to misread) and the text.

Like the other writers these see only :class:`~avlocate.results.Result` objects; the one
exception is the OTIO frame rate, read from the video's header when it is a local file (below).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..results import Event, Result
from .escape import one_line, spreadsheet_cell

#: OTIO rate when the video's own cannot be read (a URL, standard input, a moved file). Times are
#: stored as exact (fractional) frame counts, so the rate only sets how editors display them.
FALLBACK_RATE = 25.0

# Marker colours, one per label in order of first appearance, so a label keeps its colour.
_MARKER_COLORS = ("RED", "GREEN", "BLUE", "YELLOW", "CYAN", "MAGENTA", "ORANGE", "PURPLE", "PINK")


def _text(event: Event) -> str:
    """The event's name for line-based formats: a tab or line break would split the record."""
    label = one_line(event.label)
    return f"{label} [{event.modality} only]" if event.modality else label


def to_audacity(result: Result) -> str:
    lines = []
    for ev in result.events:
        times = ev.to_dict()  # milliseconds, as every other format: the six decimals end in 000
        start = max(0.0, times["start"])
        end = max(start, times["end"])  # an end before the start would not be a valid label
        lines.append(f"{start:.6f}\t{end:.6f}\t{_text(ev)}\n")
    return "".join(lines)


def to_tsv(result: Result) -> str:
    lines = ["start\tend\ttext\n"]
    for ev in result.events:
        times = ev.to_dict()  # the same milliseconds as the other formats
        start = max(0, round(times["start"] * 1000))
        end = max(start, round(times["end"] * 1000))
        lines.append(f"{start}\t{end}\t{spreadsheet_cell(_text(ev))}\n")  # a spreadsheet opens .tsv too
    return "".join(lines)


def video_rate(video: str) -> float:
    """The video's frame rate, so editors place markers on its own frame grid; FALLBACK_RATE when
    the video is not a readable local file. Only the header is read, never a stream (a live URL
    would never answer)."""
    if not video or not Path(video).is_file():
        return FALLBACK_RATE
    from ..errors import AvlocateError
    from ..media.probe import probe

    try:
        fps = probe(video).fps
    except (AvlocateError, OSError):
        return FALLBACK_RATE
    return float(fps) if fps else FALLBACK_RATE


def _utf8(text: str) -> str:
    """OTIO keeps only valid UTF-8. A file name that is not (kept by Python as lone surrogates)
    shows its odd bytes as ``\\xNN`` instead of failing the whole timeline."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _clean(value: Any) -> Any:
    """:func:`_utf8` through the strings of a metadata dict (keys included)."""
    if isinstance(value, str):
        return _utf8(value)
    if isinstance(value, dict):
        return {_utf8(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _target_url(video: str) -> str:
    """OTIO references media by URL: a URL stays as given, a path becomes an absolute file URL
    (a timeline is opened from anywhere, so a relative path would break), percent-encoded so
    spaces, ``#`` or bytes that are not UTF-8 survive."""
    if "://" in video:
        return _utf8(video)
    return Path(os.path.abspath(video)).as_uri()


def _file_name(video: str) -> str:
    """What an editor shows for the clip: the file's name; for a URL, the last part of its path
    (decoded), without the query; the whole string when neither gives one (``-``)."""
    if "://" in video:
        from urllib.parse import unquote, urlsplit

        name = unquote(urlsplit(video).path.rsplit("/", 1)[-1])
    else:
        name = Path(video).name
    return _utf8(name or video)


def build_timeline(result: Result, rate: float | None = None) -> Any:
    """The result as an ``opentimelineio.schema.Timeline`` (see the module docstring)."""
    import opentimelineio as otio

    rate = float(rate) if rate else video_rate(result.video)

    def at(seconds: float) -> Any:
        # Fractional frames keep the times exact; rounding drops float noise (87.27500000000002).
        return otio.opentime.RationalTime(round(seconds * rate, 6), rate)

    # Times in milliseconds, as in every other format (the to_dict forms round them).
    run = result.to_dict()
    events = [(ev, ev.to_dict()) for ev in result.events]
    length = run["duration"]
    if length is None:  # the clip then spans every event, so no marker falls outside it
        length = max((d["end"] for _, d in events), default=0.0)
    available = otio.opentime.TimeRange(at(0.0), at(max(0.0, float(length))))
    reference = otio.schema.ExternalReference(target_url=_target_url(result.video), available_range=available)
    name = _file_name(result.video)
    clip = otio.schema.Clip(name=name, media_reference=reference, source_range=available)
    colors: dict[str, str] = {}
    for ev, times in events:
        color = colors.setdefault(ev.label, _MARKER_COLORS[len(colors) % len(_MARKER_COLORS)])
        fields = _clean(times)
        fields["modality"] = ev.modality or "audio-visual"
        marker = otio.schema.Marker(
            name=_utf8(ev.label),
            marked_range=otio.opentime.TimeRange(at(times["start"]), at(max(0.0, times["end"] - times["start"]))),
            color=getattr(otio.schema.MarkerColor, color),
            metadata={"avlocate": fields},
        )
        marker.comment = f"score {ev.score:.2f}" + (f", {ev.modality} only" if ev.modality else "")
        clip.markers.append(marker)
    track = otio.schema.Track(name="video", kind=otio.schema.TrackKind.Video)
    track.append(clip)
    timeline = otio.schema.Timeline(name=Path(name).stem or name)
    timeline.tracks.append(track)
    timeline.metadata["avlocate"] = _clean({k: run[k] for k in ("video", "duration", "model", "weights",
                                                                "extractor", "device", "warnings")})
    return timeline


def to_otio(result: Result) -> str:
    import opentimelineio as otio

    return otio.adapters.write_to_string(build_timeline(result), "otio_json") + "\n"
