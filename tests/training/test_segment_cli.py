"""The segment train/evaluate commands (as the lead registers them in avlocate/cli.py)."""
import json

import pytest
import typer
from typer.testing import CliRunner

pytest.importorskip("h5py")

import avlocate.features.vgg19_vggish  # noqa: E402,F401 - registers the extractor the card names
from avlocate.cli.segment import evaluate_segment_command, is_segment_model, train_segment_command  # noqa: E402
from avlocate.datasets.ave import make_synthetic_ave  # noqa: E402


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("train")(train_segment_command)
    app.command("evaluate")(evaluate_segment_command)
    return app


def test_train_then_evaluate_in_percent(tmp_path, monkeypatch):
    import torch

    torch.set_num_threads(1)
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path / "models"))
    data = make_synthetic_ave(tmp_path / "ave", "vgg19-vggish", num_clips=10, seed=2)
    runner = CliRunner()
    res = runner.invoke(_app(), ["train", "--data", str(data), "--head", "vscg-weakly", "--out", str(tmp_path / "models"),
                                 "--name", "cli-vscg", "--epochs", "2", "--batch-size", "4",
                                 "--head-config", '{"smooth_loss_weight": 1.5}'])
    assert res.exit_code == 0, res.output
    card_path = res.stdout.strip().splitlines()[-1]
    assert card_path.endswith("cli-vscg.json")
    card = json.loads(open(card_path).read())
    assert card["head"] == "vscg-weakly" and card["head_config"]["smooth_loss_weight"] == 1.5
    res = runner.invoke(_app(), ["evaluate", "--data", str(data), "--model", card_path, "--split", "test"])
    assert res.exit_code == 0, res.output
    line = res.stdout.strip().splitlines()[-1]
    assert line.startswith("test segment accuracy: ") and line.endswith(" %")
    assert 0.0 <= float(line.split(": ")[1].rstrip(" %")) <= 100.0
    assert is_segment_model("avsgn-weakly") and not is_segment_model("esgnet")
    res = runner.invoke(_app(), ["train", "--data", str(data), "--head", "vscg", "--out", str(tmp_path),
                                 "--head-config", "[1]"])
    from avlocate.errors import UsageError

    assert res.exit_code != 0 and isinstance(res.exception, UsageError)  # the real CLI prints it as one line


def test_cli_module_lists_the_trainable_variants():
    from avlocate.cli.segment import SEGMENT_MODELS
    from avlocate.training.segment import VARIANTS

    assert SEGMENT_MODELS == VARIANTS
