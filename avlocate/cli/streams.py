"""Standard streams that were closed (``>&-``, ``<&-``) or sit on a full device: one line each, with
their exit code, instead of an internal error.

Python sets ``sys.stdout`` (``stdin``, ``stderr``) to None when its descriptor is closed at start.
Stand-ins take their place: a command that never writes to stdout still works; one that does gets
one line and exit 7; reading a closed stdin (``run -``) is exit 3.
"""
from __future__ import annotations

import errno
import io
import os
import sys

from ..errors import InputNotFoundError, OutputError


class _ClosedOutput(io.TextIOBase):
    """What stands for a closed stdout: writing to it is an :class:`OutputError`."""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not text:
            return 0
        raise OutputError("standard output is closed; redirect it to a file (or /dev/null) instead of closing it")

    def flush(self) -> None:
        return None


class _ClosedInput(io.TextIOBase):
    """What stands for a closed stdin: reading it is an :class:`InputNotFoundError`."""

    def readable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def _refuse(self, *args: object) -> str:
        raise InputNotFoundError("standard input is closed; there is nothing to read from '-'")

    read = readline = _refuse

    @property
    def buffer(self):  # noqa: ANN201 - `run -` reads the binary buffer
        self._refuse()

    def fileno(self) -> int:
        self._refuse()
        return -1


def stand_in_for_closed_streams() -> None:
    """Put stand-ins where Python found a standard stream closed (None)."""
    if sys.stderr is None:  # nowhere to say anything: the exit code still tells
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()
    if sys.stdin is None:
        sys.stdin = _ClosedInput()


def reads_closed_stdin(argv: list[str]) -> bool:
    """True when stdin is closed and the command line asks to read it (an input '-')."""
    return isinstance(sys.stdin, _ClosedInput) and "-" in argv


def stream_write_error(exc: OSError) -> OutputError | None:
    """An :class:`OutputError` for a write that failed on a full device or a broken medium (stdout
    on /dev/full), None for other OS errors (they are the callers' to explain)."""
    if exc.errno not in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
        return None
    where = exc.filename or "standard output"
    return OutputError(f"cannot write {where}: {os.strerror(exc.errno)}; free some space or write elsewhere")


def flush_stdout() -> None:
    """Flush stdout now, so a full device is reported here (one line), not by the interpreter at exit."""
    try:
        sys.stdout.flush()
    except ValueError:  # already closed by the command
        pass
