"""Fetching one upstream file: a URL (streamed, resumed, locked, verified, renamed) or a file of
the Hugging Face hub (through huggingface_hub, which resumes, locks and checks on its own).

A URL download is written to ``DEST.part`` and only renamed to ``DEST`` after its check passed,
so nothing that reads ``DEST`` ever sees an unverified or half-written file. A ``.part`` left by
a cut connection is resumed with an HTTP Range request by the next attempt. Two processes
fetching the same file wait for each other on a lock file (in ``.locks/`` beside ``DEST``).

Network failures are one-line :class:`~avlocate.errors.OfflineError` messages raised quickly:
name resolution and connecting are bounded by ``connect_timeout`` and there are no retries
except resuming a transfer that was making progress.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from ..errors import OfflineError, WeightsError
from .store import sha256_of

_BLOCK = 1 << 20


@dataclass(frozen=True)
class Check:
    """How a downloaded copy is verified, parsed from the manifest's ``check`` text."""

    kind: str  # "sha256-prefix" | "git-blob-sha1" | "sha256" | "hub" | "structure+sha256-pin" | "none"
    value: str = ""

    @classmethod
    def parse(cls, text: str | None) -> "Check":
        if not text:
            return cls("none")
        if text in ("hub", "structure+sha256-pin"):
            # structure+sha256-pin: nothing published to check against; the import's key/shape
            # checks and the sha256 pinned at the first download verify it (drive.py, fetch.py)
            return cls(text)
        kind, _, value = text.partition(":")
        value = value.strip().lower()
        if kind not in ("sha256-prefix", "git-blob-sha1", "sha256") or not value or \
                any(c not in "0123456789abcdef" for c in value):
            raise WeightsError(f"unknown weight check {text!r}; use sha256-prefix:HEX, git-blob-sha1:ID, sha256:HEX or hub")
        return cls(kind, value)

    def __str__(self) -> str:
        return self.kind if not self.value else f"{self.kind}:{self.value}"

    def problem(self, path: Path) -> str | None:
        """None when ``path`` passes, else what differs (for a one-line error)."""
        if self.kind in ("none", "hub", "structure+sha256-pin"):
            return None  # "hub": huggingface_hub compared the hub's checksum already
        if self.kind == "git-blob-sha1":
            got = git_blob_sha1(path)
            return None if got == self.value else f"git blob sha1 {got[:12]}…, expected {self.value[:12]}…"
        got = sha256_of(path)
        if self.kind == "sha256-prefix":
            return None if got.startswith(self.value) else f"sha256 {got[:12]}…, expected it to start with {self.value}"
        return None if got == self.value else f"sha256 {got[:12]}…, expected {self.value[:12]}…"


def git_blob_sha1(path: Path) -> str:
    """The id git gives the file's content: sha1 of ``b"blob <size>\\0" + content``."""
    h = hashlib.sha1()  # noqa: S324 — git's object id, not a security hash choice of ours
    h.update(b"blob %d\0" % Path(path).stat().st_size)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Fetch:
    """One URL download: where to, how it is checked, and how long to wait for the network."""

    url: str
    dest: Path
    check: Check
    what: str  # the file's name in messages
    hint: str  # what to do instead (the air-gapped `weights import` way), ends the error line
    connect_timeout: float = 10.0  # name resolution, connecting, and each read
    resumes: int = 2  # extra attempts, only after an attempt that received bytes


class _Cut(Exception):
    """The transfer stopped before the end (the .part keeps what arrived)."""


def _resolve(host: str, port: int, timeout: float) -> None:
    """getaddrinfo has no timeout of its own: a resolver that never answers would hang the run."""
    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            socket.getaddrinfo(host, port)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 — handed to the caller
            outcome.append(exc)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(timeout)
    if not outcome:
        raise OSError(f"no answer resolving {host} within {timeout:g} s")
    if outcome[0] is not None:
        raise outcome[0]


def check_reachable(url: str, timeout: float) -> None:
    """Resolve and connect to ``url``'s host within ``timeout`` or raise OSError: a quick answer
    for a machine without network, before a library's own retries and back-off start."""
    parsed = urllib.parse.urlsplit(url)
    if not parsed.hostname:
        raise OSError(f"no host in {url}")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    _resolve(parsed.hostname, port, timeout)
    socket.create_connection((parsed.hostname, port), timeout=timeout).close()


def _progress(total: int | None, what: str):  # noqa: ANN202
    """A rich bar with size and rate on a terminal; nothing when stderr is piped or a file."""
    if not sys.stderr.isatty():
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    return Progress(TextColumn(what), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=True)


