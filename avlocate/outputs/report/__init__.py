"""Seeing the events: a self-contained HTML page per video, an index for a batch, a PNG timeline.

* :func:`render_html` / :func:`write_html` — one page: player, one lane per label, bars you can
  hover and click to seek, a playhead, per-snippet score curves when the result has them.
* :func:`write_report` — ``avlocate report results.jsonl -o report/``: the pages plus index.html.
* :func:`render_png` / :func:`write_png` — the same timeline as a picture (1200 px wide).

Like the writers, these see only :class:`~avlocate.results.Result` objects.
"""
from __future__ import annotations

from .html import DEFAULT_EMBED_LIMIT, render_html, write_html
from .index import read_results, write_report
from .png import render_png, write_png

__all__ = ["DEFAULT_EMBED_LIMIT", "read_results", "render_html", "render_png", "write_html", "write_png", "write_report"]
