"""The glibc mmap threshold is pinned by avlocate's own processes (memory stays flat on long
videos: measured in benchmarks/memory.py and avlocate/allocator.py), and a user's setting wins."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = "from avlocate.allocator import pin_mmap_threshold; print(pin_mmap_threshold())"


def _run(env_extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env,
                          check=True, timeout=60).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_threshold_is_pinned_unless_the_user_set_it():
    assert _run({}) == "True"
    assert _run({"MALLOC_MMAP_THRESHOLD_": "131072"}) == "False"


def test_cli_main_pins_it(monkeypatch):
    import avlocate.allocator as allocator
    from avlocate.cli import main

    calls = []
    monkeypatch.setattr(allocator, "pin_mmap_threshold", lambda: calls.append(1) or True)
    assert main(["--version"]) == 0
    assert calls == [1]
