"""One self-contained HTML page per video: player, one lane per label, bars, playhead, curves.

Nothing is fetched from the network: CSS and JS are inline, and a Content-Security-Policy pins
the two inline blocks by their sha256, so even a string that somehow became markup could not run
a script. User-provided text (labels, paths, warnings) travels only inside a JSON data block
(every ``<``, ``>`` and ``&`` escaped, so ``</script>`` cannot close it) and is put on the page
with ``textContent`` by the script.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import mimetypes
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ...results import Result
from .assets import CSS, JS
from .layout import PALETTE, build, fmt_time, nice_ticks

DEFAULT_EMBED_LIMIT = 20_000_000  # bytes (20 MB); base64 makes the page a third larger than this

# Browsers guess poorly from a data: URL without a type; these are the containers we decode.
_VIDEO_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
                ".mkv": "video/x-matroska", ".ogv": "video/ogg", ".ogg": "video/ogg", ".avi": "video/x-msvideo"}


def _json_for_script(data: Any) -> str:
    """JSON that cannot end its ``<script>`` block nor open a comment: ``<``, ``>``, ``&`` escaped."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def video_source(result: Result, page_dir: Path, *, embed: bool = False, embed_limit: int = DEFAULT_EMBED_LIMIT,
                 video_base: Path | None = None) -> tuple[str, list[str]]:
    """The ``src`` for the page's ``<video>`` and notes for the reader.

    ``result.video`` is resolved against ``video_base`` (default: the current directory, where
    ``avlocate run`` was given the path). The page refers to it by a path relative to the page,
    so a folder holding both can be moved or zipped; ``embed`` inlines the file as a data: URL
    when it is at most ``embed_limit`` bytes.
    """
    notes: list[str] = []
    path = Path(result.video)
    if not path.is_absolute():
        path = (video_base or Path.cwd()) / path
    if not path.is_file():
        notes.append(f"video file not found at {path}; the player stays empty")
    elif embed:
        size = path.stat().st_size
        if size <= embed_limit:
            mime = _VIDEO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "video/mp4"
            return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii"), notes
        notes.append(f"video not embedded: {size / 1e6:.1f} MB is over the {embed_limit / 1e6:.1f} MB limit; "
                     "the page refers to the file instead")
    try:
        rel = os.path.relpath(path.resolve(), page_dir.resolve())
    except ValueError:  # another drive on Windows: no relative path exists
        return path.resolve().as_uri(), notes
    return quote(Path(rel).as_posix()), notes


def page_data(result: Result, notes: list[str] | None = None, video_ref: str = "") -> dict[str, Any]:
    """Everything the page script draws, as plain JSON (tested directly, and by the browser test)."""
    layout = build(result)
    index = {id(e): i for i, e in enumerate(result.events)}
    lanes = []
    for k, lane in enumerate(layout.lanes):
        lanes.append({
            "label": lane.label,
            "color": PALETTE[k % len(PALETTE)],
            "rows": lane.num_rows,
            "curve": lane.curve,
            "events": [dict(e.to_dict(), row=r, index=index[id(e)], modality=e.modality)
                       for e, r in zip(lane.events, lane.rows)],
        })
    meta = [f"{len(result.events)} event(s)"]
    if result.duration is not None:
        meta.append(f"{result.duration:.2f} s")
    for key in ("model", "weights", "extractor", "device"):
        if getattr(result, key):
            meta.append(f"{key} {getattr(result, key)}")
    page_notes = [{"text": f"error: {result.error}", "error": True}] if result.error else []
    page_notes += [{"text": f"warning: {k}: {v}", "error": False} for k, v in result.warnings.items()]
    page_notes += [{"text": n, "error": False} for n in notes or []]
    return {
        "title": Path(result.video).name or result.video,
        "videoRef": video_ref,
        "duration": layout.duration,
        "meta": meta,
        "notes": page_notes,
        "ticks": [[t, fmt_time(t)] for t in nice_ticks(layout.duration)],
        "lanes": lanes,
        "curveTimes": layout.curve_times,
        "events": [e.to_dict() | {"modality": e.modality} for e in result.events],
    }


def render_html(result: Result, *, page_dir: Path | None = None, embed: bool = False,
                embed_limit: int = DEFAULT_EMBED_LIMIT, video_base: Path | None = None) -> str:
    """The page for one video; ``page_dir`` is where it will be saved (relative video path)."""
    src, notes = video_source(result, page_dir or Path.cwd(), embed=embed, embed_limit=embed_limit,
                              video_base=video_base)
    ref = "the embedded copy" if src.startswith("data:") else src
    data = _json_for_script(page_data(result, notes, ref))
    csp = (f"default-src 'none'; script-src {csp_hash(JS)}; style-src {csp_hash(CSS)}; "
           "media-src * data: blob: file:; img-src data:")
    title = html.escape(Path(result.video).name or result.video)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{html.escape(csp, quote=True)}">
<meta name="generator" content="avlocate">
<title>{title} — avlocate</title>
<style>{CSS}</style>
</head>
<body>
<h1 id="title"></h1>
<p id="meta"></p>
<div id="notes"></div>
<video id="player" controls preload="metadata" src="{html.escape(src, quote=True)}"></video>
<div id="timeline"><div class="row"><div class="lane-label"></div><div class="track" id="axis"></div></div></div>
<table id="events"><thead><tr><th>#</th><th>label</th><th>start s</th><th>end s</th><th>duration s</th><th>score</th></tr></thead>
<tbody id="events-body"></tbody></table>
<div id="tip" role="tooltip"></div>
<script type="application/json" id="avl-data">{data}</script>
<script>{JS}</script>
</body>
</html>
"""


def write_html(result: Result, path: str | os.PathLike[str], **options: Any) -> Path:
    """Write the page for ``result`` to ``path`` (the video is referenced relative to it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, page_dir=path.parent, **options), encoding="utf-8")
    return path
