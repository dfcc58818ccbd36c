"""One front door (issue 24): ``avlocate.load`` once for many videos, one options object, the
same refusal of a model option by every model that does not take it, and ``run --live``
fetching missing weights on first use as ``run`` does."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import sys
from pathlib import Path

import pytest

import avlocate
from avlocate.errors import UsageError
from avlocate.pipeline.options import RunOptions, flag
from avlocate.weights.inventory import installed_cards

REPO = Path(__file__).resolve().parents[2]
DEMOS = [REPO / "samples" / f"demo{i}.mp4" for i in (1, 2)]

#: a value for each model option, as the CLI takes it and as Python does
VALUES = {"labels": ("dog", ["dog"]), "vocab": ("ave", "ave"), "per_modality": (None, True),
          "min_duration": ("1", 1.0), "zs_method": ("av2a", "av2a")}


def _events(result: dict) -> list[tuple]:
    return [(e["label"], e["start"], e["end"], round(e["score"], 4)) for e in result["events"]]


def test_one_loaded_model_for_several_videos_gives_the_events_of_run(cli):
    videos = [v for v in DEMOS if v.exists()]
    model = avlocate.load(device="cpu")  # the bundled demo model, loaded once
    assert model.card.name == "esgnet-demo"
    got = [model.locate(v).to_dict() for v in videos]
    r = cli("run", *videos, "-f", "json", "-q", "--device", "cpu")
    assert r.code == 0, r.err
    ran = r.json()
    ran = ran if isinstance(ran, list) else [ran]
    assert [_events(g) for g in got] == [_events(x) for x in ran]
    assert all(_events(g) for g in got)  # each demo has events: the comparison is not of two empties
    # the same object again gives the same events (nothing is reloaded or left over between videos)
    assert _events(model.locate(videos[0]).to_dict()) == _events(got[0])


def _models_not_taking(option: str) -> list[str]:
    return sorted(name for name, (card, _) in installed_cards().items() if option not in card.options)


@pytest.mark.parametrize("option", RunOptions.model_option_names())
def test_a_model_option_is_refused_in_one_same_line_by_every_model_that_does_not_take_it(cli, option,
                                                                                         monkeypatch, tmp_path):
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))  # the bundled cards only
    cli_value, py_value = VALUES[option]
    refusers = _models_not_taking(option)
    assert {"esgnet-demo", "lite-demo"} <= set(refusers)
    lines = set()
    for model in refusers:
        args = [flag(option)] + ([] if cli_value is None else [cli_value])
        messages = []
        for live in (False, True):
            r = cli("run", DEMOS[0], "-m", model, "-q", *args, *(["--live"] if live else []))
            assert r.code == 2 and r.err.count("\n") == 1 and r.out == "", (model, r.err)
            messages.append(r.err.strip().removeprefix("avlocate: "))
        for call in (lambda: avlocate.locate(str(DEMOS[0]), model=model, **{option: py_value}),
                     lambda: avlocate.load(model, **{option: py_value})):
            with pytest.raises(UsageError) as caught:
                call()
            messages.append(str(caught.value))
        assert len(set(messages)) == 1, messages  # CLI run, --live, locate() and load(): one line
        line = messages[0]
        assert line.startswith(f"{flag(option)} does not apply to model {model!r}") and "--model zeroshot" in line
        lines.add(line.replace(repr(model), "MODEL"))
    assert len(lines) == 1, lines  # worded the same for every model


def test_the_options_are_one_frozen_object_that_travels_to_workers(tmp_path):
    opts = RunOptions(device="cpu", threshold=0.4, labels=["a", "b"], features=tmp_path)
    assert opts.labels == ("a", "b") and opts.features == str(tmp_path)
    assert pickle.loads(pickle.dumps(opts)) == opts  # Ray actors
    assert RunOptions.from_dict(json.loads(json.dumps(opts.to_dict()))) == opts  # worker processes (JSON)
    assert opts.settings() == {"threshold": 0.4, "precision": None}  # the keys batch lines record
    with pytest.raises(AttributeError):
        opts.threshold = 0.5  # type: ignore[misc]
    assert avlocate.LOCATE_OPTIONS == tuple(f for f in RunOptions.__dataclass_fields__)
    with pytest.raises(UsageError, match="outside"):
        RunOptions(threshold=2)
    with pytest.raises(UsageError, match="--min-duration"):
        RunOptions(min_duration=-1)
    with pytest.raises(UsageError, match="no option 'colour'"):
        RunOptions.from_keywords(colour=True)


def test_zero_shot_is_a_card_that_declares_its_options():
    from avlocate.weights.store import load_card

    card = load_card("zeroshot")
    assert card.head == "zeroshot-similarity" and card.extractor == "clip-clap" and card.weights_file is None
    assert set(card.options) == set(RunOptions.model_option_names())


def _file_host():  # noqa: ANN202 - the local HTTP server of the download tests
    spec = importlib.util.spec_from_file_location("weights_servers", REPO / "tests" / "weights" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("weights_servers", mod)  # its dataclasses look their module up
    mod = sys.modules["weights_servers"]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod._serve(hub=False)


@pytest.mark.parametrize("live", [False, True])
def test_run_live_fetches_missing_weights_on_first_use_like_run(cli, tmp_path, monkeypatch, live):
    """A manifest whose entry for the lite extractor is not installed and is served on
    127.0.0.1: `run` and `run --live` both say what they download, fetch it (verified), and go on."""
    host, httpd = _file_host()
    try:
        payload = os.urandom(4096)
        host.files["extra.bin"] = payload
        manifest = tmp_path / "manifest.json"
        manifest.write_text(json.dumps({"models": {}, "files": {"lite-extra": {
            "file": "lite-extra.safetensors", "source": f"{host.url}/extra.bin", "size": len(payload),
            "check": f"sha256:{hashlib.sha256(payload).hexdigest()}", "extractors": ["lite"]}}}))
        home = tmp_path / "home"
        monkeypatch.setenv("AVLOCATE_HOME", str(home))
        monkeypatch.setenv("AVLOCATE_MANIFEST", str(manifest))
        monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path / "nothing-here"))
        for switch in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "AVLOCATE_OFFLINE"):
            monkeypatch.delenv(switch, raising=False)
        args = ["run", DEMOS[0], "-m", "lite-demo", "--device", "cpu", "-q"] + (["--live"] if live else ["-f", "json"])
        r = cli(*args)
        assert r.code == 0, r.err
        assert "downloading lite-extra" in r.err and host.url in r.err
        assert host.gets() == [("GET", "/extra.bin", None)]
        assert (home / "lite-extra.safetensors").read_bytes() == payload
        r = cli(*args)  # installed now: nothing fetched again
        assert r.code == 0 and "downloading" not in r.err and len(host.gets()) == 1
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_batch_walks_its_folder_once(cli, tmp_path, monkeypatch):
    import shutil

    import avlocate.runners.batch as batch

    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(DEMOS[0], folder / "a.mp4")
    walks: list[Path] = []
    real = batch.find_videos

    def counting(path, *args, **kwargs):  # noqa: ANN001, ANN202
        walks.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(batch, "find_videos", counting)
    r = cli("batch", folder, "--out", tmp_path / "r.jsonl", "-m", "lite-demo", "--device", "cpu", "--in-process", "-q")
    assert r.code == 0, r.err
    assert walks == [folder]
    line = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])
    assert line["settings"] == {"threshold": None, "precision": None}  # the keys resume compares
