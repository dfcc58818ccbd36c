"""Local servers for the data-set tests: a raw-git file host (HTTP, Range) and the Google Drive
stand-in of tests/weights/drive_server.py, both on 127.0.0.1."""
from __future__ import annotations

import http.server
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class GitHost:
    """Files by URL path (e.g. ``ttgeng233/UnAV/<commit>/data/x.json``), as raw.githubusercontent.com."""

    files: dict[str, bytes] = field(default_factory=dict)
    gets: list[str] = field(default_factory=list)
    url: str = ""


def _handler(host: GitHost):  # noqa: ANN202
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # noqa: ANN002
            pass

        def do_GET(self):  # noqa: N802
            key = self.path.split("?")[0].lstrip("/")
            host.gets.append(key)
            data = host.files.get(key)
            if data is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            rng = self.headers.get("Range")
            start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
            self.send_response(206 if rng else 200)
            self.send_header("Content-Length", str(len(data) - start))
            if rng:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            self.wfile.write(data[start:])

    return Handler


@pytest.fixture
def git_host():
    host = GitHost()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(host))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield host
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def drive(tmp_path_factory, monkeypatch):
    """The Drive stand-in of the weights tests, with this process's Drive traffic sent to it."""
    pytest.importorskip("trustme")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "weights"))
    from drive_server import serve_drive

    host, httpd = serve_drive(tmp_path_factory.mktemp("drive"))
    for k, v in host.env().items():
        monkeypatch.setenv(k, v)
    for switch in ("AVLOCATE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # pulls go online (locally)
        monkeypatch.delenv(switch, raising=False)
    yield host
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh $AVLOCATE_HOME and data-set table for one test, no weights folder from outside."""
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AVLOCATE_DATASETS", str(tmp_path / "table.json"))
    monkeypatch.delenv("AVLOCATE_WEIGHTS", raising=False)
    return tmp_path / "home"
