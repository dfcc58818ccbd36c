"""A local stand-in for Google Drive on 127.0.0.1, reached the way a client behind a proxy reaches
Drive: the client keeps Drive's own URLs (``https://drive.google.com/uc?id=...``) and sends them
through this server as its HTTPS proxy (``CONNECT``); the server answers the TLS handshake with a
certificate for Drive's host names issued by a test CA (``trustme``), so gdown's real handling of
Drive's pages runs unchanged.

Per file id it serves one behaviour (``DriveFile.mode``):

* ``direct``: the file at once, as an attachment (small files);
* ``confirm``: the "can't scan this file for viruses" page with Drive's download form, whose
  action (``drive.usercontent.google.com/download``) serves the file (large files);
* ``quota``: Drive's "Too many users have viewed or downloaded this file recently" page;
* ``page``: an HTML page with status 200 and no download link (a sign-in page);
* ``page-attachment``: an HTML page sent as if it were the file (status 200, attachment).

Downloads answer HTTP Range (206 + Content-Range) and can be cut after N bytes (``cut_after``,
``cuts_left``) to test resuming. Every request is logged as (host, path, Range).
"""
from __future__ import annotations

import hashlib
import http.server
import socket
import ssl
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

DRIVE_HOSTS = ("drive.google.com", "drive.usercontent.google.com", "docs.google.com")


@dataclass
class DriveFile:
    data: bytes
    name: str = "file.bin"
    mode: str = "direct"  # direct | confirm | quota | page | page-attachment


@dataclass
class DriveHost:
    files: dict[str, DriveFile] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    cut_after: int | None = None
    cuts_left: int = 0
    hold: threading.Event | None = None  # when set: a download waits for it before its first byte
    started: threading.Event = field(default_factory=threading.Event)  # a download began sending
    endpoint: str = ""  # http://127.0.0.1:PORT, the proxy address
    ca_file: Path | None = None
    file_answers: list[tuple[str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def served(self) -> list[tuple[str, str | None]]:
        """(file id, Range) of every answer that carried file bytes."""
        with self.lock:
            return list(self.file_answers)

    def env(self) -> dict[str, str]:
        return {"AVLOCATE_DRIVE_ENDPOINT": self.endpoint, "AVLOCATE_DRIVE_CA": str(self.ca_file)}


_QUOTA_PAGE = (
    '<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head><body>\n'
    '<p class="uc-error-caption">Sorry, you can&#39;t view or download this file at this time.</p>\n'
    '<p class="uc-error-subcaption">Too many users have viewed or downloaded this file recently. Please try '
    'accessing the file again later. If the file you are trying to access is particularly large or is shared '
    'with many people, it may take up to 24 hours to be able to view or download the file.</p>\n'
    '</body></html>\n'
)
_SIGN_IN_PAGE = '<!DOCTYPE html><html><head><title>Sign in - Google Accounts</title></head><body>\n' \
                '<p>Sign in to continue to Google Drive</p>\n</body></html>\n'


def _confirm_page(file_id: str, name: str, size: int) -> str:
    # Drive's form is one line: gdown reads the page line by line.
    form = ('<form id="download-form" action="https://drive.usercontent.google.com/download" method="get">'
            f'<input type="hidden" name="id" value="{file_id}"><input type="hidden" name="export" value="download">'
            '<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="0f0f0f0f">'
            '<input type="submit" value="Download anyway"></form>')
    return ('<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>\n'
            f'<p class="uc-warning-subcaption">Google Drive can&#39;t scan this file for viruses. {name} '
            f'({size} bytes) is too large for Google to scan.</p>\n{form}\n</body></html>\n')


def _handler(host: DriveHost, tls: ssl.SSLContext):  # noqa: ANN202
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_host = ""  # the Drive host this (tunnelled) connection speaks for

        def log_message(self, *args):  # noqa: ANN002
            pass

        def do_CONNECT(self):  # noqa: N802 - the proxy: open a TLS tunnel that this server terminates
            target = self.path.split(":")[0]
            if target not in DRIVE_HOSTS:
                self.send_error(403, "only Drive's hosts")
                return
            self.send_response(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
            try:
                wrapped = tls.wrap_socket(self.connection, server_side=True)
            except (ssl.SSLError, OSError):
                self.close_connection = True
                return
            inner = type("Tunnel", (Handler,), {"server_host": target})
            try:
                inner(wrapped, self.client_address, self.server)
            except (OSError, ssl.SSLError):
                pass
            self.close_connection = True

        def do_GET(self):  # noqa: N802
            url = urllib.parse.urlsplit(self.path)
            hostname = self.server_host or (url.hostname or "")
            rng = self.headers.get("Range")
            with host.lock:
                host.requests.append((hostname, self.path if not url.scheme else url.path + "?" + url.query, rng))
            query = urllib.parse.parse_qs(url.query)
            fid = query.get("id", [""])[0]
            f = host.files.get(fid)
            if f is None:
                return self._send(404, b"<html><body>Not found</body></html>", "text/html")
            if hostname == "drive.usercontent.google.com" and url.path == "/download" and query.get("confirm"):
                return self._file(fid, f, rng)
            if hostname != "drive.google.com" or url.path != "/uc":
                return self._send(404, b"<html><body>Not found</body></html>", "text/html")
            if f.mode == "direct":
                return self._file(fid, f, rng)
            if f.mode == "confirm":
                return self._send(200, _confirm_page(fid, f.name, len(f.data)).encode(), "text/html; charset=utf-8")
            if f.mode == "quota":
                return self._send(200, _QUOTA_PAGE.encode(), "text/html; charset=utf-8")
            if f.mode == "page":
                return self._send(200, _SIGN_IN_PAGE.encode(), "text/html; charset=utf-8")
            if f.mode == "page-attachment":
                return self._send(200, _SIGN_IN_PAGE.encode(), "application/octet-stream",
                                  {"Content-Disposition": f'attachment; filename="{f.name}"'})
            raise AssertionError(f.mode)

        def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _file(self, fid: str, f: DriveFile, rng: str | None) -> None:
            data = f.data
            with host.lock:
                host.file_answers.append((fid, rng))
            start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
            if rng and start >= len(data):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if host.hold is not None:
                host.started.set()
                host.hold.wait(30)
            self.send_response(206 if rng else 200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Disposition", f'attachment; filename="{f.name}"')
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest()[:16] + '"')
            if rng:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            host.started.set()
            with host.lock:
                cut = host.cut_after is not None and host.cuts_left > 0
                if cut:
                    host.cuts_left -= 1
            if cut:
                self.wfile.write(data[start:start + host.cut_after])
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self.wfile.write(data[start:])

    return Handler


def serve_drive(workdir: Path) -> tuple[DriveHost, http.server.ThreadingHTTPServer]:
    """Start the server; the test CA's certificate is written to ``workdir/drive-ca.pem``."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert(*DRIVE_HOSTS)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(tls)
    host = DriveHost()
    host.ca_file = Path(workdir) / "drive-ca.pem"
    ca.cert_pem.write_to_path(str(host.ca_file))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(host, tls))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host.endpoint = f"http://127.0.0.1:{httpd.server_address[1]}"
    return host, httpd
