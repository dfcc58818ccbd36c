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


# Demuxers (PyAV's ``format.name`` parts) of the containers a browser plays: the only ones embedded.
_EMBEDDABLE_DEMUXERS = frozenset({"mov", "mp4", "matroska", "webm", "avi", "ogg"})


def embeddable(result: Result, path: Path) -> str | None:
    """Why ``path`` must not be put inside a page, or None when it may.

    A results file can come from someone else: a line naming ``/etc/shadow`` must not turn a
    shareable page into a copy of that file. So a file is embedded only when the results say it
    was processed as media (no error, a duration) and it is what they say: a regular file with a
    browser video container's extension that PyAV opens as that container, with a video stream.
    """
    if result.error is not None or result.duration is None:
        return "the results do not say it was processed as a video"
    if path.suffix.lower() not in _VIDEO_TYPES:
        return f"{path.suffix or 'no extension'} is not a video container a browser plays"
    if not path.is_file():  # follows links; a FIFO or a device is not a regular file (never opened)
        return "not a regular file"
    try:
        import av

        with av.open(str(path), metadata_errors="ignore") as container:
            demuxers = set(container.format.name.split(","))
            has_video = bool(container.streams.video)
    except Exception:  # noqa: BLE001 - whatever PyAV cannot open is not embedded
        return "PyAV cannot open it as media"
    if not demuxers & _EMBEDDABLE_DEMUXERS or not has_video:
        return "PyAV does not find a video in a browser video container"
    return None


def _stream_source(video: str) -> tuple[str, list[str]]:
    """A URL input keeps its URL (as the OTIO writer does) when a browser can fetch it; other
    streams (rtsp://, udp://, standard input) have no source."""
    from urllib.parse import urlsplit

    if video == "-":
        return "", ["the video came from standard input; the player stays empty"]
    scheme = urlsplit(video).scheme.lower()
    if scheme in ("http", "https"):
        return video, []
    return "", [f"a browser cannot play {scheme}:// streams; the player stays empty"]


def video_source(result: Result, page_dir: Path, *, embed: bool = False, embed_limit: int = DEFAULT_EMBED_LIMIT,
                 video_base: Path | None = None) -> tuple[str, list[str]]:
    """The ``src`` for the page's ``<video>`` and notes for the reader.

    ``result.video`` is resolved against ``video_base`` (default: the current directory, where
    ``avlocate run`` was given the path). The page refers to it by a path relative to the page,
    so a folder holding both can be moved or zipped; ``embed`` inlines the file as a data: URL
    when it is at most ``embed_limit`` bytes and :func:`embeddable`. A URL stays a URL.
    """
    from ...media.inputs import is_stream

    if is_stream(result.video):
        return _stream_source(result.video)
    notes: list[str] = []
    path = Path(result.video)
    if not path.is_absolute():
        path = (video_base or Path.cwd()) / path
    if not path.is_file():
        notes.append(f"video file not found at {path}; the player stays empty")
    elif embed:
        size = path.stat().st_size
        refused = embeddable(result, path)
        if refused is not None:
            notes.append(f"video not embedded ({refused}); the page refers to the file instead")
        elif size <= embed_limit:
            mime = _VIDEO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "video/mp4"
            return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii"), notes
        else:
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
    from ..atomic import OutputSet

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    content = render_html(result, page_dir=path.parent, **options)
    with OutputSet(path.parent) as outputs:  # the old page or the whole new one, never a part
        outputs.add(path.name, content)
        outputs.commit()
    return path
