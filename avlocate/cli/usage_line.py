"""Click's usage errors as one line, like every other avlocate error.

Click prints a three-line block (usage, a hint, the error). Logs and scripts that read stderr
line by line expect one line: ``avlocate: <what is wrong>; see `avlocate run --help```.
"""
from __future__ import annotations

from typing import Any


def command_of(ctx: Any) -> str:
    """``avlocate batch`` for a click context, whatever the program was called (python -m ...)."""
    names: list[str] = []
    while ctx is not None:
        if ctx.parent is None:
            names.append("avlocate")
        elif ctx.info_name:
            names.append(str(ctx.info_name))
        ctx = ctx.parent
    return " ".join(reversed(names)) or "avlocate"


def usage_line(exc: Exception) -> str:
    """The message of a click ``UsageError``/``BadParameter`` plus where to read the usage."""
    message = " ".join(exc.format_message().split()) if hasattr(exc, "format_message") else str(exc)
    ctx = getattr(exc, "ctx", None)
    return f"{message.rstrip('.')}; see `{command_of(ctx)} --help`"
