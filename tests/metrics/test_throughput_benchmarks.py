"""The throughput benchmarks run on a clean checkout and print their ratios (issue: throughput).

Their quick modes only: the measured numbers live in benchmarks/README.md, never in tests.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys


def _run(repo_root, *args: str, timeout: float = 600) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, *args], cwd=repo_root, capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _ratio(text: str, pattern: str) -> float:
    match = re.search(pattern, text)
    assert match, text[-2000:]
    return float(match.group(1))


def test_pipeline_vs_decode_prints_its_ratio(repo_root) -> None:
    out = _run(repo_root, "benchmarks/pipeline_vs_decode.py", "--repeat", "1")
    assert _ratio(out, r"ratio pipeline / decode: ([0-9.]+)") > 0


def test_extract_vs_reference_checks_equal_outputs_and_prints_its_ratio(repo_root) -> None:
    """The re-created original procedure and avlocate give equal features (checked by the
    benchmark itself at the reference tolerances) before any speed is compared."""
    out = _run(repo_root, "benchmarks/extract_vs_reference.py", "--quick")
    assert "outputs equal within tolerance: YES" in out
    assert _ratio(out, r"speed ratio reference / avlocate = ([0-9.]+)x") > 0
