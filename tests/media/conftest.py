"""Fixtures of tests/media; makes corpus.py importable as ``corpus``."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return corpus.make_bad_input_corpus(tmp_path_factory.mktemp("bad_inputs"))


@pytest.fixture(scope="session")
def av_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s, 10 fps, 64x48 H.264 + 44.1 kHz stereo AAC (440 Hz)."""
    return corpus.make_video(tmp_path_factory.mktemp("media") / "av.mp4", seconds=2.0)


@pytest.fixture
def av_opens(monkeypatch) -> list[str]:
    """The targets of every ``av.open`` from now on, counted by a pass-through to the real one."""
    import av

    opened: list[str] = []
    real_open = av.open

    def counting_open(target, *args, **kwargs):  # noqa: ANN001, ANN202
        opened.append(str(target))
        return real_open(target, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting_open)
    return opened
