"""Red-team finding 17: torch, torchvision and torchaudio are ranges (the oldest set CI tests up
to the next major), so installing avlocate keeps the in-range torch a user already has. The full
check (a venv with torch installed first, then the wheel) is in `.ci/run`; here, cheaply, pip's
own resolver is asked what it would install next to this environment's torch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
NEXT_MAJOR = {"torch": "3", "torchvision": "1", "torchaudio": "3"}


def _requirements() -> dict[str, Requirement]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    return {r.name: r for r in map(Requirement, deps)}


@pytest.mark.parametrize("name", sorted(NEXT_MAJOR))
def test_redteam_torch_family_is_a_range_holding_the_tested_set(name):
    spec = _requirements()[name].specifier
    assert not any(s.operator in ("==", "===", "~=") for s in spec), f"{name} is pinned: {spec}"
    installed = Version(version(name))
    assert spec.contains(installed), f"{name} {installed} (what CI tests) is outside {spec}"
    lowest = min(Version(s.version) for s in spec if s.operator == ">=")
    assert lowest <= installed  # the lower bound is a set that is tested, not a guess below it
    assert spec.contains(Version(f"{lowest.major}.{lowest.minor + 1}")), f"{name}: a newer minor must be allowed"
    assert not spec.contains(Version(NEXT_MAJOR[name])), f"{name}: the next major must be excluded ({spec})"


def test_redteam_installing_the_wheel_keeps_the_installed_torch(tmp_path, wheel):
    """A venv that sees this environment's packages (its torch in range): pip would install
    avlocate alone, keeping torch, torchvision and torchaudio as they are (the wheel: conftest.py,
    built once per session)."""
    whl = wheel
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # This environment's site-packages (torch included) as the venv's own installed packages.
    Path(purelib, "user-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # a checkout on the path would look installed
    r = subprocess.run([str(python), "-m", "pip", "install", "--dry-run", "--no-index", "--report", str(report),
                        str(whl)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    would = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert would == {"avlocate"}, would
    for name in NEXT_MAJOR:
        assert f"Requirement already satisfied: {name}" in r.stdout
