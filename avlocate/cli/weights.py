"""``avlocate weights ...``: list, pull, import, verify and locate weight files (thin CLI)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputNotFoundError, UsageError, WeightsError

weights_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Known weights: list, pull, import, verify, path.")


@weights_app.command("list")
def weights_list(as_json: bool = typer.Option(False, "--json", help="A JSON array, one object per known weight.")) -> None:
    """Every known weight file, what it is for, and whether it is installed."""
    if as_json:
        import json

        from ..weights.listing import weights_as_records

        typer.echo(json.dumps(weights_as_records(), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from ..weights.manager import entries, expected_sha256
    from ..weights.store import find_file

    table = Table(title="weights")
    for col in ("name", "kind", "file", "installed", "sha256", "licence", "for"):
        table.add_column(col)
    for name, e in sorted(entries().items()):
        found = find_file(e.file)
        sha = expected_sha256(e)
        table.add_row(name, e.kind, e.file, str(found) if found else "missing", sha[:12] + "…" if sha else "unknown",
                      e.licence, e.purpose)
    import sys

    Console(width=None if sys.stdout.isatty() else 200).print(table)


@weights_app.command("path")
def weights_path(name: str = typer.Argument(..., help="A name from `avlocate weights list`.")) -> None:
    """Print where an installed weight file is (error if it is not installed)."""
    from ..weights.manager import path_of

    typer.echo(str(path_of(name)))


@weights_app.command("pull")
def weights_pull(
    name: Optional[str] = typer.Argument(None, help="A name from `avlocate weights list`."),
    for_model: Optional[str] = typer.Option(None, "--for", help="Everything this model (or zeroshot) needs."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for the network (connect, each read)."),
    classes: Optional[Path] = typer.Option(None, "--classes", help="Models whose class order is not shipped (vscg): "
                                           "one class name per line, in output order."),
) -> None:
    """Download, verify and convert upstream weights into $AVLOCATE_HOME (no pickle code runs)."""
    from ..weights.fetch import needed_by_model, pull

    if (name is None) == (for_model is None):
        raise UsageError("give a weights NAME or --for MODEL (one of them)")
    names = [name] if name is not None else [e.name for e in needed_by_model(for_model, _run_files(for_model))]
    from ..weights.store import cache_dir, writable_dir

    writable_dir(cache_dir())  # where the downloads go: a file or a read-only folder is one line, before any download
    for n in names:
        typer.echo(str(pull(n, timeout=timeout, classes_file=classes)))


def _run_files(model: str):  # noqa: ANN202 - tuple[str, ...] | None
    """The files a default run of ``model`` reads, when its head names them (a zero-shot method
    reads one of two CLIPs); None: the card's extractor decides."""
    from ..errors import WeightsError
    from ..pipeline.options import RunOptions
    from ..registry import HEADS
    from ..weights.store import load_card

    try:
        card = load_card(model)
    except WeightsError:
        return None  # a manifest model not installed yet: its manifest row names its extractor
    needs = getattr(HEADS.get(card.head), "weight_files_for_run", None)
    return needs(card, RunOptions()) if needs is not None else None


@weights_app.command("verify")
def weights_verify(names: Optional[list[str]] = typer.Argument(None)) -> None:
    """Check installed files against their sha256 (manifest or pinned on first import/download)."""
    from ..weights.manager import verify

    rows = verify(names)
    for name, path, status in rows:
        typer.echo(f"{status:9s} {name:18s} {path}")
    unknown = sorted(set(names or ()) - {r[0] for r in rows})
    if unknown:
        raise UsageError(f"unknown weights name(s) {', '.join(unknown)}; `avlocate weights list` shows the names")
    absent = [r[0] for r in rows if r[2] == "missing"]
    if names and absent:  # asked for by name: a missing file is an error (without names, a report)
        raise WeightsError(f"{', '.join(absent)}: not installed; `avlocate weights pull NAME` or "
                           "`avlocate weights import FILE --as NAME` installs it")
    bad = [r for r in rows if r[2] == "MISMATCH"]
    if bad:
        raise WeightsError(f"{len(bad)} file(s) do not match their sha256: {', '.join(r[0] for r in bad)}")


@weights_app.command("import")
def weights_import(
    checkpoint: Path = typer.Argument(..., help="Checkpoint file (.pth / .pth.tar / .pt / .bin / .safetensors)."),
    source: Optional[str] = typer.Option(None, "--from", help="Models: official-unav, official-ccnet, official-vscg. "
                                         "Extractors: i3d-rgb, i3d-flow, raft-sintel, vggish, vgg19, clip, clap."),
    as_name: Optional[str] = typer.Option(None, "--as", "--name", help="Model name for --model afterwards, or a weights "
                                          "name from `avlocate weights list` (then --from is implied)."),
    classes: Optional[Path] = typer.Option(None, "--classes", help="Models: one class name per line, in output order."),
    config: Optional[Path] = typer.Option(None, "--config", help="Official config as JSON (dense models; default: the paper's)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Where to write (default: $AVLOCATE_HOME)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace, or hide, a model of the same name that is "
                                   "already installed or bundled."),
) -> None:
    """Convert a checkpoint once into safetensors (+ a model card); no pickle code runs."""
    from ..weights.weight_import import import_official
    from ..weights.manager import entries
    from ..weights.names import check_name
    from ..weights.store import cache_dir, find_file, writable_dir

    if as_name is not None:
        check_name(as_name, "--as")  # one path component: never written outside --out or the cache
    if not checkpoint.is_file():
        raise InputNotFoundError(f"{checkpoint}: no such file; check the path" if not checkpoint.exists()
                                 else f"{checkpoint}: is a folder; give the checkpoint file inside it")

    if source is None:
        known = entries().get(as_name or "")
        if known is None or known.import_source is None:
            raise UsageError("give --from SOURCE, or --as NAME with a weights name from `avlocate weights list`")
        source = known.import_source
    if classes is not None and classes.is_file():  # the card written must load: check its labels before converting
        from ..weights.weight_import import read_class_names
        from ..weights.card import label_problem

        try:
            labels = read_class_names(classes)
        except UnicodeDecodeError:
            raise UsageError(f"{classes}: not UTF-8 text; give one class name per line") from None
        for n, label in enumerate(labels, start=1):
            if label_problem(label) is not None:
                raise UsageError(f"{classes}: class {n} ({label[:40]!r}) {label_problem(label)}")
    if config is not None and config.is_file():  # bounded size and depth, strict numbers, before the converter reads it
        from ..weights.card import read_json_bounded

        read_json_bounded(config, "--config file", UsageError)
    destination = Path(out_dir or cache_dir())
    is_model = source.startswith("official-")
    existing = find_file(f"{as_name}.json") if is_model and as_name else None
    if existing is None and is_model and as_name and (destination / f"{as_name}.json").is_file():
        existing = destination / f"{as_name}.json"
    if existing is not None and not overwrite:
        raise UsageError(f"a model named {as_name!r} is already installed ({existing}); choose another --as NAME, "
                         "or give --overwrite to replace it")
    writable_dir(destination, None if out_dir is None else "--out")
    written = import_official(source, checkpoint, as_name, classes, config, destination)
    typer.echo(str(written))
    winner = find_file(f"{as_name}.json") if is_model and as_name else None
    if winner is not None and winner.resolve() != Path(written).resolve():
        from .app import _err

        _err(f"note: -m {as_name} still loads {winner} (earlier in the search path); run this import with "
             f"-m {written}, or see `avlocate models`")
