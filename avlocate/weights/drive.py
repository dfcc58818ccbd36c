"""Fetching one public Google Drive file with ``gdown``, under the rules every download keeps.

``gdown`` does what is Drive-specific: the confirmation page Drive shows before a large file, its
cookies, following the download form, HTTP Range on a reconnect. Around it, this module keeps the
rules of :mod:`.download`:

* a lock file (``.locks/DEST.lock`` beside ``DEST``): a second process waits, then finds the file;
* the bytes go to gdown's partial file (``DEST.incoming<8 chars>.part`` beside ``DEST``), which a
  later attempt resumes; the finished transfer is renamed to ``DEST.incoming``, checked, and only
  then renamed to ``DEST`` (atomic): nothing that reads ``DEST`` sees an unverified file;
* checks before the rename: not empty, not a web page (Drive answers a refused download with an
  HTML page, sometimes with status 200 and even as an attachment), and the sha256 pinned at the
  first download when the caller gives one. The sha256 is returned for the caller to print and pin;
* failures are one line: a refusal (quota exceeded, a page instead of the file) is a
  :class:`~avlocate.errors.DriveRefusedError` (exit 8) naming what, the id, the browser URL and the
  command to finish by hand; an unreachable host is an :class:`~avlocate.errors.OfflineError` within
  ``timeout`` seconds.

``$AVLOCATE_DRIVE_ENDPOINT`` (``http://HOST:PORT``) sends Drive's traffic through that HTTP proxy
(a mirror or a test server that speaks for Drive's hosts), and ``$AVLOCATE_DRIVE_CA`` names the CA
bundle its certificates are checked against. Without them, the usual ``HTTPS_PROXY`` /
``REQUESTS_CA_BUNDLE`` of ``requests`` apply. The URLs are always Drive's own, so gdown's handling
of Drive's pages is what runs.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..errors import DriveRefusedError, OfflineError, WeightsError
from .offline import offline_switch

DRIVE_ENDPOINT_ENV = "AVLOCATE_DRIVE_ENDPOINT"
DRIVE_CA_ENV = "AVLOCATE_DRIVE_CA"
_DRIVE_URL = "https://drive.google.com"
_SNIFF = 1024


@dataclass(frozen=True)
class DriveDownload:
    """A verified Drive file on disk."""

    path: Path
    size: int
    sha256: str


def browser_url(file_id: str) -> str:
    return f"{_DRIVE_URL}/file/d/{file_id}"


def download_url(file_id: str) -> str:
    return f"{_DRIVE_URL}/uc?id={urllib.parse.quote(file_id)}"


def _proxy() -> str | None:
    """The proxy Drive's traffic goes through: ``$AVLOCATE_DRIVE_ENDPOINT``, else the environment's."""
    endpoint = os.environ.get(DRIVE_ENDPOINT_ENV, "").strip()
    if endpoint:
        return endpoint
    try:
        from requests.utils import get_environ_proxies
    except ImportError:  # pragma: no cover - requests comes with gdown
        return None
    return get_environ_proxies(_DRIVE_URL).get("https")


def _way_out(file_id: str, manual: str) -> str:
    return f"open {browser_url(file_id)} in a browser, download it, then run `{manual}`"


def check_drive_reachable(file_id: str, what: str, manual: str, timeout: float = 30.0) -> None:
    """Resolve and connect within ``timeout`` (to the proxy when there is one), before gdown's own
    retries start: a machine without a route says so in one line."""
    from .download import check_reachable

    proxy = _proxy()
    target = proxy or _DRIVE_URL
    try:
        check_reachable(target if "://" in target else f"http://{target}", timeout)
    except OSError as exc:
        via = f" through {proxy}" if proxy else ""
        raise OfflineError(f"cannot reach Google Drive{via} to download {what} (id {file_id}) ({exc}); "
                           f"{_way_out(file_id, manual)}") from None


def _looks_like_a_page(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(_SNIFF).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml"))


def _refusal_reason(exc: Exception) -> str:
    """gdown's multi-line explanation, reduced to what Drive said."""
    text = str(exc)
    lowered = text.lower()
    if "too many users" in lowered or "quota" in lowered:
        return "download quota exceeded (Drive: too many users have downloaded it recently)"
    if "cannot retrieve the public link" in lowered:
        return "it answered with a web page instead of the file (not shared publicly, or a sign-in page)"
    inner = [line.strip() for line in text.splitlines() if line.startswith("\t") and line.strip()]
    return " ".join(inner) or (text.splitlines()[0] if text else type(exc).__name__)


