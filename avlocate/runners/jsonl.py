"""The batch results file: one writer at a time, whole lines only, durable line by line.

* **Lock.** The file itself is locked with ``flock`` (exclusive, non-blocking) for as long as a
  batch writes it. A second ``avlocate batch`` on the same file refuses with an OutputError
  instead of interleaving lines or redoing the same videos. The kernel drops the lock when the
  process dies, even by SIGKILL, so a crashed batch never leaves a stale lock behind (which a
  separate lock file with a pid inside could).
* **Whole lines.** Each record is appended with ``O_APPEND`` and fsynced. If the write fails
  part-way (disk full, file size limit, I/O error), the file is cut back to its previous length,
  so a failed write never leaves a partial line; the error is one line (OutputError, exit 7).
* **Repair.** On open, a torn last line (a crash mid-write without the cut-back, e.g. a power
  loss) is removed. An invalid line *followed by valid ones* is not a torn end: we refuse rather
  than silently drop the valid lines after it.
"""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from ..errors import OutputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, batches must not overlap
    fcntl = None  # type: ignore[assignment]


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def scan_lines(data: bytes) -> tuple[set[str], int, int | None]:
    """(videos on valid lines, byte length of the valid prefix, 1-based number of an invalid line
    that has valid lines after it, or None)."""
    done: set[str] = set()
    good_end = 0
    bad_line: int | None = None
    pos, number = 0, 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break  # no newline: torn
        number += 1
        try:
            record = json.loads(data[pos:nl])
            video = record["video"]
            if not isinstance(video, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            if bad_line is None:
                bad_line = number
        else:
            if bad_line is not None:
                return done, good_end, bad_line
            done.add(video)
            good_end = nl + 1
        pos = nl + 1
    return done, good_end, None


def encode_line(record: dict) -> bytes:
    """One JSON line, UTF-8. File names that are not valid UTF-8 (Linux allows any bytes; Python
    keeps them as lone surrogates) cannot be written as UTF-8 text: such a line is written with
    ASCII escapes instead, which is valid JSON and reads back to the same name (so resume works)."""
    try:
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record, ensure_ascii=True) + "\n").encode("ascii")


class ResultsFile:
    """An open, locked JSONL results file; use as a context manager."""

    def __init__(self, path: Path, overwrite: bool = False) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write results ({_reason(exc)}); choose a writable --out") from None
        try:
            self._lock()
            if overwrite:
                os.ftruncate(self.fd, 0)
            self.done = self._repair()
        except BaseException:
            os.close(self.fd)
            raise

    def _lock(self) -> None:
        if fcntl is None:
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputError(f"{self.path}: another `avlocate batch` is writing this file; "
                                  "wait for it to finish or choose another --out") from None
            raise OutputError(f"{self.path}: cannot lock the results file ({_reason(exc)}); choose another --out") from None

    def _repair(self) -> set[str]:
        try:
            size = os.fstat(self.fd).st_size
            data = os.pread(self.fd, size, 0) if size else b""
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot read existing results ({_reason(exc)})") from None
        done, good_end, bad_line = scan_lines(data)
        if bad_line is not None:
            raise OutputError(f"{self.path}: line {bad_line} is not a valid result line but later lines are; "
                              "fix or remove that line, or use --overwrite")
        if good_end < len(data):
            self._cut(good_end)
        return done

    def _cut(self, size: int) -> None:
        try:
            os.ftruncate(self.fd, size)
            os.fsync(self.fd)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot repair the torn last line ({_reason(exc)})") from None

    def append(self, record: dict) -> None:
        """Write ``record`` as one line, durably, or raise OutputError leaving the file as before."""
        data = encode_line(record)
        before = os.fstat(self.fd).st_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
            os.fsync(self.fd)
        except OSError as exc:
            try:
                os.ftruncate(self.fd, before)  # frees space, so it works on a full disk too
            except OSError:  # pragma: no cover - nothing more we can do; the next open repairs it
                pass
            raise OutputError(f"{self.path}: writing results failed ({_reason(exc)}); the lines written "
                              "before are kept: make room and re-run the same command to resume") from None
        self.done.add(record["video"])

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # also releases the lock
            self.fd = -1

    def __enter__(self) -> "ResultsFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
