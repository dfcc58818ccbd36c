"""``avlocate extract``: a plain Typer command function, registered by ``avlocate/cli.py``.

Progress goes to stderr; stdout stays empty (the features are files). Exit code 0 when every
video was extracted or already there, ``EXIT_BATCH_FAILURES`` (1) when some failed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

__all__ = ["extract_command"]


def extract_command(
    inputs: list[Path] = typer.Argument(..., help="Video files and/or folders (searched recursively)."),
    extractor: str = typer.Option(..., "--extractor", "-e", help="Extractor name (see `avlocate models`)."),
    output_dir: Path = typer.Option(..., "--output-dir", "-o", help="Folder for the feature files and their <id>.json sidecars."),
    layout: str = typer.Option("auto", "--layout", help="auto, unav100, onepeace, ave or generic (auto: the extractor's official layout)."),
    config: Optional[str] = typer.Option(None, "--config", help="Extractor settings as a JSON object, e.g. '{\"device\": \"cpu\"}'."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo videos whose sidecar already exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No notes on stderr."),
    offline: bool = typer.Option(False, "--offline", help="Never download missing weights (as AVLOCATE_OFFLINE=1)."),
) -> None:
    """Extract features into the layouts the official training code reads (resumable)."""
    from ..errors import EXIT_BATCH_FAILURES, UsageError
    from ..extraction.video import build_extractor
    from ..features.store import resolve_layout
    from ..extraction.folder import collect_videos, extract_many
    from ..extraction.progress import ExtractProgress

    try:
        settings = json.loads(config) if config else {}
    except json.JSONDecodeError as exc:
        raise UsageError(f"--config is not JSON ({exc.msg})") from None
    if not isinstance(settings, dict):
        raise UsageError("--config must be a JSON object")
    from ..weights.fetch import ensure_extractor_weights

    ensure_extractor_weights(extractor, offline=offline)  # first use: fetch what is missing, unless offline
    ext = build_extractor(extractor, settings)
    chosen = resolve_layout(ext, layout)  # a wrong layout fails before anything is decoded
    total = len(collect_videos(inputs))

    def say(message: str) -> None:
        if not quiet:
            typer.echo(f"avlocate: {message}", err=True)

    show = sys.stderr.isatty() and not quiet
    with ExtractProgress(total, f"extract ({ext.name}, {chosen})", say, enabled=show, lines=False) as progress:
        summary = extract_many(inputs, ext, output_dir, chosen, overwrite=overwrite, on_done=progress.done)
    for note in summary.notes:
        say(note)
    say(f"{summary.succeeded} extracted, {summary.failed} failed, {summary.skipped} already in {output_dir}")
    if summary.failed:
        raise typer.Exit(EXIT_BATCH_FAILURES)
