"""``avlocate train`` and ``avlocate evaluate``: dense heads on UnAV-100-format data.

Plain Typer command functions; avlocate/cli.py registers them (``app.command("train")(train_cmd)``,
``app.command("evaluate")(evaluate_cmd)``). Library errors become one-line UsageErrors.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import AvlocateError, InputNotFoundError, UsageError


def _echo_err(message: str) -> None:
    typer.echo(f"avlocate: {message}", err=True)


def _json_option(text: Optional[str], what: str) -> dict[str, Any]:
    """A JSON object given inline or as a path to a .json file."""
    if not text:
        return {}
    try:
        raw = Path(text).read_text(encoding="utf-8") if text.endswith(".json") and Path(text).is_file() else text
        value = json.loads(raw)
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{what}: not a JSON object ({exc})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{what}: must be a JSON object")
    return value


def train_cmd(
    head: str = typer.Option(..., "--head", help="unav, ccnet or esgnet."),
    annotations: Optional[Path] = typer.Option(None, "--annotations", help="UnAV-100-format annotations JSON (or --dataset)."),
    features: Optional[Path] = typer.Option(None, "--features", help="Folder of per-video .npy feature files (or --dataset)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Folder for <name>.safetensors + <name>.json (with --dataset default: $AVLOCATE_HOME, where `run` looks)."),
    name: Optional[str] = typer.Option(None, "--name", help="Model name (default: <head>-<format>; with --dataset: the head's, e.g. esgnet)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="unav100: pull it when missing, train, evaluate on its test split, install the model."),
    datasets_dir: Optional[Path] = typer.Option(None, "--datasets-dir", help="With --dataset: where data sets live (default: $AVLOCATE_HOME/datasets)."),
    timeout: float = typer.Option(30.0, "--timeout", help="With --dataset: seconds to wait for a data host."),
    fmt: str = typer.Option("i3d_vggish", "--format", help="i3d_vggish (rgb+flow+vggish files), onepeace, or lite (`extract -e lite --layout generic` files); with --dataset it picks the features."),
    subset: str = typer.Option("train", "--subset", help="Annotation subset to train on."),
    epochs: Optional[int] = typer.Option(
        None, "--epochs", min=1,
        help="Default: the paper's (40). As the official loop, epochs + the warm-up epochs (5) are trained."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Default: the paper's recipe."),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default: the paper's recipe)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Stop after this many steps."),
    head_config: Optional[str] = typer.Option(None, "--head-config", help="JSON (or .json file) of head config overrides."),
    device: str = typer.Option("auto", "--device", help="auto (a GPU when there is one, as for run), cpu or cuda[:N]."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Training seed (default: the recipe's)."),
    precision: str = typer.Option("fp32", "--precision",
                                  help="fp32 (the official recipe), bf16, fp16 (CUDA only) or auto (bf16 where the GPU supports it)."),
    restart: bool = typer.Option(False, "--restart",
                                 help="Ignore <out>/<name>.train-state.pt and train from the start (default: resume after its last epoch)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                            help="Progress bar (default: on a terminal)."),
    cache: str = typer.Option("auto", "--cache", help="Features in memory (memory), read per batch (disk), or auto (memory when they fit)."),
) -> None:
    """Train a dense head with its paper's recipe; writes safetensors + a model card (EMA weights)."""
    from ..pipeline.models import resolve_device
    from ..training.dense import train

    overrides = {k: v for k, v in dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                                         max_steps=max_steps, seed=seed).items() if v is not None}
    if dataset is not None:
        if annotations is not None or features is not None:
            raise UsageError("--dataset brings its annotations and features: drop --annotations / --features")
        loop = dict(resume=not restart, precision=precision, progress=progress, cache=cache)
        _train_on_dataset(head, dataset, fmt, out_dir, name, datasets_dir, timeout, head_config, device,
                          {**overrides, **loop})
        return
    if annotations is None or features is None or out_dir is None:
        raise UsageError("give --dataset NAME, or all of --annotations, --features and --out")
    if not annotations.is_file():
        raise InputNotFoundError(f"--annotations {annotations}: no such file; check the path")
    if not features.is_dir():
        raise InputNotFoundError(f"--features {features}: no such folder; check the path")
    try:
        res = train(head, annotations, features, out_dir, name=name, fmt=fmt, subset=subset, log=_echo_err,
                    head_overrides=_json_option(head_config, "--head-config"),
                    device=str(resolve_device(device)), resume=not restart, precision=precision,
                    progress=progress, cache=cache, **overrides)
    except AvlocateError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"train: {exc}") from None
    typer.echo(str(out_dir / f"{res.card.name}.json"))


def _train_on_dataset(head: str, dataset: str, fmt: str, out_dir: Optional[Path], name: Optional[str],
                      datasets_dir: Optional[Path], timeout: float, head_config: Optional[str], device: str,
                      overrides: dict[str, Any]) -> None:
    from ..datasets.registry import get
    from ..pipeline.models import resolve_device
    from ..training.from_dataset import train_dense_on_dataset

    chosen = [fs.name for fs in get(dataset).features.values() if fs.format == fmt]
    try:
        run = train_dense_on_dataset(head, dataset, chosen[0] if chosen else None, out_dir, name, datasets_dir,
                                     timeout, _json_option(head_config, "--head-config"),
                                     str(resolve_device(device)), log=_echo_err, **overrides)
    except AvlocateError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"train: {exc}") from None
    typer.echo(f"test split of {dataset}:\n{run.table()}", err=True)
    typer.echo(str(run.card_path))


def evaluate_cmd(
    model: str = typer.Option(..., "--model", "-m", help="Dense model: card path or installed name."),
    annotations: Path = typer.Option(..., "--annotations", help="UnAV-100-format annotations JSON."),
    features: Path = typer.Option(..., "--features", help="Folder of per-video .npy feature files."),
    subset: str = typer.Option("test", "--subset", help="Annotation subset to score (e.g. test, validation)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Default: from the model card's extractor."),
    official_label_quirk: bool = typer.Option(
        False, "--official-label-quirk",
        help="Score predictions of labels absent from the ground truth as the official metric does (to reproduce published numbers)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the numbers to this JSON file."),
) -> None:
    """mAP at tIoU 0.1...0.9, the papers' 0.5...0.9 columns and their average."""
    from ..metrics.evaluate_dense import evaluate

    if not annotations.is_file():
        raise InputNotFoundError(f"--annotations {annotations}: no such file; check the path")
    if not features.is_dir():
        raise InputNotFoundError(f"--features {features}: no such folder; check the path")
    from ..weights.fetch import ensure_model_weights

    ensure_model_weights(model)  # an official model (unav, ccnet): fetched and converted on first use
    try:
        ev = evaluate(model, annotations, features, subset=subset, fmt=fmt,
                      official_label_quirk=official_label_quirk, log=lambda s: None)
    except AvlocateError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"evaluate: {exc}") from None
    sys.stdout.write(ev.result.table() + "\n")
    if json_out is not None:
        json_out.write_text(json.dumps({"model": ev.model, "subset": subset,
                                        "official_label_quirk": official_label_quirk, **ev.result.to_dict()},
                                       indent=2) + "\n", encoding="utf-8")
