"""Names of models and weights: one safe path component each.

A name becomes a file name (``<name>.json``, ``<name>.safetensors``) inside ``--out`` or the cache;
anything that could leave that folder, hide a file or break a log line is refused in one line.
"""
from __future__ import annotations

import re

from ..errors import UsageError

#: longest accepted name (file systems allow 255 bytes; the suffixes need room).
MAX_NAME_LENGTH = 128

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def name_problem(name: object) -> str | None:
    """None when ``name`` is one safe path component, else what is wrong with it (a phrase)."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if _CONTROL.search(name):
        return "must not hold control characters (newline, tab, ...)"
    if "/" in name or "\\" in name:
        return "must be one name, without '/' or '\\'"
    if name.startswith("."):
        return "must not start with '.' (no '..', no hidden files)"
    if name != name.strip():
        return "must not start or end with spaces"
    if len(name) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters"
    return None


def check_name(name: object, what: str = "model name", error: type[Exception] = UsageError) -> str:
    """``name`` itself when it is one safe path component, else ``error`` naming the problem."""
    problem = name_problem(name)
    if problem is not None:
        raise error(f"{what} {name!r} {problem}; use letters, digits, '-', '_' or '.'")
    return name  # type: ignore[return-value]
