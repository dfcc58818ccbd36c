"""Text escaping per output format: labels come from model cards (untrusted) or from the user
(zero-shot ``--labels``), file names from anyone. Each writer passes every text it did not
compose itself through the function of its format here, so a label can never add a record, a
cue, markup or a spreadsheet formula. JSON (and JSONL, OTIO, HTML's JSON block) keep text exact:
their own encoders escape it.
"""
from __future__ import annotations

# Characters Python's str.splitlines() breaks on (besides \n and \r): a subtitle renderer or a
# spreadsheet may break on them too, so they count as line breaks here.
_BREAKS = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_CONTROL = {c: " " for c in range(0x20) if chr(c) not in "\t\n\r"} | {0x7F: " "}


def one_line(text: object) -> str:
    """``text`` on one line: every run of whitespace or line breaks (tabs, CR, U+2028 ...) and
    every control character becomes one space; leading and trailing spaces are dropped."""
    s = str(text).translate(_CONTROL)
    for ch in _BREAKS:
        s = s.replace(ch, " ")
    return " ".join(s.split())


def vtt_text(text: object) -> str:
    """WebVTT cue text: one line, with ``&``, ``<`` and ``>`` as character references, as the
    WebVTT spec requires of text that is not markup (so ``-->`` cannot appear either)."""
    return one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def srt_text(text: object) -> str:
    """SubRip cue text: one line (an empty line would end the cue, a line of times start a new
    one); ``-->`` is broken to ``->`` so no player can read the text as a timing line. SubRip
    has no escape for ``<``: players that render ``<i>``-style tags will render them."""
    s = one_line(text)
    while "-->" in s:
        s = s.replace("-->", "->")
    return s


# Cells starting with these are formulas (or DDE) for Excel, LibreOffice and Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(text: object) -> str:
    """A CSV/TSV text cell that a spreadsheet shows as text, never runs (OWASP, "CSV Injection"):
    a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'``.
    Separators and quotes inside the cell are the CSV writer's job (it quotes such cells)."""
    s = str(text)
    return "'" + s if s.startswith(_FORMULA_START) else s
