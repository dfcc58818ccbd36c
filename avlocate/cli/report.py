"""``avlocate report``: the HTML report of a batch."""
from __future__ import annotations

from pathlib import Path

import typer

from .app import _err, app


@app.command()
def report(
    results: Path = typer.Argument(..., help="A results JSONL file written by `avlocate batch`."),
    output_dir: Path = typer.Option(Path("report"), "--output-dir", "-o", help="Folder for index.html and the pages."),
    embed: bool = typer.Option(False, "--embed", help="Put each video inside its page (up to 20 MB each)."),
) -> None:
    """Write an HTML report of a batch: an index page plus one page per video."""
    from ..outputs.report import write_report

    index = write_report(results, output_dir, embed=embed)
    _err(f"report written: {index}")
