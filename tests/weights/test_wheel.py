"""The built wheel carries everything `run` needs: its demo runs from a temporary folder, with
the unpacked wheel (not this checkout) on the path, and finds the sample's events."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA_FILES = ("avlocate/assets/weights/manifest.json", "avlocate/assets/weights/esgnet-demo.json",
              "avlocate/assets/weights/esgnet-demo.safetensors", "avlocate/assets/weights/lite-demo.json",
              "avlocate/assets/weights/lite-demo.safetensors", "avlocate/data/vocab/unav100.txt",
              "avlocate/data/vocab/ave.txt")


def test_the_wheel_holds_every_data_file_run_needs(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [f for f in DATA_FILES if f not in names]
    assert not missing, missing
    assert not any(n.startswith("weights/") for n in names)  # nothing outside the package


def test_the_sdist_holds_every_data_file_run_needs(source_copy, tmp_path):
    """setuptools' own sdist hook (what `python -m build --sdist` calls), offline."""
    import tarfile

    r = subprocess.run([sys.executable, "-c", f"from setuptools import build_meta as b; print(b.build_sdist({str(tmp_path)!r}))"],
                       cwd=source_copy, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    sdist = tmp_path / r.stdout.strip().splitlines()[-1]
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    missing = [f for f in DATA_FILES if f not in names]
    assert not missing, missing


def test_the_demo_runs_from_an_unpacked_wheel_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(REPO / "samples" / "demo1.mp4", work / "demo1.mp4")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVLOCATE_")}
    env.update(PYTHONPATH=str(site), AVLOCATE_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1")
    where = subprocess.run([sys.executable, "-c", "import avlocate; print(avlocate.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=120)
    assert where.returncode == 0 and Path(where.stdout.strip()).is_relative_to(site), where.stdout + where.stderr
    r = subprocess.run([sys.executable, "-m", "avlocate", "run", "demo1.mp4", "--format", "json", "--quiet"], cwd=work,
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)["events"]
    # Each event of the sample's ground truth is found: same label, overlapping in time.
    for want in json.loads((REPO / "samples" / "demo1.json").read_text())["events"]:
        assert any(e["label"] == want["label"] and e["start"] < want["end"] and want["start"] < e["end"]
                   for e in found), (want, found)
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*.safetensors"))
    assert not list(site.rglob("pins.json"))  # nothing was written into the installed package
