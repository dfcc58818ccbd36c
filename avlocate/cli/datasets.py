"""``avlocate datasets ...``: list, pull, path and verify the public training data sets (thin CLI)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

datasets_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                           help="Public data sets for training: list, pull, path, verify.")

_DIR_HELP = "Folder holding the data sets (default: $AVLOCATE_HOME/datasets)."


@datasets_app.command("list")
def datasets_list(as_json: bool = typer.Option(False, "--json", help="Every data set and file: source, check, size.")) -> None:
    """The known data sets, their feature choices and files (source and check of each)."""
    from ..datasets.registry import as_records, datasets

    if as_json:
        import json

        typer.echo(json.dumps({"datasets": as_records()}, indent=2))
        return
    for ds in datasets().values():
        typer.echo(f"{ds.name}: {ds.title} ({ds.kind}; licence: {ds.licence})")
        for f in ds.annotations:
            typer.echo(f"  annotations {f.name}: {f.source} [{f.size}; check {f.check}]")
        for fs in ds.features.values():
            default = " (default)" if fs.name == ds.default_features else ""
            typer.echo(f"  --features {fs.name}{default}:" + (f" {fs.unavailable}" if fs.unavailable else ""))
            for f in fs.files:
                typer.echo(f"    {f.name}: {f.source} [{f.size}; check {f.check}]")
        if ds.videos is not None:
            f = ds.videos
            typer.echo(f"  --videos: {f.source} [{f.size}; check {f.check}]")


@datasets_app.command("pull")
def datasets_pull(
    name: str = typer.Argument(..., help="unav100 or ave (see `avlocate datasets list`)."),
    features: Optional[str] = typer.Option(None, "--features", help="unav100: i3d-vggish (default) or one-peace; ave: vgg19-vggish (default)."),
    videos: bool = typer.Option(False, "--videos", help="ave: the video archive (to extract clip-clap features from) instead of features."),
    directory: Optional[Path] = typer.Option(None, "--dir", help=_DIR_HELP),
    source: Optional[Path] = typer.Option(None, "--from", help="Take the files from this folder (downloaded by hand) instead of the network."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait for a host (connect, each read)."),
) -> None:
    """Download (or take --from a folder), verify and unpack a data set into the layout `train` reads."""
    from ..datasets.fetch import pull
    from ..datasets.verify import verify
    from ..errors import UsageError

    if videos and features:
        raise UsageError("give --features or --videos, not both")
    import sys

    def note(message: str) -> None:  # progress notes on a terminal only: a failure stays one line in logs
        if sys.stderr.isatty():
            typer.echo(f"avlocate: {message}", err=True)

    report = pull(name, features, videos, directory, source, timeout, log=note)
    if not videos:
        checked = verify(name, features, directory)
        typer.echo(f"avlocate: {checked.summary()}", err=True)
        if not checked.ok:
            from ..datasets.unav import DatasetError

            raise DatasetError(checked.summary())
    typer.echo(str(report.folder))


@datasets_app.command("path")
def datasets_path(name: str = typer.Argument(..., help="unav100 or ave."),
                  directory: Optional[Path] = typer.Option(None, "--dir", help=_DIR_HELP)) -> None:
    """Print the folder of a pulled data set (error when it is not pulled)."""
    from ..datasets.fetch import RECORD, dataset_dir
    from ..datasets.registry import get
    from ..datasets.unav import DatasetError

    get(name)
    folder = dataset_dir(name, directory)
    if not (folder / RECORD).is_file():
        raise DatasetError(f"data set {name} is not pulled into {folder}; `avlocate datasets pull {name}`")
    typer.echo(str(folder))


@datasets_app.command("verify")
def datasets_verify(name: str = typer.Argument(..., help="unav100 or ave."),
                    features: Optional[str] = typer.Option(None, "--features", help="Which features to check (default: the data set's default)."),
                    directory: Optional[Path] = typer.Option(None, "--dir", help=_DIR_HELP)) -> None:
    """Check the annotations against their pinned checks and every annotated video's feature files."""
    from ..datasets.unav import DatasetError
    from ..datasets.verify import verify

    report = verify(name, features, directory)
    if not report.ok:
        raise DatasetError(report.summary())
    typer.echo(report.summary())
