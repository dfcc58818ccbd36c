"""Every output format, one entry each in :data:`TABLE`. Writers see only :class:`Result` objects.

A :class:`Format` is everything the CLI and the library know about a format: its name (for
``--format``), its file extension (for ``-o DIR``), whether it describes one video per file,
whether it is binary, and how it renders. Adding a format is adding one entry to :data:`TABLE`;
``FORMATS``, ``EXTENSIONS`` and ``PER_VIDEO`` are views of it, kept for callers.

Formats: ``table`` (rich, for terminals), ``json``, ``jsonl``, ``srt``, ``vtt``, ``csv``
(:mod:`.text_formats`), ``html`` (an interactive page, :mod:`avlocate.outputs.report`) and ``png``
(the same timeline as a picture; binary); for editors, ``otio``, ``audacity`` and ``tsv``
(:mod:`.editor_formats`). How each escapes text: :mod:`.escape`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..results import Result
from .atomic import OutputSet
from .editor_formats import to_audacity, to_otio, to_tsv
from .text_formats import rich_table, to_csv, to_json, to_jsonl, to_srt, to_table, to_vtt

__all__ = ["EXTENSIONS", "FORMATS", "PER_VIDEO", "TABLE", "Format", "RenderOptions", "check_run_formats",
           "get_format", "parse_formats", "render", "rich_table", "write_file"]


@dataclass(frozen=True)
class RenderOptions:
    """What a format may need beyond the results: where its file goes (html refers to the video
    relative to it; None: the current directory), whether html embeds the video, and whether
    json must be an array even for one result (a run given several inputs)."""

    page_dir: Path | None = None
    embed: bool = False
    array: bool | None = None


@dataclass(frozen=True)
class Format:
    name: str  #: the ``--format`` value
    extension: str  #: the file name ends in ``.<extension>`` with ``-o DIR``
    per_video: bool  #: one file describes one video (several videos need ``-o DIR``)
    render: Callable[[Sequence[Result], RenderOptions], str | bytes]  #: per_video: exactly one result
    binary: bool = False  #: bytes, never for a terminal


def _one(fn: Callable[[Result], str]) -> Callable[[Sequence[Result], RenderOptions], str]:
    return lambda results, options: fn(results[0])


def _html(results: Sequence[Result], options: RenderOptions) -> str:
    from .report import render_html

    return render_html(results[0], page_dir=options.page_dir, embed=options.embed)


def _png(results: Sequence[Result], options: RenderOptions) -> bytes:
    from .report import render_png

    return render_png(results[0])


#: The one table of output formats, in ``--format all`` order.
TABLE: tuple[Format, ...] = (
    Format("table", "txt", False, lambda results, options: to_table(list(results))),
    Format("json", "json", False, lambda results, options: to_json(list(results), options.array)),
    Format("jsonl", "jsonl", False, lambda results, options: to_jsonl(list(results))),
    Format("srt", "srt", True, _one(to_srt)),
    Format("vtt", "vtt", True, _one(to_vtt)),
    Format("csv", "csv", False, lambda results, options: to_csv(list(results))),
    Format("html", "html", True, _html),
    Format("png", "png", True, _png, binary=True),
    Format("otio", "otio", True, _one(to_otio)),
    # A .txt for Audacity, but ``table`` already writes <stem>.txt: a double extension keeps both.
    Format("audacity", "labels.txt", True, _one(to_audacity)),
    Format("tsv", "tsv", True, _one(to_tsv)),
)

_BY_NAME = {f.name: f for f in TABLE}
FORMATS = tuple(_BY_NAME)
EXTENSIONS = {f.name: f.extension for f in TABLE}
#: formats that describe one video each (several videos need -o DIR)
PER_VIDEO = frozenset(f.name for f in TABLE if f.per_video)


def get_format(name: str) -> Format:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UsageError(f"unknown format {name!r}; choose from {', '.join(FORMATS)} or all") from None


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
                get_format(n)
                if n not in names:
                    names.append(n)
    return names or [default]


def render(fmt: str, results: list[Result], embed: bool = False, *, page_dir: Path | None = None,
           array: bool | None = None) -> str | bytes:
    """The content of ``fmt`` for the given results (per-video formats take exactly one result).

    ``png`` is bytes, everything else text. ``html`` references the video relative to
    ``page_dir`` (default: the current directory; :func:`write_file` places a page elsewhere).
    """
    f = get_format(fmt)
    if f.per_video and len(results) != 1:
        raise UsageError(f"{fmt} holds one video; use -o DIR to write one file per video")
    return f.render(results, RenderOptions(page_dir=page_dir, embed=embed, array=array))


def write_file(fmt: str, result: Result, path: Path, embed: bool = False) -> None:
    """Write one video's ``fmt`` to ``path`` atomically (a temporary name in the same folder,
    then a rename: the file is the old one or the whole new one, never a part)."""
    path = Path(path)
    content = render(fmt, [result], embed=embed, page_dir=path.parent)
    with OutputSet(path.parent) as outputs:
        outputs.add(path.name, content)
        outputs.commit()


def check_run_formats(formats: list[str], num_videos: int, to_dir: bool, stdout_tty: bool) -> None:
    """Refuse, before decoding, what the writers would refuse after all videos are done."""
    if to_dir:
        return
    per_video = [f for f in formats if f in PER_VIDEO]
    if per_video and num_videos > 1:
        raise UsageError(f"{per_video[0]} holds one video and {num_videos} were given; "
                         "use -o DIR to write one file per video")
    binary = [f for f in formats if _BY_NAME[f].binary]
    if binary and stdout_tty:
        raise UsageError(f"{binary[0]} is binary: redirect stdout to a file or use -o DIR")