def _progress(what: str):  # noqa: ANN202
    """(context, callback): a rich bar on a terminal, nothing when stderr is piped."""
    if not sys.stderr.isatty():
        return contextlib.nullcontext(), None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    bar = Progress(TextColumn(what), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   console=Console(file=sys.stderr), transient=True)
    task = bar.add_task(what, total=None)
    return bar, lambda done, total: bar.update(task, completed=done, total=total)


def _gdown_cookies() -> bool:
    """Use gdown's cookie file only where the user made one (its FAQ's way round quota pages);
    otherwise nothing is written to the home folder."""
    return Path("~/.cache/gdown/cookies.txt").expanduser().is_file()


def _sha256(path: Path) -> str:
    from .store import sha256_of

    return sha256_of(path)


def download_drive_file(file_id: str, dest: Path, *, what: str, manual: str, timeout: float = 30.0,
                        expect_sha256: str | None = None) -> DriveDownload:
    """``dest``, fetched from the public Drive file ``file_id`` and verified (or already there).

    ``what`` names the file in messages; ``manual`` is the exact command that finishes by hand
    (``avlocate weights import FILE --from ...``); ``expect_sha256`` is the digest pinned at an
    earlier download, checked before the rename.
    """
    dest = Path(dest)
    switch = offline_switch()
    if switch is not None:
        raise OfflineError(f"{switch} is set: not downloading {what} from Google Drive (id {file_id}); "
                           f"unset it, or {_way_out(file_id, manual)}")
    check_drive_reachable(file_id, what, manual, timeout)
    from filelock import FileLock

    locks = dest.parent / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / (dest.name + ".lock"))):
        if dest.is_file():  # another process fetched it while this one waited (or an earlier run)
            digest = _sha256(dest)
            if not expect_sha256 or digest == expect_sha256:
                return DriveDownload(dest, dest.stat().st_size, digest)
            dest.unlink()  # not the pinned file: fetch it again (and check that copy)
        staging = dest.with_name(dest.name + ".incoming")
        staging.unlink(missing_ok=True)  # finished but never checked (a crash): fetch again
        digest = _fetch(file_id, staging, what, manual, timeout)
        try:
            size = staging.stat().st_size
            if size == 0 or _looks_like_a_page(staging):
                raise DriveRefusedError(
                    f"Google Drive refused {what} (id {file_id}): it sent a web page instead of the file "
                    f"(quota exceeded or not public); nothing was kept; {_way_out(file_id, manual)}")
            if expect_sha256 and digest != expect_sha256:
                raise WeightsError(
                    f"{what} from Google Drive (id {file_id}) has sha256 {digest}, but the first download had "
                    f"{expect_sha256} (pinned); the file changed upstream or was corrupted; removed it; "
                    f"{_way_out(file_id, manual)}")
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        os.replace(staging, dest)
        return DriveDownload(dest, size, digest)


def _fetch(file_id: str, staging: Path, what: str, manual: str, timeout: float) -> str:
    """gdown into ``staging`` (its partial file beside it, resumed); the sha256 of what arrived."""
    try:
        import gdown
        import requests
        from gdown.exceptions import DownloadError, FileURLRetrievalError
    except ImportError:
        raise WeightsError(f"{what} is on Google Drive; `pip install gdown`, or {_way_out(file_id, manual)}") from None
    hasher = hashlib.sha256()
    ca = os.environ.get(DRIVE_CA_ENV, "").strip()
    context, progress = _progress(what)
    chatter = io.StringIO()  # gdown prints "Using proxy: ..." and retry notes: not for the user's terminal
    try:
        with context, contextlib.redirect_stderr(chatter):
            gdown.download(url=download_url(file_id), output=str(staging), quiet=True, proxy=_proxy(),
                           verify=ca or True, resume=True, timeout=(timeout, timeout), retries=2,
                           hasher=hasher, progress=progress, use_cookies=_gdown_cookies())
    except FileURLRetrievalError as exc:
        raise DriveRefusedError(f"Google Drive refused {what} (id {file_id}): {_refusal_reason(exc)}; "
                                f"nothing was kept; {_way_out(file_id, manual)}") from None
    except requests.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        raise DriveRefusedError(f"Google Drive refused {what} (id {file_id}) with HTTP {code}; "
                                f"{_way_out(file_id, manual)}") from None
    except (DownloadError, requests.RequestException, OSError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if len(reason) > 200:
            reason = reason[:200] + "…"
        raise OfflineError(f"download of {what} from Google Drive (id {file_id}) stopped ({type(exc).__name__}: "
                           f"{reason}); run the same command again to resume, or {_way_out(file_id, manual)}") from None
    return hasher.hexdigest()
