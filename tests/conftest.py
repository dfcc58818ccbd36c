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
