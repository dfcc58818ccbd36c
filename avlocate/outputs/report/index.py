"""``avlocate report results.jsonl -o report/``: one page per video plus an index page.

The index is static HTML (no script at all): every video with its event count per label, its
warnings or its error, linking to the per-video page written next to it. A video listed twice in
the JSONL (a batch re-run with --overwrite appends) counts once, with its last line.
"""
from __future__ import annotations

import html
import json
import os
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from ...errors import InputNotFoundError, OutputError, UsageError
from ...results import Result, result_dict_problem
from .html import DEFAULT_EMBED_LIMIT, csp_hash, render_html

_CSS = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #1d2433; margin: 0; padding: 16px 20px; }
h1 { font-size: 18px; margin: 0 0 4px; }
p { color: #667085; margin: 0 0 12px; }
table { border-collapse: collapse; }
th, td { padding: 3px 10px; border-bottom: 1px solid #d0d5dd; text-align: left; vertical-align: top; }
td.n { text-align: right; }
.error { color: #b42318; }
.warn { color: #b54708; }
"""


def read_results(results_jsonl: str | os.PathLike[str]) -> list[Result]:
    """The results of a JSONL file (one object per line), last line winning per video."""
    path = Path(results_jsonl)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: no such results file (write one with `avlocate batch DIR --out {path.name}`)")
    by_video: dict[str, Result] = {}

    def refuse(n: int, why: str) -> UsageError:
        return UsageError(f"{path}:{n}: not an avlocate result line ({why}); give a JSONL file written by "
                          "`avlocate batch`, or remove that line")

    def no_constants(name: str) -> float:  # strict JSON: a bare NaN/Infinity is not a number
        raise ValueError(f"{name} is not a JSON number")

    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            torn = not raw.endswith(b"\n")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                if torn:
                    break
                raise refuse(n, "not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                data = json.loads(line, parse_constant=no_constants)
                problem = result_dict_problem(data)
                if problem is not None:
                    raise ValueError(problem)
                result = Result.from_dict(data)
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
                if torn:
                    break  # a last line torn by a crash, as `batch` repairs it: the whole lines are reported
                raise refuse(n, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
            by_video.pop(result.video, None)  # keep first-seen order unless re-run, then move to end
            by_video[result.video] = result
    return list(by_video.values())


def _page_names(results: list[Result]) -> list[str]:
    """``<stem>.html`` per video, made unique (``clip.html``, ``clip-2.html``) across folders."""
    from .names import unique_stems

    return [f"{stem}.html" for stem in unique_stems((r.video for r in results), reserved=["index.html"], extensions=["html"])]


def _video_base(video: str, results_jsonl: Path) -> Path:
    """Where a relative video path is found: the current directory (where the batch ran), else
    the folder of the JSONL file (a report made elsewhere from a copied results folder)."""
    if Path(video).is_absolute() or (Path.cwd() / video).exists():
        return Path.cwd()
    return results_jsonl.resolve().parent


def write_report(results_jsonl: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, embed: bool = False,
                 embed_limit: int = DEFAULT_EMBED_LIMIT) -> Path:
    """Write ``out_dir/index.html`` and one page per successful video; returns the index path."""
    from ..atomic import OutputSet, check_output_dir

    src, out = Path(results_jsonl), Path(out_dir)
    results = read_results(src)
    check_output_dir(out)  # before rendering (an --embed report can take a while)
    rows = []
    try:
        with OutputSet(out) as outputs:  # all pages and the index, or none of them
            for result, name in zip(results, _page_names(results)):
                if result.error is None:
                    outputs.add(name, render_html(result, page_dir=out, embed=embed, embed_limit=embed_limit,
                                                  video_base=_video_base(result.video, src)))
                rows.append(_row(result, name))
            index = outputs.add("index.html", _index_page(src.name, results, rows))
            outputs.commit()
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the report ({exc.strerror or exc}); choose a writable -o") from None
    return index


def _row(result: Result, page: str) -> str:
    e = html.escape
    counts = Counter(ev.label for ev in result.events)
    labels = ", ".join(f"{e(label)} ×{n}" for label, n in counts.most_common())
    if result.error is not None:
        video = e(result.video)
        notes = f'<span class="error">error {e(str(result.error_code))}: {e(result.error)}</span>'
    else:
        video = f'<a href="{e(quote(page), quote=True)}">{e(result.video)}</a>'
        notes = "; ".join(f'<span class="warn">{e(k)}: {e(str(v))}</span>' for k, v in result.warnings.items())
    dur = "" if result.duration is None else f"{result.duration:.2f}"
    return (f"<tr><td>{video}</td><td class=\"n\">{dur}</td><td class=\"n\">{len(result.events)}</td>"
            f"<td>{labels}</td><td>{e(result.model or '')}</td><td>{notes}</td></tr>")


def _index_page(source: str, results: list[Result], rows: list[str]) -> str:
    failed = sum(r.error is not None for r in results)
    events = sum(len(r.events) for r in results)
    summary = f"{len(results)} video(s), {events} event(s)" + (f", {failed} failed" if failed else "")
    csp = f"default-src 'none'; style-src {csp_hash(_CSS)}"
    title = html.escape(f"avlocate report — {source}")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{html.escape(csp, quote=True)}">
<title>{title}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{title}</h1>
<p>{html.escape(summary)}</p>
<table>
<thead><tr><th>video</th><th>duration s</th><th>events</th><th>labels</th><th>model</th><th>warnings / error</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</body>
</html>
"""
