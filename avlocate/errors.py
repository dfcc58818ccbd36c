"""Errors a user can cause, each with a one-line message and its own exit code.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; ``--debug`` adds the
traceback. Exit codes are part of the public interface (listed in the README): never renumber.
"""
from __future__ import annotations

import os
from pathlib import Path


class AvlocateError(Exception):
    """Base class of every error caused by input, configuration or environment."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        # Messages are one line by contract: a newline would break "one error, one line" logs.
        super().__init__(" ".join(str(message).split()))


class UsageError(AvlocateError):
    """Bad command-line arguments or option combinations."""

    exit_code = 2


class InputNotFoundError(AvlocateError):
    """A path given by the user does not exist or is not the kind of path expected."""

    exit_code = 3


class MediaError(AvlocateError):
    """A file that cannot be read as audio/video (empty, truncated, not media, no usable stream)."""

    exit_code = 4


class WeightsError(AvlocateError):
    """Weights are missing, corrupt, refused (unsafe), or do not fit the model."""

    exit_code = 5


class ModelError(AvlocateError):
    """Unknown model/extractor name, or a head and an extractor that do not fit together."""

    exit_code = 6


class OutputError(AvlocateError):
    """Results cannot be written (unwritable directory, full disk, locked output file)."""

    exit_code = 7


class OfflineError(WeightsError):
    """A code path would need the network, which is not available or not allowed."""

    exit_code = 8


class DriveRefusedError(OfflineError):
    """Google Drive answered, but with a page instead of the file (quota exceeded, sign-in, a
    file no longer shared). Same exit code as :class:`OfflineError`: the way out is the same (get
    the file another way, then ``avlocate weights import``)."""

    exit_code = 8


class TimeoutError_(AvlocateError):
    """A per-file time limit was exceeded (batch --timeout)."""

    exit_code = 9


class StreamEndedEarlyError(AvlocateError):
    """A network stream stalled (no data for --stall-timeout seconds) or was dropped: the events
    found so far were written, but the stream did not end normally."""

    exit_code = 10


class ConnectionRefusedError_(MediaError):
    """A URL whose server refused the connection (nothing listens on that port)."""

    exit_code = 11


class RemoteNotFoundError(MediaError):
    """A URL the server answered with "not found" (HTTP 404) or another client error (4xx)."""

    exit_code = 12


class UnknownHostError(MediaError):
    """A URL whose host name does not resolve."""

    exit_code = 13


class NoVideoStreamError(MediaError):
    """A stream (URL or standard input) that carries no video, when the model needs video."""

    exit_code = 14


class ServerError(MediaError):
    """A URL whose server failed to answer (HTTP 500, 503 or another 5xx): the server's trouble,
    worth a retry later, not a bad file."""

    exit_code = 15


#: exit code of `avlocate batch` when at least one video failed (the others were written).
EXIT_BATCH_FAILURES = 1
#: exit code of an unexpected internal error (a bug), printed as one line without --debug.
EXIT_INTERNAL = 70
#: exit code when the user interrupts with Ctrl-C.
EXIT_INTERRUPTED = 130

ALL_ERRORS: tuple[type[AvlocateError], ...] = (
    UsageError,
    InputNotFoundError,
    MediaError,
    WeightsError,
    ModelError,
    OutputError,
    OfflineError,
    TimeoutError_,
    StreamEndedEarlyError,
    ConnectionRefusedError_,
    RemoteNotFoundError,
    UnknownHostError,
    NoVideoStreamError,
    ServerError,
)


def naming(path: object, message: str) -> str:
    """``message`` naming the file ``path`` exactly once, at its start ("PATH: what is wrong; what
    to do"). Errors about a file already start with its path; a line that adds the path in front
    of them (a batch's "failed: PATH: ...") would repeat it, so every such line goes through here."""
    text = str(path)
    spellings = {text, os.fspath(Path(text))}  # Path() drops "./" and a trailing "/"
    if any(message == s or message.startswith(f"{s}: ") for s in spellings):
        return message
    return f"{text}: {message}"


#: The exit-code table of the README ("Exit codes"), generated from here: ``python -m avlocate.errors``
#: prints it, and a test checks that the README holds exactly this table.
EXIT_CODES: dict[int, str] = {
    0: "success",
    EXIT_BATCH_FAILURES: "`batch`, `extract`: at least one video failed (the others were written); a re-run keeps 1 "
                         "while error lines remain (`batch --retry-failed` redoes them)",
    UsageError.exit_code: "bad command-line usage (unknown option, missing argument, bad value, unknown format, "
                          "unknown or absent `--device`, `--engine ray` without Ray installed, a resumed batch "
                          "with another model or settings, a file that is not what the command reads)",
    InputNotFoundError.exit_code: "a path does not exist, or is a folder where a file is expected (or the reverse); "
                                  "a batch folder without videos; standard input closed where `-` is read",
    MediaError.exit_code: "a file is not readable media (empty, truncated, not a video, no video stream)",
    WeightsError.exit_code: "weights missing, corrupt, refused or not fitting the model; unknown model name",
    ModelError.exit_code: "unknown head/extractor, an extractor whose optional library is not installed, "
                          "or a model and an extractor that do not fit",
    OutputError.exit_code: "results cannot be written (unwritable folder, full disk, output locked by another batch, "
                           "standard output closed or full, `AVLOCATE_HOME` a file or read-only)",
    OfflineError.exit_code: "a step would need the network, which is not available",
    TimeoutError_.exit_code: "a per-file time limit was exceeded",
    StreamEndedEarlyError.exit_code: "a network stream or a pipe stalled (no data for `--stall-timeout` s) or was dropped: "
                                     "the events found so far were written (none when it stalled before its first data)",
    ConnectionRefusedError_.exit_code: "a URL's server refused the connection",
    RemoteNotFoundError.exit_code: "a URL the server does not have (HTTP 404, or another 4xx answer)",
    UnknownHostError.exit_code: "a URL whose host name does not resolve",
    NoVideoStreamError.exit_code: "a stream (URL or `-`) without a video stream",
    ServerError.exit_code: "a URL's server failed (HTTP 500, 503 or another 5xx answer): retry later",
    EXIT_INTERNAL: "internal error (a bug: please report it with `--debug` output); in a `batch` line: the video "
                   "crashed its worker process, also when retried alone",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}


def exit_code_table() -> str:
    """The README's table, in Markdown."""
    rows = ["| code | meaning |", "|---|---|"] + [f"| {code} | {meaning} |" for code, meaning in sorted(EXIT_CODES.items())]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(exit_code_table(), end="")
