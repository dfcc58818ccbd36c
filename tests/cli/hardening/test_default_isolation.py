"""A plain `avlocate batch` (no options) runs its videos in a supervised worker process.

Real faults, through the real command (`python -m avlocate batch FOLDER --out R`, default options):

* the worker is SIGKILLed from outside while it decodes a video (what the OOM killer does);
* a video makes its worker segfault every time. The crash is real native code (a NULL read
  through ctypes) in a third-party extractor plugin, installed the way `pip install` would (an
  entry point on a temporary PYTHONPATH): a plugin, or a decoder, that crashes on one file is the
  case isolation exists for.

Both give exactly one line per video and the batch goes on. The plugin also logs each model load
and each extraction with its process id, so the tests see that a worker loads its model once and
is reused, and that a crashing video was tried exactly twice (once more alone).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "media"))
from corpus import make_video  # noqa: E402

from harness import REPO, avlocate_cmd, subprocess_env  # noqa: E402

from avlocate.errors import EXIT_INTERNAL, UsageError  # noqa: E402

PLUGIN = textwrap.dedent('''
    """Test plugin: the lite features, logging loads and extractions; files named *segv* crash it."""
    import ctypes
    import os

    from avlocate.features.lite import LiteExtractor


    def _log(what):
        with open(os.environ["CRASHPLUG_LOG"], "a") as f:  # one short append per event
            f.write(f"{os.getpid()} {what}\\n")


    class CrashPlug(LiteExtractor):
        name = "crashplug"

        def __init__(self, config=None):
            super().__init__(config)
            _log("load")

        def extract(self, clip):
            _log(f"extract {os.path.basename(str(clip.path))}")
            if "segv" in os.path.basename(str(clip.path)):
                ctypes.string_at(0)  # a real segfault in native code
            return super().extract(clip)
''')

MODEL = "crashplug-lite"


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> tuple[Path, Path]:
    """(site folder with the plugin distribution, weights folder with a model card that uses it)."""
    from avlocate.features.lite import LiteExtractor
    from avlocate.heads.lite import LiteAVHead, LiteHeadConfig
    from avlocate.weights.card import ModelCard
    from avlocate.weights.store import save_weights

    root = tmp_path_factory.mktemp("crashplug")
    site = root / "site"
    site.mkdir()
    (site / "crashplug.py").write_text(PLUGIN)
    dist = site / "crashplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: crashplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[avlocate.extractors]\ncrashplug = crashplug:CrashPlug\n")
    weights = root / "weights"
    weights.mkdir()
    torch.manual_seed(0)
    head = LiteAVHead(LiteHeadConfig())
    protocol = {**LiteExtractor().protocol(), "extractor": "crashplug"}
    card = ModelCard(name=MODEL, head="lite-av", extractor="crashplug", classes=["bell", "siren", "engine", "drum"],
                     weights_file=f"{MODEL}.safetensors", head_config=vars(LiteHeadConfig()),
                     feature_protocol=protocol, decode={"kind": "snippet-scores", "threshold": 0.5})
    save_weights(head.state_dict(), card, weights)
    return site, weights


def _env(plugin: tuple[Path, Path], log: Path) -> dict[str, str]:
    site, weights = plugin
    env = subprocess_env(AVLOCATE_WEIGHTS=str(weights), CRASHPLUG_LOG=str(log))
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    return env


def _folder(root: Path, seconds: dict[str, float]) -> Path:
    root.mkdir()
    for name, length in seconds.items():
        make_video(root / name, seconds=length, fps=10, sample_rate=16000, channels=1)
    return root


def _lines(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _log(path: Path) -> list[tuple[int, str]]:
    return [(int(pid), what) for pid, what in (line.split(" ", 1) for line in path.read_text().splitlines())]


def _extracting(log: Path, name: str) -> int | None:
    """The pid of the process that has started extracting ``name`` (complete log lines only)."""
    if not log.exists():
        return None
    text = log.read_text()
    for line in text[: text.rfind("\n") + 1].splitlines():
        pid, what = line.split(" ", 1)
        if what == f"extract {name}":
            return int(pid)
    return None


def test_worker_sigkilled_while_it_works_costs_nothing(plugin, tmp_path):
    """SIGKILL the worker as soon as it reports that it is extracting the long second video: that
    video runs again in a new worker, every video gets one line without error, exit code 0."""
    folder = _folder(tmp_path / "videos", {"a.mp4": 2.0, "b_long.mp4": 30.0, "c.mp4": 2.0})
    out, log = tmp_path / "r.jsonl", tmp_path / "plugin.log"
    proc = subprocess.Popen(avlocate_cmd("batch", folder, "--out", out, "--model", MODEL, "-q"), cwd=REPO,
                            env=_env(plugin, log), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed = None
    try:
        deadline = time.monotonic() + 180
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            killed = _extracting(log, "b_long.mp4")  # the event: the worker is working on it
            if killed is None:
                time.sleep(0.002)
        assert killed is not None and killed != proc.pid, "never saw a worker extracting the long video"
        os.kill(killed, signal.SIGKILL)  # as the OOM killer would
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    records = _lines(out)
    assert sorted(Path(r["video"]).name for r in records) == ["a.mp4", "b_long.mp4", "c.mp4"]  # one line each
    assert all("error" not in r for r in records), records
    events = _log(log)
    loads = [pid for pid, what in events if what == "load"]
    assert killed in loads and len(loads) == len(set(loads)) == 2  # one model load per worker: old and new
    assert (killed, "extract a.mp4") in events  # the first worker was reused for the second video
    retried = [pid for pid, what in events if what == "extract b_long.mp4"]
    assert retried[0] == killed and len(retried) == 2 and retried[1] != killed
    assert (retried[1], "extract c.mp4") in events  # the replacement went on with the batch


def test_video_that_segfaults_its_worker_every_time_is_one_error_line(plugin, tmp_path):
    folder = _folder(tmp_path / "videos", {"a.mp4": 2.0, "b_segv.mp4": 2.0, "c.mp4": 2.0, "d.mp4": 2.0})
    out, log = tmp_path / "r.jsonl", tmp_path / "plugin.log"
    done = subprocess.run(avlocate_cmd("batch", folder, "--out", out, "--model", MODEL), cwd=REPO,
                          env=_env(plugin, log), capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr  # some video failed, the others were written
    records = {Path(r["video"]).name: r for r in _lines(out)}
    assert list(records) == ["a.mp4", "b_segv.mp4", "c.mp4", "d.mp4"]  # one line each, in order
    bad = records["b_segv.mp4"]
    assert bad["error_code"] == EXIT_INTERNAL and "SIGSEGV" in bad["error"] and "retried" in bad["error"]
    assert all("error" not in records[n] for n in ("a.mp4", "c.mp4", "d.mp4"))
    failed = [line for line in done.stderr.splitlines() if "failed:" in line]
    assert len(failed) == 1 and failed[0].count(str(folder / "b_segv.mp4")) == 1  # the path once
    events = _log(log)
    crashes = [pid for pid, what in events if what == "extract b_segv.mp4"]
    assert len(crashes) == 2 and crashes[0] != crashes[1]  # tried once more, alone, in a new worker
    loads = [pid for pid, what in events if what == "load"]
    assert len(loads) == len(set(loads)) == 3  # first worker, the retry's, the replacement: once each
    assert len({pid for pid, what in events if what in ("extract c.mp4", "extract d.mp4")}) == 1  # reused


def test_in_process_trades_the_isolation_away(plugin, tmp_path):
    """`--in-process`: no worker, so the segfault ends the batch itself (resume picks it up)."""
    folder = _folder(tmp_path / "videos", {"a.mp4": 2.0, "b_segv.mp4": 2.0, "c.mp4": 2.0})
    out, log = tmp_path / "r.jsonl", tmp_path / "plugin.log"
    proc = subprocess.Popen(avlocate_cmd("batch", folder, "--out", out, "--model", MODEL, "-q", "--in-process"),
                            cwd=REPO, env=_env(plugin, log), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.wait(timeout=300) == -signal.SIGSEGV
    assert [Path(r["video"]).name for r in _lines(out)] == ["a.mp4"]
    assert {pid for pid, _ in _log(log)} == {proc.pid}  # everything ran in the batch process


def test_in_process_refuses_options_that_need_workers(cli, tmp_path):
    (tmp_path / "v").mkdir()
    for extra in (["--timeout", "5"], ["--workers", "2"]):
        r = cli("batch", tmp_path / "v", "--out", tmp_path / "r.jsonl", "--in-process", *extra)
        assert r.code == UsageError.exit_code and r.err.count("\n") == 1 and "--in-process" in r.err


def test_a_model_the_worker_cannot_build_stops_the_batch_in_one_line(tmp_path):
    """The batch process checks the card and its weights without torch; what only building the
    model shows (here: an extractor nobody registered) stops the batch from the worker's warm-up
    with one line and that error's exit code, before any video, instead of one error line each."""
    from avlocate.errors import ModelError

    bundled = REPO / "avlocate" / "assets" / "weights"
    card = json.loads((bundled / "lite-demo.json").read_text())
    card.update(name="no-such-extractor-demo", extractor="no-such-extractor")
    card["feature_protocol"]["extractor"] = "no-such-extractor"
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "no-such-extractor-demo.json").write_text(json.dumps(card))
    (tmp_path / "m" / "lite-demo.safetensors").write_bytes((bundled / "lite-demo.safetensors").read_bytes())
    folder = _folder(tmp_path / "videos", {"a.mp4": 1.0, "b.mp4": 1.0})
    out = tmp_path / "r.jsonl"
    done = subprocess.run(avlocate_cmd("batch", folder, "--out", out, "--model", tmp_path / "m" / "no-such-extractor-demo.json"),
                          cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == ModelError.exit_code, done.stderr
    assert done.stderr.count("\n") == 1 and "no-such-extractor" in done.stderr, done.stderr
    assert not out.exists() or out.read_text() == ""
