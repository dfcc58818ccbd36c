"""One way in for an input (issue #24, item 5): with the default model, a file is opened by PyAV
once per run. Counted, not mocked: every av.open goes through a counting pass-through to the real
one, and the run's events come out of what that one open decoded."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import av
import pytest

import avlocate

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo1.mp4"


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """The targets of every av.open from now on (the real av.open still runs)."""
    calls: list[str] = []
    real_open = av.open

    def counting_open(target, *args, **kwargs):  # noqa: ANN001, ANN202
        calls.append(str(target))
        return real_open(target, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting_open)
    # Decoding in this process (the default), where it is counted; a decoding process opens the
    # file where it runs, which no count here would see.
    monkeypatch.setenv("AVLOCATE_PREFETCH", "thread")
    return calls


def test_run_with_the_default_model_opens_the_file_once(cli, opened):
    r = cli("run", DEMO, "-f", "json", "-q", "--device", "cpu")
    assert r.code == 0, r.err
    assert json.loads(r.out)["events"]
    assert opened == [str(DEMO)]


def test_a_loaded_model_opens_each_file_once(opened, monkeypatch):
    model = avlocate.load(device="cpu")  # the default model
    once = model.locate(DEMO).to_dict()["events"]
    assert once and opened == [str(DEMO)]
    # When the probe has read too far to hand its container on (here: a limit of one packet), the
    # decoder opens the file again, and the events are those of the one-open path.
    probe_module = importlib.import_module("avlocate.media.probe")  # the package binds `probe` to the function
    monkeypatch.setattr(probe_module, "_HEAD_PACKET_LIMIT", 1)
    assert model.locate(DEMO).to_dict()["events"] == once
    assert opened == [str(DEMO)] * 3
