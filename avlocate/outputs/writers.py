"""Every output format in one place. Writers see only :class:`Result` objects.

Formats: ``table`` (rich, for terminals), ``json`` (one object per video, an array for several),
``jsonl`` (one object per line), ``srt``, ``vtt`` (one cue per event, so overlapping events stay
valid), ``csv`` (one row per event), ``html`` (an interactive page, :mod:`avlocate.outputs.report`) and
``png`` (the same timeline as a picture; binary); for editors, ``otio``, ``audacity`` and ``tsv``
(:mod:`avlocate.outputs.editor_formats`).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Callable

from ..errors import UsageError
from ..results import Result
from .editor_formats import EDITOR_EXTENSIONS, EDITOR_WRITERS

FORMATS = ("table", "json", "jsonl", "srt", "vtt", "csv", "html", "png", *EDITOR_WRITERS)
EXTENSIONS = {"table": "txt", "json": "json", "jsonl": "jsonl", "srt": "srt", "vtt": "vtt", "csv": "csv",
              "html": "html", "png": "png", **EDITOR_EXTENSIONS}
#: formats that describe one video each (several videos need -o DIR)
PER_VIDEO = frozenset({"srt", "vtt", "html", "png", *EDITOR_WRITERS})


def parse_formats(spec: list[str] | str | None, default: str) -> list[str]:
    """``--format`` values (repeatable and/or comma-separated, or ``all``) -> ordered unique list."""
    if not spec:
        return [default]
    items = [spec] if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for item in items:
        for name in item.split(","):
            name = name.strip().lower()
            if not name:
                continue
            chosen = list(FORMATS) if name == "all" else [name]
            for n in chosen:
                if n not in FORMATS:
                    raise UsageError(f"unknown format {name!r}; choose from {', '.join(FORMATS)} or all")
                if n not in names:
                    names.append(n)
    return names or [default]


def _timestamp(seconds: float, sep: str) -> str:
    ms_total = int(round(max(0.0, seconds) * 1000))
    h, rem = divmod(ms_total, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cue_text(event) -> str:  # noqa: ANN001
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


def to_json(results: list[Result]) -> str:
    payload = results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results]
    return _dumps(payload, indent=2) + "\n"


def to_jsonl(results: list[Result]) -> str:
    return "".join(_dumps(r.to_dict()) + "\n" for r in results)


def to_srt(result: Result) -> str:
    blocks = []
    for i, ev in enumerate(result.events, start=1):
        end = max(ev.end, ev.start + 0.001)  # a cue needs end > start
        blocks.append(f"{i}\n{_timestamp(ev.start, ',')} --> {_timestamp(end, ',')}\n{_cue_text(ev)}\n")
    return "\n".join(blocks)


def to_vtt(result: Result) -> str:
    lines = ["WEBVTT", ""]
    for i, ev in enumerate(result.events, start=1):
        end = max(ev.end, ev.start + 0.001)
        lines += [str(i), f"{_timestamp(ev.start, '.')} --> {_timestamp(end, '.')}", _cue_text(ev), ""]
    return "\n".join(lines)


def to_csv(results: list[Result]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["video", "label", "start", "end", "score", "modality"])
    for r in results:
        for ev in r.events:
            d = ev.to_dict()
            writer.writerow([r.video, d["label"], d["start"], d["end"], d["score"], ev.modality or "audio-visual"])
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
    from rich.table import Table

    dur = "?" if result.duration is None else f"{result.duration:.2f} s"
    title = f"{result.video} — {len(result.events)} event(s) in {dur} — model {result.model}"
    table = Table(title=title, title_justify="left", min_width=min(100, len(title) + 2))
    for name, justify in (("#", "right"), ("label", "left"), ("start", "right"), ("end", "right"),
                          ("duration", "right"), ("score", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for i, ev in enumerate(result.events, start=1):
        label = ev.label + (f" ({ev.modality} only)" if ev.modality else "")
        # The duration is that of the times as shown, so that it always equals end - start on screen
        # (6.149 .. 9.636 shows as 6.15 .. 9.64, lasting 3.49, not the unrounded 3.487 -> 3.49 by luck).
        start, end = round(ev.start, 2), round(ev.end, 2)
        table.add_row(str(i), label, f"{start:.2f}", f"{end:.2f}", f"{end - start:.2f}", f"{ev.score:.2f}")
    if result.error:
        table.caption = f"error: {result.error}"
    elif result.warnings:
        table.caption = "warnings: " + "; ".join(f"{k}: {v}" for k, v in result.warnings.items())
    return table


def render(fmt: str, results: list[Result], embed: bool = False) -> str | bytes:
    """The content of ``fmt`` for the given results (per-video formats take exactly one result).

    ``png`` is bytes, everything else text. ``html`` references the video relative to the
    current directory (use :func:`write_file` to place a page elsewhere).
    """
    if fmt in PER_VIDEO:
        if len(results) != 1:
            raise UsageError(f"{fmt} holds one video; use -o DIR to write one file per video")
        one = results[0]
        if fmt == "html":
            from .report import render_html

            return render_html(one, embed=embed)
        if fmt == "png":
            from .report import render_png

            return render_png(one)
        per_video: dict[str, Callable[[Result], str]] = {"srt": to_srt, "vtt": to_vtt, **EDITOR_WRITERS}
        return per_video[fmt](one)
    return {"json": to_json, "jsonl": to_jsonl, "csv": to_csv, "table": to_table}[fmt](results)


def write_file(fmt: str, result: Result, path: Path, embed: bool = False) -> None:
    """Write one video's ``fmt`` to ``path`` (an html page references the video relative to it)."""
    if fmt == "html":
        from .report import write_html

        write_html(result, path, embed=embed)
        return
    content = render(fmt, [result], embed=embed)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def check_run_formats(formats: list[str], num_videos: int, to_dir: bool, stdout_tty: bool) -> None:
    """Refuse, before decoding, what the writers would refuse after all videos are done."""
    if to_dir:
        return
    per_video = [f for f in formats if f in PER_VIDEO]
    if per_video and num_videos > 1:
        raise UsageError(f"{per_video[0]} holds one video and {num_videos} were given; "
                         "use -o DIR to write one file per video")
    if "png" in formats and stdout_tty:
        raise UsageError("png is binary: redirect stdout to a file or use -o DIR")
