"""Shared test setup: offline by default, one torch thread, the reference folder."""
from __future__ import annotations

import os
from pathlib import Path

# Must be set before anything imports huggingface_hub/transformers (laion-clap, open_clip).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import json  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _reference_dir() -> Path:
    return Path(os.environ.get("AVLOCATE_REFERENCE_DIR", REPO_ROOT.parent / "shared" / "reference")).resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Numbers from the official code bases (``AVLOCATE_REFERENCE_DIR``, default ../shared/reference).

    Parity tests skip only when the folder is absent (a user's clone without the shared folder);
    CI has it beside the project.
    """
    path = _reference_dir()
    if not path.is_dir():
        pytest.skip(f"reference folder {path} not present (set AVLOCATE_REFERENCE_DIR)")
    return path


def _load_test_module(name: str, path: Path):  # noqa: ANN202
    """Import a helper module from tests/ (no packages in tests/, see --import-mode=importlib)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory) -> dict[str, Path]:
    """The foundation issue's bad-input files (generated), plus a path that does not exist."""
    corpus = _load_test_module("avlocate_test_corpus", REPO_ROOT / "tests" / "media" / "corpus.py")
    root = tmp_path_factory.mktemp("bad_inputs")
    files = dict(corpus.make_bad_input_corpus(root))
    files["missing_path"] = root / "does-not-exist.mp4"
    return files


class Ran:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(capsys):
    """Run ``avlocate ARGS`` in-process; returns exit code, stdout and stderr."""

    def run(*args):
        capsys.readouterr()
        from avlocate.cli import main

        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


def _has_avx2() -> bool:
    import platform

    if platform.machine().lower() not in {"x86_64", "amd64"}:
        return False
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def _has_amx() -> bool:
    try:
        return " amx_tile" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@pytest.fixture(scope="session")
def reference_arithmetic(reference_dir: Path):
    """Run ``tests/features/reference_arithmetic_probe.py MODE`` in a fresh interpreter whose
    float32 kernels are the ones the reference numbers were computed with: AVX2 (not AVX-512)
    ATen and oneDNN kernels, 2 threads. Under them torchvision's RAFT reproduces the official
    RAFT bit for bit; with AVX-512 kernels it differs by ~2e-4 px (rounding), enough to move a
    few quantised flow values across a .5 boundary. Returns the probe's JSON; ``.pinned`` says
    whether this CPU reproduces those kernels (see below)."""
    if not _has_avx2():
        pytest.skip("the reference arithmetic needs an x86-64 CPU with AVX2")
    import subprocess
    import sys

    def run(mode: str, timeout: float = 600) -> dict:
        env = dict(os.environ, ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2", OMP_NUM_THREADS="2")
        probe = REPO_ROOT / "tests" / "features" / "reference_arithmetic_probe.py"
        done = subprocess.run(
            [sys.executable, str(probe), mode, str(reference_dir)],
            capture_output=True, text=True, env=env, timeout=timeout, check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    # Measured on an Intel Xeon with AMX and AVX-512 FP16: with ATEN_CPU_CAPABILITY=avx2 and
    # ONEDNN_MAX_CPU_ISA=AVX2 (also with MKL_CBWR=AVX2) RAFT still differs from the official forward
    # by 1.9e-4 px, as it did before this code changed: the pin does not reach every kernel there.
    # Such a machine is held to the reference README's acceptance tolerances instead of bit identity.
    run.pinned = not _has_amx()  # type: ignore[attr-defined]
    return run
