"""Helpers of tests/cli/hardening (importable as ``harness``; conftest.py puts this folder on sys.path)."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
MODEL = "hardening-lite"  # written by the model_dir fixture


@dataclass
class Proc:
    code: int
    out: str
    err: str


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def avlocate_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "avlocate", *(str(a) for a in args)]


def run_avlocate(*args: object, timeout: float = 120, env: dict[str, str] | None = None) -> Proc:
    """``avlocate ARGS`` in a fresh process (what a user runs), with a hard time limit."""
    done = subprocess.run(avlocate_cmd(*args), capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env=env or subprocess_env())
    return Proc(done.returncode, done.stdout, done.stderr)
