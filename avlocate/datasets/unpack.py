"""Safe unpacking of a downloaded data file whose container is not published.

The container is told by content, never by name (Drive gives no reliable name): zip, tar
(plain, gzip, bzip2, xz), or one plain file (``.npy``, HDF5, JSON, text). Before anything is
written, every member is checked: no absolute path, no ``..`` component, only regular files
and folders (no symbolic or hard links, devices, FIFOs), and the sum of the members kept must fit
the free disk with a margin. Members are written into a hidden folder beside the target, each
bounded by its declared size, and moved into place only when the whole archive unpacked: a
corrupt or hostile archive leaves nothing behind.
"""
from __future__ import annotations

import fnmatch
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from ..errors import OutputError
from .unav import DatasetError

ARCHIVES = ("zip", "tar", "tar.gz", "tar.bz2", "tar.xz")
_BLOCK = 1 << 20
#: kept free beyond what the members need (file-system overhead, the rest of the system)
FREE_MARGIN = 64 << 20


def detect(path: Path) -> str:
    """``zip``, ``tar``, ``tar.gz``, ``tar.bz2``, ``tar.xz``, ``npy``, ``h5``, ``json``, ``gz`` (a
    compressed stream that is not a tar), or ``unknown``: from the first bytes only."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        return "h5"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    for magic, kind, mode in ((b"\x1f\x8b", "tar.gz", "r:gz"), (b"BZh", "tar.bz2", "r:bz2"),
                              (b"\xfd7zXZ\x00", "tar.xz", "r:xz")):
        if head.startswith(magic):
            try:
                with tarfile.open(path, mode) as tf:
                    tf.next()
                return kind
            except (tarfile.TarError, EOFError, OSError, zlib.error):
                return kind[4:]  # compressed, but no tar inside (or corrupt): reported by unpack
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    return "unknown"


@dataclass(frozen=True)
class Member:
    name: str  # path inside the archive (posix)
    size: int
    is_dir: bool


def free_bytes(path: Path) -> int:
    """Free space of the file system holding ``path`` (its nearest existing parent)."""
    p = Path(path)
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free


def _safe_name(name: str, archive: Path) -> PurePosixPath:
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise DatasetError(f"{archive}: member {name!r} has an absolute or non-portable path; refused, nothing unpacked")
    p = PurePosixPath(name)
    if any(part == ".." for part in p.parts):
        raise DatasetError(f"{archive}: member {name!r} points outside the target folder; refused, nothing unpacked")
    return p


def _zip_members(zf: zipfile.ZipFile, archive: Path) -> list[Member]:
    out = []
    for info in zf.infolist():
        _safe_name(info.filename, archive)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise DatasetError(f"{archive}: member {info.filename!r} is a link; refused, nothing unpacked")
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # no type bits: a plain file
            raise DatasetError(f"{archive}: member {info.filename!r} is not a regular file; refused, nothing unpacked")
        out.append(Member(info.filename, info.file_size, info.is_dir()))
    return out


def _tar_members(tf: tarfile.TarFile, archive: Path) -> list[Member]:
    out = []
    for info in tf.getmembers():
        _safe_name(info.name, archive)
        if info.issym() or info.islnk():
            raise DatasetError(f"{archive}: member {info.name!r} is a link; refused, nothing unpacked")
        if not (info.isreg() or info.isdir()):
            raise DatasetError(f"{archive}: member {info.name!r} is not a regular file; refused, nothing unpacked")
        out.append(Member(info.name, info.size, info.isdir()))
    return out


@contextmanager
def _opened(path: Path, kind: str) -> Iterator[tuple[list[Member], object]]:
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as zf:
                yield _zip_members(zf, path), zf
        else:
            mode = {"tar": "r:", "tar.gz": "r:gz", "tar.bz2": "r:bz2", "tar.xz": "r:xz"}[kind]
            with tarfile.open(path, mode) as tf:
                yield _tar_members(tf, path), tf
    except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a real I/O error (disk), not a corrupt archive
        raise DatasetError(f"{path}: corrupt or truncated {kind} archive ({type(exc).__name__}: {exc}); "
                           "delete it and pull again") from None


def _copy_bounded(src: IO[bytes], dest: Path, limit: int, what: str) -> None:
    written = 0
    with open(dest, "wb") as out:
        while True:
            block = src.read(_BLOCK)
            if not block:
                break
            written += len(block)
            if written > limit:
                raise DatasetError(f"{what}: more bytes than the archive declares ({limit}); refused, nothing unpacked")
            out.write(block)
    if written != limit:
        raise DatasetError(f"{what}: {written} bytes where the archive declares {limit}; corrupt, nothing unpacked")


def _check_space(target: Path, needed: int, what: str) -> None:
    free = free_bytes(target)
    if needed + FREE_MARGIN > free:
        raise OutputError(f"{what}: unpacking needs {needed / 1e9:.2f} GB (+{FREE_MARGIN >> 20} MiB margin) but "
                          f"{target} has {free / 1e9:.2f} GB free; free some space or use --dir on a larger disk")


def unpack(archive: Path, target: Path, *, flat: bool = True, members: str = "*",
           single_name: str | None = None) -> list[Path]:
    """Unpack ``archive`` into ``target``; returns the files written (under ``target``).

    ``flat``: every kept member goes directly into ``target`` under its base name (the official
    loaders read one folder of ``<id>_<stream>.npy``); else the archive's folders are kept.
    ``members``: a glob on the base name of the members to keep (others are skipped).
    A plain file (not an archive) is moved to ``target/single_name``."""
    archive, target = Path(archive), Path(target)
    kind = detect(archive)
    if kind not in ARCHIVES:
        if kind in ("gz", "bz2", "xz", "unknown") or single_name is None:
            raise DatasetError(f"{archive}: not a zip or tar archive nor a known single file (detected: {kind}); "
                               "the source may have changed or the download is not the file (e.g. a web page)")
        target.mkdir(parents=True, exist_ok=True)
        dest = target / single_name
        os.replace(archive, dest)
        return [dest]
    with _opened(archive, kind) as (listing, handle):
        chosen: dict[str, Member] = {}
        for m in listing:
            if m.is_dir or not fnmatch.fnmatch(PurePosixPath(m.name).name, members):
                continue
            rel = PurePosixPath(m.name).name if flat else str(PurePosixPath(m.name))
            if rel in chosen:
                raise DatasetError(f"{archive}: two members are both named {rel!r}; refused, nothing unpacked")
            chosen[rel] = m
        if not chosen:
            raise DatasetError(f"{archive}: no member matches {members!r}; not the expected archive")
        _check_space(target, sum(m.size for m in chosen.values()), str(archive))
        target.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".unpack-{target.name}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        written: list[Path] = []
        try:
            for rel, m in chosen.items():
                out = staging / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                what = f"{archive}: member {m.name!r}"
                if kind == "zip":
                    with handle.open(m.name) as src:  # type: ignore[attr-defined]
                        _copy_bounded(src, out, m.size, what)
                else:
                    src = handle.extractfile(m.name)  # type: ignore[attr-defined]
                    if src is None:
                        raise DatasetError(f"{what}: not a regular file; refused, nothing unpacked")
                    with src:
                        _copy_bounded(src, out, m.size, what)
            for rel in chosen:
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, dest)
                written.append(dest)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{archive}: corrupt or truncated {kind} archive ({type(exc).__name__}: {exc}); "
                               "delete it and pull again") from None
        except OSError as exc:
            if exc.errno == 28:  # ENOSPC: the free-space check raced with another writer
                raise OutputError(f"{target}: the disk filled up while unpacking {archive}; free some space") from None
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return written
