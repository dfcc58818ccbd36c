"""Local HTTP servers on 127.0.0.1 for the download tests: a file host that speaks HTTP Range (and
can cut a transfer mid-file), and enough of the Hugging Face hub's file API for hf_hub_download."""
from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class FileHost:
    """What the server serves and what it saw."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Range)
    cut_after: int | None = None  # send only this many body bytes per response, then drop the connection
    cuts_left: int = 0  # how many responses to cut (then serve whole)
    hub_commit: str = "0123456789abcdef0123456789abcdef01234567"
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def gets(self) -> list[tuple[str, str, str | None]]:
        with self.lock:
            return [r for r in self.requests if r[0] == "GET"]


def _handler(host: FileHost, hub: bool):  # noqa: ANN202
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep the access log out of captured stderr
            pass

        def _file(self) -> tuple[str, bytes | None]:
            path = self.path.split("?")[0]
            if hub:  # /{repo}/resolve/{revision}/{file} -> "{repo}/{file}"
                repo, sep, rest = path.lstrip("/").partition("/resolve/")
                key = f"{repo}/{rest.partition('/')[2]}" if sep else ""
            else:
                key = path.lstrip("/")
            return key, host.files.get(key)

        def _head(self, data: bytes, start: int, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            if hub:
                digest = hashlib.sha256(data).hexdigest()
                self.send_header("X-Repo-Commit", host.hub_commit)
                self.send_header("ETag", f'"{digest}"')
                self.send_header("X-Linked-Etag", f'"{digest}"')
                self.send_header("X-Linked-Size", str(len(data)))
            self.end_headers()

        def _answer(self, body: bool) -> None:
            rng = self.headers.get("Range")
            with host.lock:
                host.requests.append((self.command, self.path, rng))
            _, data = self._file()
            if data is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                if hub:
                    self.send_header("X-Error-Code", "EntryNotFound")
                self.end_headers()
                return
            start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
            if start >= len(data) and rng:
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._head(data, start, 206 if rng else 200)
            if not body:
                return
            with host.lock:
                cut = host.cut_after is not None and host.cuts_left > 0
                if cut:
                    host.cuts_left -= 1
            if cut:
                self.wfile.write(data[start:start + host.cut_after])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)  # the client sees a cut, not a slow server
                return
            self.wfile.write(data[start:])

        def do_GET(self):  # noqa: N802
            self._answer(body=True)

        def do_HEAD(self):  # noqa: N802
            self._answer(body=False)

    return Handler


def _serve(hub: bool):  # noqa: ANN202
    host = FileHost()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(host, hub))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    return host, httpd


def _serving(hub: bool):  # noqa: ANN202 - a fixture body: the host while the server runs
    host, httpd = _serve(hub=hub)
    yield host
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def file_host():
    yield from _serving(hub=False)


@pytest.fixture
def fake_hub():
    yield from _serving(hub=True)


@pytest.fixture
def unused_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def drive(tmp_path_factory, monkeypatch):
    """A Google Drive stand-in (see drive_server.py), with this process's Drive traffic sent to it."""
    pytest.importorskip("trustme")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from drive_server import serve_drive

    host, httpd = serve_drive(tmp_path_factory.mktemp("drive"))
    for k, v in host.env().items():
        monkeypatch.setenv(k, v)
    for switch in ("AVLOCATE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # Drive tests go online
        monkeypatch.delenv(switch, raising=False)
    yield host
    httpd.shutdown()
    httpd.server_close()


def _clear_env(monkeypatch, *names: str) -> None:
    for name in names:
        monkeypatch.setenv(name, "")  # first set: monkeypatch then restores the absence too
        monkeypatch.delenv(name)


@pytest.fixture
def unset_env(monkeypatch):
    """``unset_env(*names)``: those variables are absent for this test and restored after it, also
    when the code under test sets them in-process (`run --offline` sets AVLOCATE_OFFLINE; a bare
    ``monkeypatch.delenv`` of an unset name records nothing to undo)."""
    return lambda *names: _clear_env(monkeypatch, *names)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty $AVLOCATE_HOME in tmp_path, no weights folder, no user torch.hub copy, online."""
    h = tmp_path / "home"
    monkeypatch.setenv("AVLOCATE_HOME", str(h))
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # no user torch.hub copy is reused
    _clear_env(monkeypatch, "AVLOCATE_OFFLINE")  # also undoes a `run --offline` of a test
    return h


@pytest.fixture
def manifest(tmp_path, monkeypatch):
    """``manifest(files=..., models=...)`` writes a weights manifest into tmp_path and points
    AVLOCATE_MANIFEST at it; returns its path."""

    def write(files: dict | None = None, models: dict | None = None) -> Path:
        path = tmp_path / "manifest.json"
        path.write_text(json.dumps({"models": models or {}, "files": files or {}}))
        monkeypatch.setenv("AVLOCATE_MANIFEST", str(path))
        return path

    return write


@pytest.fixture(scope="session")
def source_copy(tmp_path_factory) -> Path:
    """A copy of what a build reads (a build writes build/ and egg-info beside its sources)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "MANIFEST.in"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "avlocate", src / "avlocate", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return src


@pytest.fixture(scope="session")
def wheel(tmp_path_factory, source_copy) -> Path:
    """avlocate's wheel, built once per session (test_wheel.py and the torch-range check read it)."""
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                        str(source_copy)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("avlocate-*.whl")
    return whl


@pytest.fixture(scope="session")
def i3d_rgb_state() -> dict:
    """A seeded random I3D (rgb) state dict in video_features' layout, built once: the real
    architecture that the pull tests convert (51 MB; VGGish's 288 MB is not what they test)."""
    import torch

    from avlocate.features.i3d import I3D, I3DConfig

    torch.manual_seed(3)
    return I3D(I3DConfig(modality="rgb")).state_dict()

