"""The text formats that are not for editors: ``table`` (rich, for terminals), ``json`` (one
object per video, an array for several), ``jsonl`` (one object per line), ``srt``, ``vtt`` (one
cue per event, so overlapping events stay valid) and ``csv`` (one row per event).

Text that comes from a card, the user or a file name goes through :mod:`.escape` (one line,
markup and formulas neutralised); JSON keeps it exact.
"""
from __future__ import annotations

import csv
import io
import json

from ..results import Event, Result
from .escape import one_line, spreadsheet_cell, srt_text, vtt_text


def _timestamp(seconds: float, sep: str) -> str:
    ms_total = int(round(max(0.0, seconds) * 1000))
    h, rem = divmod(ms_total, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cue_text(event: Event) -> str:
    tag = f" [{event.modality} only]" if event.modality else ""
    return f"{event.label}{tag} ({event.score:.2f})"


def _dumps(payload: object, indent: int | None = None) -> str:
    """JSON as readable UTF-8; a file name that is not valid UTF-8 (kept by Python as lone
    surrogates) cannot be encoded, so such output falls back to ASCII escapes, which are valid
    JSON and read back to the same name."""
    text = json.dumps(payload, indent=indent, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(payload, indent=indent, ensure_ascii=True)
    return text


def to_json(results: list[Result], array: bool | None = None) -> str:
    """One object for one video, an array for several (``array`` forces the array, e.g. when a
    run was given several inputs and only one of them succeeded)."""
    if array is None:
        array = len(results) != 1
    payload = [r.to_dict() for r in results] if array else results[0].to_dict()
    return _dumps(payload, indent=2) + "\n"


def to_jsonl(results: list[Result]) -> str:
    return "".join(_dumps(r.to_dict()) + "\n" for r in results)


def to_srt(result: Result) -> str:
    blocks = []
    for i, ev in enumerate(result.events, start=1):
        end = max(ev.end, ev.start + 0.001)  # a cue needs end > start
        blocks.append(f"{i}\n{_timestamp(ev.start, ',')} --> {_timestamp(end, ',')}\n{srt_text(_cue_text(ev))}\n")
    return "\n".join(blocks)


def to_vtt(result: Result) -> str:
    lines = ["WEBVTT", ""]
    for i, ev in enumerate(result.events, start=1):
        end = max(ev.end, ev.start + 0.001)
        lines += [str(i), f"{_timestamp(ev.start, '.')} --> {_timestamp(end, '.')}", vtt_text(_cue_text(ev)), ""]
    return "\n".join(lines)


def to_csv(results: list[Result]) -> str:
    """Text cells are quoted (so a spreadsheet set to another separator, ``;``, still sees one
    cell) and neutralised against formulas; numbers are written bare."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(["video", "label", "start", "end", "score", "modality"])
    for r in results:
        for ev in r.events:
            d = ev.to_dict()
            writer.writerow([spreadsheet_cell(r.video), spreadsheet_cell(d["label"]), d["start"], d["end"], d["score"],
                             spreadsheet_cell(ev.modality or "audio-visual")])
    return buf.getvalue()


def to_table(results: list[Result]) -> str:
    """Plain-text rendering of the rich table (used for files; terminals get colours)."""
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=100, force_terminal=False, color_system=None)
    for r in results:
        console.print(rich_table(r))
    return buf.getvalue()


def rich_table(result: Result):  # noqa: ANN201
    """The result as a rich Table. Every text is a ``Text`` (never parsed as rich markup, so a
    label like ``[/bold]`` is shown, not interpreted) and on one line."""
    from rich.table import Table
    from rich.text import Text

    dur = "?" if result.duration is None else f"{result.duration:.2f} s"
    title = one_line(f"{result.video} — {len(result.events)} event(s) in {dur} — model {result.model}")
    table = Table(title=Text(title), title_justify="left", min_width=min(100, len(title) + 2))
    for name, justify in (("#", "right"), ("label", "left"), ("start", "right"), ("end", "right"),
                          ("duration", "right"), ("score", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for i, ev in enumerate(result.events, start=1):
        label = one_line(ev.label + (f" ({ev.modality} only)" if ev.modality else ""))
        # The duration is that of the times as shown, so that it always equals end - start on screen
        # (6.149 .. 9.636 shows as 6.15 .. 9.64, lasting 3.49, not the unrounded 3.487 -> 3.49 by luck).
        start, end = round(ev.start, 2), round(ev.end, 2)
        table.add_row(str(i), Text(label), f"{start:.2f}", f"{end:.2f}", f"{end - start:.2f}", f"{ev.score:.2f}")
    if result.error:
        table.caption = Text(one_line(f"error: {result.error}"))
    elif result.warnings:
        table.caption = Text(one_line("warnings: " + "; ".join(f"{k}: {v}" for k, v in result.warnings.items())))
    return table
