"""Label vocabularies of the zero-shot model: shipped data sets, a user's list, or a user's file.

Shipped vocabularies (``avlocate/data/vocab/*.txt``, one name per line) spell the classes
exactly as their data sets do, because users compare our output with those annotations:

* ``unav100`` — the 100 UnAV-100 classes in ``label_id`` order (0..99) of the official
  annotation file ``unav100_annotations.json`` (UnAV repository by ttgeng233).
* ``ave`` — the 28 AVE categories in the order of the official ``Annotations.txt`` class index
  (some names contain commas, e.g. ``"Male speech, man speaking"``: hence one name per line).

Every list goes through :func:`normalise_labels`: names are trimmed (inner whitespace collapsed),
duplicates dropped keeping the first occurrence (a name given twice would otherwise split the
softmax mass between two identical prompts), and an empty result is a :class:`UsageError`.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import InputNotFoundError, UsageError

#: shipped vocabularies: name -> file under avlocate/data/vocab/
BUILTIN_VOCABS: dict[str, str] = {"unav100": "unav100.txt", "ave": "ave.txt"}


def normalise_labels(names: Iterable[str], source: str = "--labels") -> list[str]:
    """Trimmed, deduplicated (first occurrence wins) label names; empty -> UsageError.

    Deduplication is case-insensitive ("Dog barking" and "dog barking" are one event to a
    text encoder) but keeps the spelling of the first occurrence.
    """
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        clean = " ".join(str(name).split())
        if clean and clean.casefold() not in seen:
            seen.add(clean.casefold())
            out.append(clean)
    if not out:
        raise UsageError(f"{source} gives no label names; pass e.g. --labels \"dog barking, car horn\" or --vocab unav100")
    return out


def parse_label_list(text: str) -> list[str]:
    """``--labels`` value -> names. Split on ``;`` when the text has one (so names that contain
    commas, like AVE's "Male speech, man speaking", can be given), else on ``,``."""
    sep = ";" if ";" in text else ","
    return normalise_labels(text.split(sep), "--labels")


def _read_lines(text: str) -> list[str]:
    """One name per line; blank lines and lines starting with ``#`` are ignored."""
    return [line for line in (raw.strip() for raw in text.splitlines()) if line and not line.startswith("#")]


def builtin_vocab(name: str) -> list[str]:
    key = name.strip().lower()
    if key not in BUILTIN_VOCABS:
        raise UsageError(f"unknown vocabulary {name!r}; shipped: {', '.join(BUILTIN_VOCABS)} (or give a file path)")
    text = resources.files("avlocate").joinpath("data", "vocab", BUILTIN_VOCABS[key]).read_text(encoding="utf-8")
    return normalise_labels(_read_lines(text), f"vocabulary {key}")


def load_vocab(spec: str) -> list[str]:
    """``--vocab`` value: a shipped name (``unav100``, ``ave``; case-insensitive) or a UTF-8
    text file, one name a line. Shipped names win; a file called ``ave`` is read as ``./ave``."""
    if spec.strip().lower() in BUILTIN_VOCABS:
        return builtin_vocab(spec)
    path = Path(spec).expanduser()
    if not path.exists():
        raise InputNotFoundError(f"--vocab {spec}: no such file and not a shipped vocabulary ({', '.join(BUILTIN_VOCABS)})")
    if not path.is_file():
        raise InputNotFoundError(f"--vocab {spec}: is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--vocab {spec}: cannot read it as UTF-8 text ({type(exc).__name__})") from None
    return normalise_labels(_read_lines(text), f"--vocab {spec}")


def resolve_labels(labels: str | Sequence[str] | None = None, vocab: str | None = None) -> list[str]:
    """The label list of a run: ``labels`` (a ``--labels`` string or a list) and/or ``vocab``.

    Both may be given: the vocabulary's names come first, then the extra labels (deduplicated).
    Neither is a UsageError: zero-shot has no default classes to guess.
    """
    names: list[str] = []
    if vocab is not None:
        names += load_vocab(vocab)
    if labels is not None:
        names += parse_label_list(labels) if isinstance(labels, str) else normalise_labels(labels)
    if labels is None and vocab is None:
        raise UsageError("the zero-shot model needs --labels \"a, b, ...\" or --vocab unav100|ave|FILE")
    return normalise_labels(names)
