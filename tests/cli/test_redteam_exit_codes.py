"""Red-team findings 11, 12 and 14: exit codes as the README's table says them, numbers that must
be finite, and closed or full standard streams: one line each, never exit 70."""
from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from avlocate.errors import (InputNotFoundError, OutputError, ServerError, StreamEndedEarlyError, UsageError,
                             exit_code_table)

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "samples" / "demo1.mp4"


def _one_line(r, code: int) -> None:  # noqa: ANN001
    assert r.code == code, (r.code, r.err)
    assert r.err.strip().count("\n") == 0 and "internal error" not in r.err and "Traceback" not in r.err


@pytest.fixture()
def failing_server():
    """An HTTP server on 127.0.0.1 answering /500 and /503 with that status."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(int(self.path.strip("/")))
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("status", [500, 503])
def test_redteam_http_server_error_has_its_own_code(cli, failing_server, status):
    r = cli("run", f"{failing_server}/{status}", "-m", "lite-demo", "-q", "--device", "cpu")
    _one_line(r, ServerError.exit_code)
    assert ServerError.exit_code not in (4, 12) and f"| {ServerError.exit_code} |" in exit_code_table()


@pytest.fixture()
def silent_server():
    """A server that accepts the connection, reads the request and never answers."""
    done = threading.Event()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    conns = []

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conns.append(conn)
            conn.recv(4096)

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/demo1.ts"
    done.set()
    for c in conns:
        c.close()
    sock.close()


def test_redteam_url_stalling_before_its_first_data_is_10(cli, silent_server):
    _one_line(cli("run", silent_server, "-q", "--device", "cpu", "--stall-timeout", "1"),
              StreamEndedEarlyError.exit_code)


# A pipe stalling before its first data: tests/media/test_stream_inputs.py::test_redteam_silent_pipe_from_the_start_is_10


def test_redteam_folder_where_a_file_is_expected_is_3(cli, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    _one_line(cli("batch", REPO / "samples", "--out", folder, "-q"), InputNotFoundError.exit_code)
    _one_line(cli("run", DEMO, "-q", "-f", "json", "--checkpoint", folder), InputNotFoundError.exit_code)


@pytest.mark.parametrize("args", [
    ("run", DEMO, "-f", "json", "--stall-timeout", "nan"),
    ("run", DEMO, "-f", "json", "--stall-timeout", "inf"),
    ("run", DEMO, "-f", "json", "--stall-timeout", "1e300"),
    ("run", "-", "-f", "json", "--stall-timeout", "nan"),
    ("run", DEMO, "-f", "json", "--threshold", "nan"),
    ("batch", DEMO.parent, "--out", "r.jsonl", "--timeout", "nan"),
    ("weights", "pull", "vggish", "--timeout", "-1"),
    ("weights", "pull", "vggish", "--timeout", "nan"),
])
def test_redteam_numbers_must_be_finite_and_in_range(cli, args):
    r = cli(*args)
    _one_line(r, UsageError.exit_code)
    assert args[-2] in r.err


def _spawn(args: list[str], **redirect) -> subprocess.CompletedProcess:  # noqa: ANN003
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "avlocate", *args], env=env, timeout=300, **redirect)


def test_redteam_closed_stdout_is_one_line():
    # close_fds + pass_fds cannot close 1 in the child: a shell does it as the user would (>&-).
    cmd = f'"{sys.executable}" -m avlocate --version >&-'
    p = subprocess.run(["sh", "-c", cmd], env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == OutputError.exit_code and p.stderr.count("\n") == 1 and "standard output" in p.stderr


def test_redteam_closed_stdin_is_one_line():
    cmd = f'"{sys.executable}" -m avlocate run - -q -f json <&-'
    p = subprocess.run(["sh", "-c", cmd], env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == InputNotFoundError.exit_code and p.stderr.count("\n") == 1 and "standard input" in p.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_redteam_stdout_on_a_full_device_is_one_line():
    with open("/dev/full", "w") as full:
        p = _spawn(["--version"], stdout=full, stderr=subprocess.PIPE, text=True)
    assert p.returncode == OutputError.exit_code and p.stderr.count("\n") == 1 and "No space" in p.stderr, p.stderr


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e300, -1.0, 0.0])
def test_redteam_stream_options_refuse_non_finite_from_python(value):
    from avlocate.media.onepass import StreamOptions

    with pytest.raises(UsageError, match="stall_timeout"):
        StreamOptions(stall_timeout=value)
    assert StreamOptions(stall_timeout=2.5).stall_timeout == 2.5
