"""Fixtures for the report tests: a small video, a localhost server and a headless Chromium.

The browser is Debian's ``chromium`` driven by Selenium through Debian's ``chromedriver`` (the
browser's own download is not reachable here); `.ci/run` installs both. Without them the browser
tests skip and say why. Pages are served over http from a thread, because Chromium restricts
media on file:// pages; the server answers Range requests, as real servers do, because Chromium
only seeks in media whose server supports them.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from avlocate.results import Event, Result

HOSTILE = '<script>alert(1)</script> "q" ü'

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
                  "--window-size=1200,900"]


@pytest.fixture(scope="session")
def small_video(tmp_path_factory) -> Path:
    """4 s of moving colour at 10 fps (64x48) with a tone: enough for the player to seek in."""
    from avlocate.media import write_av

    n, fps, sr = 40, 10, 16000
    frames = np.zeros((n, 48, 64, 3), np.uint8)
    for i in range(n):
        frames[i, :, :, 0] = (i * 6) % 256
        frames[i, :, (i * 3) % 64:, 1] = 200
    t = np.arange(int(4 * sr)) / sr
    audio = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return write_av(tmp_path_factory.mktemp("video") / "clip one.mp4", frames, fps, audio, sr, faststart=True)


def hand_made_result(video: str, duration: float = 4.0, scores: bool = True) -> Result:
    """Overlapping events within one label, a hostile label, a single-modality event, curves."""
    events = [
        Event("dog barking", 0.5, 2.0, 0.9),
        Event("dog barking", 1.2, 2.6, 0.35),  # overlaps the one above: a second row in the lane
        Event(HOSTILE, 1.0, 3.5, 0.6),
        Event("bell", 2.8, 3.9, 0.75, modality="audio"),
        Event("dog barking", 3.0, 3.3, 0.5),
    ]
    extra = {}
    if scores:
        times = [0.16 + 0.32 * i for i in range(12)]
        classes = ["bell", "dog barking", "cat"]
        values = [[round(abs(np.sin(t + j)), 4) for j in range(3)] for t in times]
        extra["scores"] = {"times": times, "classes": classes, "values": values}
    return Result(video=video, duration=duration, events=events, model="test-model",
                  warnings={"audio": "missing <b>"}, extra=extra)


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus single ``Range: bytes=a-b`` requests (206 answers)."""

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def send_head(self):  # noqa: ANN201
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        path = self.translate_path(self.path)
        if not match or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        first = int(match.group(1)) if match.group(1) else max(0, size - int(match.group(2) or 0))
        last = int(match.group(2)) if match.group(1) and match.group(2) else size - 1
        last = min(last, size - 1)
        if first >= size:
            self.send_error(416)
            return None
        f = open(path, "rb")  # noqa: SIM115 - closed by copyfile's caller
        f.seek(first)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        self._remaining = last - first + 1
        return f

    def copyfile(self, source, outputfile) -> None:  # noqa: ANN001
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        while remaining > 0:
            chunk = source.read(min(65536, remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            remaining -= len(chunk)


@pytest.fixture(scope="session")
def serve(tmp_path_factory):
    """``serve(path)`` -> http URL of ``path``; everything under one served root folder."""
    root = tmp_path_factory.mktemp("www")
    handler = functools.partial(_RangeHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def url(path: Path) -> str:
        rel = Path(path).resolve().relative_to(root.resolve())
        return f"http://127.0.0.1:{server.server_port}/" + "/".join(map(_quote, rel.parts))

    url.root = root  # type: ignore[attr-defined]
    yield url
    server.shutdown()
    server.server_close()


def _quote(part: str) -> str:
    from urllib.parse import quote

    return quote(part)


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """A headless Chromium (Selenium + chromedriver); alert/confirm/prompt calls are recorded."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    # CI sets AVLOCATE_REQUIRE_BROWSER=1: there a missing browser is a failure, not a silent skip.
    missing = pytest.fail if os.environ.get("AVLOCATE_REQUIRE_BROWSER") == "1" else pytest.skip
    if not chromium or not driver_path:
        missing("headless browser test needs Debian's chromium and chromedriver "
                "(apt-get install -y chromium chromium-driver; .ci/run installs them)")
    try:
        from selenium import webdriver
    except ImportError:
        missing("headless browser test needs the selenium package (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    # Runs before any page script: a dialog opened by injected markup would be counted here.
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
        window.__dialogs = [];
        ['alert', 'confirm', 'prompt'].forEach(function (n) {
          window[n] = function (m) { window.__dialogs.push(n + ':' + m); };
        });"""})
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def make_result():
    """The hand-made :func:`hand_made_result` factory (test modules cannot import conftest)."""
    return hand_made_result


@pytest.fixture(scope="session")
def hostile() -> str:
    return HOSTILE
