"""Writing output files all or none: each under a temporary name in its own folder, then renamed.

A rename within one folder replaces the old file in one step, so a reader (or a crash, or a full
disk) sees the old file or the whole new one, never a part. :class:`OutputSet` writes every file
of a run (all videos, all formats) under temporary names first and renames them only when all
were written: a failure leaves the folder as it was. The folder is checked with
:func:`check_output_dir` before any video is processed.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType

from ..errors import OutputError


def check_output_dir(folder: Path, option: str = "-o") -> Path:
    """Create ``folder`` if needed and prove that files can be created in it, before the work
    (an unwritable ``-o`` found after an hour of decoding wastes the hour)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir():
            raise NotADirectoryError(20, "not a folder")
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".avlocate-", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write results ({exc.strerror or exc}); choose a writable {option}") from None
    return folder


class OutputSet:
    """Files written under temporary names, renamed into place together by :meth:`commit`; on
    an error (or without a commit) the temporary files are removed. Use as a context manager."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._pending: list[tuple[Path, Path]] = []  # (temporary, final)

    def add(self, name: str, content: str | bytes) -> Path:
        """Write ``content`` (text as UTF-8) under a temporary name for ``folder/name``."""
        final = self.folder / name
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{name[:64]}.", suffix=".tmp")
        self._pending.append((Path(tmp), final))
        data = _encode(content) if isinstance(content, str) else content
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        return final

    def commit(self) -> list[Path]:
        """Rename every file into place (same folder: each rename is atomic)."""
        done = []
        for tmp, final in self._pending:
            os.replace(tmp, final)
            done.append(final)
        self._pending = [p for p in self._pending if p[1] not in done]
        _sync_dir(self.folder)
        return done

    def discard(self) -> None:
        for tmp, _ in self._pending:
            try:
                tmp.unlink()
            except OSError:
                pass
        self._pending = []

    def __enter__(self) -> "OutputSet":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.discard()


def _encode(text: str) -> bytes:
    """UTF-8; a file name's odd bytes (lone surrogates from the file system) go back as the bytes
    they were; any other lone surrogate (from a JSON card) as a visible ``\\udxxx``."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")


_UMASK: list[int] = []


def _umask() -> int:
    if not _UMASK:  # read once: os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
        _UMASK.append(mask)
    return _UMASK[0]


def _sync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

