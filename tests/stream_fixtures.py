"""Helpers of the stream tests: an HTTP server on 127.0.0.1 and an MPEG-TS remux made with PyAV.

Routes of :class:`StreamServer` (all from bytes held in memory):

* ``/NAME``       the whole file, with its Content-Length;
* ``/missing``    404;
* ``/drop/NAME``  half of the file, then the connection is closed (Content-Length says all);
* ``/stall/NAME`` half of the file, then nothing more until the test releases it (``release``).
"""
from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import av


def remux_to_ts(src: Path, dst: Path, repeat: int = 1) -> Path:
    """The same packets in an MPEG-TS container (no re-encoding); ``repeat`` > 1 plays the content
    that many times in a row (timestamps shifted by the source's duration, rounded up to 1 s)."""
    with av.open(str(src)) as probe_in:
        shift_s = -(-int(probe_in.duration or 0) // av.time_base) or 1
    with av.open(str(dst), "w", format="mpegts") as out:
        streams = None
        for r in range(repeat):
            with av.open(str(src)) as inp:
                if streams is None:
                    streams = {s.index: out.add_stream_from_template(s) for s in inp.streams
                               if s.type in ("video", "audio")}
                for packet in inp.demux(list(inp.streams)):
                    if packet.dts is None or packet.stream_index not in streams:
                        continue
                    offset = int(r * shift_s / packet.time_base)
                    packet.pts = None if packet.pts is None else packet.pts + offset
                    packet.dts += offset
                    packet.stream = streams[packet.stream_index]
                    out.mux(packet)
    return dst


def remux(src: Path, dst: Path, fmt: str, options: dict[str, str] | None = None) -> Path:
    """The packets of ``src`` in container ``fmt`` (e.g. matroska, flv; mp4 with movflags)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt, options=options or {}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux(list(inp.streams)):
            if packet.dts is None or packet.stream_index not in streams:
                continue
            packet.stream = streams[packet.stream_index]
            out.mux(packet)
    return dst


def moov_at_end(src: Path, dst: Path) -> Path:
    """An MP4 written the default way (index after the data), from the packets of ``src``."""
    return remux(src, dst, "mp4")


class StreamServer:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.release = threading.Event()  # lets /stall/ requests finish
        self.stalled = threading.Event()  # set once a /stall/ request has sent its half
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                parts = self.path.split("?", 1)[0].strip("/").split("/")  # a query string is ignored
                mode, name = (parts[0], parts[-1]) if len(parts) == 2 else ("whole", parts[0])
                data = server.files.get(name)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    if mode == "whole":
                        self.wfile.write(data)
                    elif mode == "drop":
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                    elif mode == "stall":
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        server.stalled.set()
                        server.release.wait(120)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def __enter__(self) -> "StreamServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def half_then_silence(data: bytes, args: list[str]) -> tuple[int, bytes, str]:
    """``avlocate run - ARGS`` fed half of ``data`` through a pipe that then stays open and
    silent (the writer alive, nothing sent) until the process has exited. Output goes to files:
    ``communicate`` would close the pipe, which is an end, not a stall."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "avlocate", "run", "-", *args], stdin=subprocess.PIPE,
                                stdout=out, stderr=err)
        try:
            proc.stdin.write(data[: len(data) // 2])
            proc.stdin.flush()
            proc.wait(timeout=300)  # stdin stays open: only the stall can end the run
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdin.close()
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read().decode()
