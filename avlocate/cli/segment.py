"""CLI commands for the segment-level AVE heads (VSCG, AVSGN) on AVE-format data.

Plain Typer command functions, registered by ``avlocate/cli.py`` (kept apart from the dense
heads' ``cli_train.py``). ``avlocate train`` / ``avlocate evaluate`` can also dispatch here when
``--head`` is one of :data:`SEGMENT_MODELS` (see :func:`is_segment_model`). Progress goes to
stderr; stdout gets only the result (the card path, or the accuracy), so it pipes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

# Same as avlocate.training.segment.VARIANTS; repeated here so that importing the CLI stays
# cheap (no torch import until a command runs). A test keeps the two equal.
SEGMENT_MODELS = ("vscg", "vscg-weakly", "avsgn", "avsgn-weakly")

__all__ = ["SEGMENT_MODELS", "is_segment_model", "train_segment_command", "evaluate_segment_command"]


def _json_object(text: Optional[str], what: str) -> dict:
    import json

    from ..errors import UsageError

    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{what}: expected a JSON object")
    return value


def is_segment_model(name: str) -> bool:
    """Whether ``avlocate train --head NAME`` means a segment head (trained on AVE-format data)."""
    return name in SEGMENT_MODELS


def train_segment_command(
    head: str = typer.Option(..., "--head", help=f"Head to train: {', '.join(SEGMENT_MODELS)}."),
    data: Optional[Path] = typer.Option(None, "--data", help="AVE-format folder: Annotations.txt, split files, feature .h5 files (or --dataset)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Folder for <name>.safetensors + <name>.json (with --dataset default: $AVLOCATE_HOME, where `run` looks)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="ave: pull it when missing, train, evaluate on its test split, install the model."),
    datasets_dir: Optional[Path] = typer.Option(None, "--datasets-dir", help="With --dataset: where data sets live (default: $AVLOCATE_HOME/datasets)."),
    timeout: float = typer.Option(30.0, "--timeout", help="With --dataset: seconds to wait for a data host."),
    name: Optional[str] = typer.Option(None, "--name", help="Model name for --model later (default: the head's)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Default: the paper's (VSCG 300, AVSGN 200)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Default: the paper's (128 / 64)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Default: the paper's (1e-3 / 3e-4)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Default: 123 (official VSCG) / 0 (AVSGN)."),
    head_config: Optional[str] = typer.Option(None, "--head-config", help="JSON object of head config overrides."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Stop after this many optimiser steps."),
    preload: bool = typer.Option(False, "--preload", help="Read the features into memory once (AVE train: ~3.3 GB)."),
    device: str = typer.Option("auto", "--device", help="auto (a GPU when there is one, as for run), cpu or cuda[:N]."),
    restart: bool = typer.Option(False, "--restart",
                                 help="Ignore <out>/<name>.train-state.pt and train from the start (default: resume after its last epoch)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Progress bar (default: on a terminal)."),
    extract_only: bool = typer.Option(False, "--extract-only",
                                      help="With --dataset: pull the data set (avsgn: and extract its CLIP/CLAP features, resumably), print its folder, stop."),
    extract_config: Optional[str] = typer.Option(None, "--extract-config",
                                                 help="With --dataset and avsgn: clip-clap extractor settings as JSON (default device: --device's)."),
) -> None:
    """Train a segment-level head (VSCG / AVSGN, fully or weakly supervised) on AVE-format features."""
    from ..pipeline.models import resolve_device
    from ..training.segment import SegmentTrainConfig, train_segment

    from ..errors import UsageError

    overrides = _json_object(head_config, "--head-config")
    cfg = SegmentTrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, max_steps=max_steps,
                             preload=preload, device=str(resolve_device(device)), head_config=overrides,
                             resume=not restart, progress=progress)
    if dataset is not None:
        if data is not None:
            raise UsageError("--dataset brings its own data folder: drop --data")
        from ..training.from_dataset import prepare_segment_features, train_segment_on_dataset

        def say(message: str) -> None:
            typer.echo(message, err=True)

        ext_cfg = {"device": cfg.device, **_json_object(extract_config, "--extract-config")}
        if extract_only:
            _, _, folder = prepare_segment_features(head, dataset, datasets_dir, timeout, say,
                                                    extractor_config=ext_cfg, progress=progress)
            typer.echo(str(folder))
            return
        run = train_segment_on_dataset(head, dataset, out_dir, name, datasets_dir, timeout, cfg, log=say,
                                       extractor_config=ext_cfg)
        typer.echo(f"test split of {dataset}:\n{run.table()}", err=True)
        typer.echo(str(run.card_path))
        return
    if extract_only or extract_config is not None:
        raise UsageError("--extract-only and --extract-config go with --dataset")
    if data is None or out_dir is None:
        raise UsageError("give --dataset NAME, or both --data and --out")
    result = train_segment(data, head, out_dir, name, cfg, log=lambda m: typer.echo(m, err=True))
    if result.val_accuracy is not None:
        typer.echo(f"best validation segment accuracy: {result.val_accuracy:.2f} %", err=True)
    typer.echo(str(result.card_path))


def evaluate_segment_command(
    model: str = typer.Option(..., "--model", "-m", help="A trained segment model (name or card .json), or zeroshot."),
    data: Optional[Path] = typer.Option(None, "--data", help="AVE-format folder (as for training; zeroshot: with the videos)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="zeroshot: ave = $AVLOCATE_HOME/datasets/ave."),
    split: str = typer.Option("test", "--split", "--subset", help="train, val or test."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Windows per forward pass."),
    device: str = typer.Option("auto", "--device", help="auto (a GPU when there is one, as for run), cpu or cuda[:N]."),
    zs_method: Optional[str] = typer.Option(None, "--zs-method", help="zeroshot: av2a (default) or softmax-min."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="zeroshot: only the first N clips of the split."),
) -> None:
    """Segment accuracy (percent, as the papers report it in both settings) of a model on a split."""
    from ..errors import UsageError
    from ..pipeline.models import resolve_device
    from ..errors import WeightsError
    from ..weights.fetch import ensure_model_weights
    from ..weights.store import load_card

    try:
        open_vocabulary = "labels" in load_card(model).options
    except WeightsError:
        open_vocabulary = False  # not installed (an official model fetched below) or unknown (said below)
    if open_vocabulary:  # an open-vocabulary model: runs on the AVE videos themselves
        from ..pipeline.models import load
        from ..pipeline.options import RunOptions
        from ..zeroshot.evaluate_ave import (apply_ave_rules, ave_classes, check_root, dataset_root,
                                             evaluate_zeroshot_ave)

        root = check_root(dataset_root(data, dataset))  # before any weight is fetched
        loaded = load(model, RunOptions(device=device, labels=tuple(ave_classes()), zs_method=zs_method))
        apply_ave_rules(loaded.head)
        score = evaluate_zeroshot_ave(root, split, loaded, limit, log=lambda m: typer.echo(m, err=True))
        typer.echo(score.line(split))
        return
    if data is None or dataset is not None or zs_method is not None or limit is not None:
        raise UsageError("a trained segment model needs --data DIR (its features); --dataset, --zs-method and "
                         "--limit are for an open-vocabulary model (-m zeroshot)")
    ensure_model_weights(model)  # an official model (vscg): fetched and converted on first use
    from ..training.segment import evaluate_segment

    acc = evaluate_segment(model, data, split, batch_size, str(resolve_device(device)))
    typer.echo(f"{split} segment accuracy: {acc:.2f} %")