def fetch_url(job: Fetch) -> Path:
    """``job.dest``, downloaded and verified (or already there and verified)."""
    from filelock import FileLock

    dest = job.dest
    locks = dest.parent / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / (dest.name + ".lock"))):
        if dest.is_file():
            if job.check.problem(dest) is None:
                return dest  # another process fetched it while this one waited
            dest.unlink()
        part = dest.with_name(dest.name + ".part")
        attempts = 1 + job.resumes
        while True:
            attempts -= 1
            before = part.stat().st_size if part.is_file() else 0
            try:
                _transfer(job, part)
                break
            except _Cut as cut:
                after = part.stat().st_size if part.is_file() else 0
                if attempts > 0 and after > before:
                    continue  # it was making progress: resume with a Range request
                raise OfflineError(f"download of {job.what} from {job.url} stopped ({cut}); run the same command "
                                   f"again to resume, or {job.hint}") from None
        problem = job.check.problem(part)
        if problem is not None:
            part.unlink(missing_ok=True)
            raise WeightsError(f"downloaded {job.what} from {job.url} fails its check ({problem}); removed it — "
                               f"the source changed or the transfer was corrupted; {job.hint}")
        os.replace(part, dest)
        return dest


def _transfer(job: Fetch, part: Path) -> None:
    """One HTTP attempt: append to ``part`` from its current size (Range), or start it over."""
    offset = part.stat().st_size if part.is_file() else 0
    parsed = urllib.parse.urlsplit(job.url)
    headers = {"User-Agent": "avlocate-weights", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        if parsed.hostname:
            _resolve(parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80), job.connect_timeout)
        response = urllib.request.urlopen(urllib.request.Request(job.url, headers=headers),  # noqa: S310 (manifest URL)
                                          timeout=job.connect_timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # Range past the end: the .part may already be whole; the check decides, else restart.
            if job.check.kind not in ("none", "hub", "structure+sha256-pin") and job.check.problem(part) is None:
                return
            part.unlink()
            return _transfer(job, part)  # the .part does not fit the server's file: start over (no Range)
        raise OfflineError(f"cannot download {job.what} from {job.url} (HTTP {exc.code} {exc.reason}); {job.hint}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise OfflineError(f"cannot download {job.what} from {job.url} ({reason}); {job.hint}") from None
    with response:
        length = response.headers.get("Content-Length")
        if response.status == 206 and offset:
            start = (response.headers.get("Content-Range") or "").removeprefix("bytes ").split("-")[0]
            if start != str(offset):
                response.close()
                part.unlink()
                return _transfer(job, part)  # resumed elsewhere than asked: start over (no Range)
            mode = "ab"
        else:
            offset, mode = 0, "wb"  # the server ignored the Range: start over
        total = offset + int(length) if length and length.isdigit() else None
        received = offset
        with _progress(total, job.what) as bar, open(part, mode) as out:
            task = bar.add_task(job.what, total=total, completed=offset) if bar is not None else None
            try:
                while True:
                    block = response.read(_BLOCK)
                    if not block:
                        break
                    out.write(block)
                    received += len(block)
                    if bar is not None:
                        bar.update(task, completed=received)
            except (OSError, http.client.HTTPException) as exc:
                raise _Cut(f"{type(exc).__name__}: {exc}") from None
            finally:
                out.flush()
                os.fsync(out.fileno())
        if total is not None and received < total:
            raise _Cut(f"connection closed after {received} of {total} bytes")


def fetch_hub(repo_id: str, filename: str, what: str, hint: str, timeout: float = 10.0) -> Path:
    """A hub file through ``hf_hub_download``: the shared Hugging Face cache, ``HF_HOME``,
    ``HF_HUB_OFFLINE``, ``HF_ENDPOINT`` and tokens as users already set them."""
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.utils import disable_progress_bars, enable_progress_bars
    except ImportError:
        raise WeightsError(f"{what} is on the Hugging Face hub; `pip install huggingface_hub`, or {hint}") from None
    from huggingface_hub import constants

    source = f"{constants.ENDPOINT}/{repo_id} ({filename})"
    if not constants.HF_HUB_OFFLINE:
        try:
            check_reachable(constants.ENDPOINT, timeout)
        except OSError as exc:
            raise OfflineError(f"cannot download {what} from {source} ({exc}); {hint}") from None
    quiet = not sys.stderr.isatty()
    if quiet:
        disable_progress_bars()  # the hub's own tqdm bars: only on a terminal
    import logging

    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)  # its retry notes would break the one-line error
    try:
        return Path(hf_hub_download(repo_id=repo_id, filename=filename, etag_timeout=timeout))
    except Exception as exc:  # noqa: BLE001 — every hub/network failure becomes one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if constants.HF_HUB_OFFLINE:
            reason = f"hub offline mode is on (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE) and it is not in the Hugging Face cache: {reason}"
        raise OfflineError(f"cannot download {what} from {source} ({type(exc).__name__}: {reason}); {hint}") from None
    finally:
        hub_log.setLevel(level)
        if quiet:
            enable_progress_bars()
