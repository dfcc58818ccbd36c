"""The batch results file: one writer at a time, whole lines only, durable line by line.

* **Lock.** The file itself is locked with ``flock`` (exclusive, non-blocking) for as long as a
  batch writes it. A second ``avlocate batch`` on the same file refuses with an OutputError
  instead of interleaving lines or redoing the same videos. The kernel drops the lock when the
  process dies, even by SIGKILL, so a crashed batch never leaves a stale lock behind (which a
  separate lock file with a pid inside could).
* **Whole lines.** Each record is appended with ``O_APPEND`` and fsynced. If the write fails
  part-way (disk full, file size limit, I/O error), the file is cut back to its previous length,
  so a failed write never leaves a partial line; the error is one line (OutputError, exit 7).
* **Repair, never wipe.** ``--out`` must be a regular file or absent (checked before it is
  opened and on the open file: ``/dev/zero`` or a FIFO is one line, never read). On open, an
  unterminated last line (a crash mid-write without the cut-back, e.g. a power loss) is cut; that
  is the only thing ever cut. A file whose lines are not avlocate result lines (a video, a list,
  the JSON of ``run``: a typo in ``--out``) is refused in one line and left as it was, and so is
  an invalid line anywhere: we refuse rather than drop lines. It is read line by line (memory:
  one line, at most MAX_LINE_BYTES) and only up to the size it had when opened.
"""
from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OutputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, batches must not overlap
    fcntl = None  # type: ignore[assignment]


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


#: Longest line read back (a result line with ``--scores`` of a long video is a few MB): a file
#: with a longer one is refused, so reading a results file never takes unbounded memory.
MAX_LINE_BYTES = 64 << 20
_CHUNK = 1 << 20
#: How every line avlocate writes begins (Result.to_dict puts the video first): an unterminated
#: last line that begins so is one of ours, torn by a crash, and may be cut.
OWN_LINE_START = b'{"video":'


def open_regular(path: Path, flags: int, what: str = "--out") -> int:
    """``path`` opened with ``flags``, refused unless it is a regular file (or absent, with
    O_CREAT). Checked before opening (a FIFO or a tape would block or act on open) and again on
    the open descriptor (the path may have changed between): ``/dev/zero``, ``/dev/stdout``, a
    FIFO or a folder is one line, never read."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"{path}: cannot use as results file ({_reason(exc)}); choose another {what}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{path}: not a regular file ({_kind(st.st_mode)}); {what} must be a results file or "
                          "absent")
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0), 0o644)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise OutputError(f"{path}: not a regular file ({_kind(st.st_mode)}); {what} must be a results file or absent")
    return fd


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a pipe"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def iter_lines(fd: int, size: int, path: object = "") -> Iterator[tuple[int, bytes, bool]]:
    """``(offset, line without its newline, terminated)`` for the first ``size`` bytes of ``fd``,
    read in chunks: memory stays within one line (at most MAX_LINE_BYTES) whatever the size."""
    buf = bytearray()
    base = pos = 0
    while pos < size:
        chunk = os.pread(fd, min(_CHUNK, size - pos), pos)
        if not chunk:
            break  # the file shrank meanwhile
        pos += len(chunk)
        search, i = len(buf), 0
        buf += chunk
        while True:
            nl = buf.find(b"\n", search)
            if nl < 0:
                break
            yield base + i, bytes(buf[i:nl]), True
            i = search = nl + 1
        del buf[:i]
        base += i
        if len(buf) > MAX_LINE_BYTES:
            raise OutputError(f"{path}: a line longer than {MAX_LINE_BYTES >> 20} MB is not an avlocate result line; "
                              "choose another --out")
    if buf:
        yield base, bytes(buf), False


def parse_line(raw: bytes) -> dict | None:
    """The record of an avlocate result line (a JSON object with a string ``video``), else None."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("video"), str):
        return None
    return record


@dataclass
class Scan:
    done: set[str] = field(default_factory=set)  # videos on valid lines
    good_end: int = 0  # byte length of the whole lines (all valid when bad_line is None)
    valid: int = 0  # number of valid lines
    bad_line: int | None = None  # 1-based number of the first terminated line that is not a result line
    torn_tail: bool = False  # an unterminated last line
    own_tail: bool = False  # ... that begins as avlocate's lines do

    @property
    def is_results(self) -> bool:
        """Whether this is a results file (possibly damaged) rather than some other file."""
        return self.valid > 0 or (self.bad_line is None and (not self.torn_tail or self.own_tail))


def scan_fd(fd: int, size: int, path: object = "", on_record: Callable[[dict], None] | None = None,
            first_only: bool = False) -> Scan:
    """Read the first ``size`` bytes of ``fd`` line by line (bounded memory) into a :class:`Scan`;
    stops at the first line that is not a result line (or after one line with ``first_only``)."""
    scan = Scan()
    for number, (offset, raw, terminated) in enumerate(iter_lines(fd, size, path), start=1):
        if not terminated:
            scan.torn_tail, scan.own_tail = True, raw.startswith(OWN_LINE_START)
            break
        record = parse_line(raw)
        if record is None:
            scan.bad_line = number
            break
        scan.valid += 1
        scan.done.add(record["video"])
        scan.good_end = offset + len(raw) + 1
        if on_record is not None:
            on_record(record)
        if first_only:
            break
    return scan


def refusal(path: object, scan: Scan) -> str | None:
    """Why an existing file must not be extended as a results file, or None."""
    if not scan.is_results:
        return (f"{path}: not an avlocate results file (line {scan.bad_line or 1} is not a result line); nothing "
                "was changed: choose another --out")
    if scan.bad_line is not None:
        return (f"{path}: line {scan.bad_line} is not a valid result line; nothing was changed: fix or remove that "
                "line, or choose another --out")
    return None


def check_results_file(path: Path, overwrite: bool = False) -> None:
    """Refuse, before any work, an ``--out`` that is not a regular file, or whose content is not
    avlocate result lines (with ``overwrite``, only its first line is checked: it is replaced)."""
    try:
        fd = open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"{path}: cannot read existing results ({_reason(exc)}); choose another --out") from None
    try:
        size = os.fstat(fd).st_size
        scan = scan_fd(fd, size, path, first_only=overwrite)
    except OSError as exc:
        raise OutputError(f"{path}: cannot read existing results ({_reason(exc)}); choose another --out") from None
    finally:
        os.close(fd)
    why = refusal(path, scan)
    if why and (not overwrite or not scan.is_results):
        raise OutputError(why)


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
            self.fd = open_regular(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write results ({_reason(exc)}); choose a writable --out") from None
        try:
            self._lock()
            self.done = self._repair(overwrite)
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

    def _repair(self, overwrite: bool = False) -> set[str]:
        """Check what is there: a file that is not avlocate result lines is refused (never cut:
        it may be a video or a list given by mistake); only an unterminated last line is cut.
        ``overwrite`` empties a results file (checked by its first line)."""
        try:
            size = os.fstat(self.fd).st_size
            scan = scan_fd(self.fd, size, self.path, first_only=overwrite) if size else Scan()
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot read existing results ({_reason(exc)})") from None
        if not scan.is_results:
            raise OutputError(refusal(self.path, scan) or f"{self.path}: not a results file")
        if overwrite:
            self._cut(0)
            return set()
        why = refusal(self.path, scan)
        if why:
            raise OutputError(why)
        if scan.torn_tail:
            self._cut(scan.good_end)
        return scan.done

    def _cut(self, size: int) -> None:
        try:
            os.ftruncate(self.fd, size)
            os.fsync(self.fd)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot cut the results file back ({_reason(exc)})") from None

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
