"""The `train` / `evaluate` command functions (cli_train.py), run through a Typer app as cli.py wires them."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from avlocate.cli.train import evaluate_cmd, train_cmd
from avlocate.errors import InputNotFoundError, UsageError


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)
    return app


def _data(tmp_path: Path):
    spec = importlib.util.spec_from_file_location("dense_data", Path(__file__).with_name("dense_data.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_unav_dataset(tmp_path, "onepeace", train=4, test=2)


def test_train_and_evaluate_commands(tmp_path):
    ann, feats = _data(tmp_path)
    runner = CliRunner()
    small = json.dumps({"max_seq_len": 32, "embed_dim": 16, "num_heads": 2, "head_dim": 16, "drop_path": 0.0})
    r = runner.invoke(_app(), ["train", "--head", "unav", "--annotations", str(ann), "--features", str(feats),
                               "--out", str(tmp_path / "m"), "--format", "onepeace", "--max-steps", "2",
                               "--batch-size", "2", "--head-config", small])
    assert r.exit_code == 0, (r.output, r.exception)
    card = tmp_path / "m" / "unav-onepeace.json"
    assert r.output.strip().endswith(str(card))
    meta = json.loads(card.read_text())
    assert meta["feature_protocol"]["fps"] == 16.0 and meta["feature_protocol"]["stride"] == 4
    assert meta["provenance"]["steps"] == 2
    out_json = tmp_path / "map.json"
    r = runner.invoke(_app(), ["evaluate", "--model", str(card), "--annotations", str(ann), "--features", str(feats),
                               "--json", str(out_json)])
    assert r.exit_code == 0, (r.output, r.exception)
    assert "Avg." in r.output and "mAP@0.5" in r.output
    numbers = json.loads(out_json.read_text())
    assert len(numbers["mAP_per_tiou"]) == 9 and numbers["official_label_quirk"] is False


def test_bad_inputs_are_usage_errors(tmp_path):
    runner = CliRunner()
    r = runner.invoke(_app(), ["train", "--head", "unav", "--annotations", str(tmp_path / "nope.json"),
                               "--features", str(tmp_path), "--out", str(tmp_path / "m")])
    # a missing path is exit code 3 (README, "Exit codes"), not a usage error
    assert isinstance(r.exception, InputNotFoundError) and "nope.json" in str(r.exception)
    ann, feats = _data(tmp_path)
    r = runner.invoke(_app(), ["train", "--head", "nosuchhead", "--annotations", str(ann), "--features", str(feats),
                               "--out", str(tmp_path / "m")])
    assert isinstance(r.exception, UsageError) and "nosuchhead" in str(r.exception)


def test_train_options_precision_and_restart(tmp_path):
    ann, feats = _data(tmp_path)
    runner = CliRunner()
    small = json.dumps({"max_seq_len": 32, "embed_dim": 16, "num_heads": 2, "head_dim": 16, "drop_path": 0.0})
    base = ["train", "--head", "unav", "--annotations", str(ann), "--features", str(feats), "--out",
            str(tmp_path / "m"), "--format", "onepeace", "--batch-size", "2", "--head-config", small,
            "--device", "cpu", "--no-progress"]
    r = runner.invoke(_app(), base + ["--max-steps", "1", "--precision", "fp16"])
    assert isinstance(r.exception, UsageError) and "fp16 needs a CUDA GPU" in str(r.exception)
    # a leftover state of other settings is refused; --restart trains from the start over it
    from avlocate.training.checkpoint import save_state

    save_state(tmp_path / "m" / "unav-onepeace.train-state.pt", {"fingerprint": "other", "epoch": 1})
    r = runner.invoke(_app(), base + ["--max-steps", "1"])
    assert isinstance(r.exception, UsageError) and "--restart" in str(r.exception)
    r = runner.invoke(_app(), base + ["--max-steps", "1", "--restart", "--cache", "disk"])
    assert r.exit_code == 0, (r.output, r.exception)
    assert json.loads((tmp_path / "m" / "unav-onepeace.json").read_text())["provenance"]["steps"] == 1
