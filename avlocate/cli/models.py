"""``avlocate models``: installed heads, extractors and models, and whether their weights are present."""
from __future__ import annotations

import sys


from .app import app


@app.command()
def models() -> None:
    """List installed heads, extractors and models, and whether each model's weights are present."""
    from rich.console import Console
    from rich.table import Table

    from ..registry import EXTRACTORS, HEADS
    from ..weights.inventory import model_inventory

    # Piped, the table is for grep and scripts: wide enough that no name is cut or wrapped.
    console = Console(force_terminal=False, width=240) if not sys.stdout.isatty() else Console()
    table = Table(title="models")
    for col in ("model", "head", "extractor", "classes", "weights"):
        table.add_column(col, no_wrap=True)  # names are looked up as written: never wrapped
    table.add_column("source", overflow="fold")
    for row in model_inventory():  # every model is a card, zero-shot included
        table.add_row(*[str(row[c]) for c in ("model", "head", "extractor", "classes", "weights", "source")])
    console.print(table)
    console.print("heads: " + ", ".join(HEADS.names()))
    console.print("extractors: " + ", ".join(EXTRACTORS.names()))
    for registry in (HEADS, EXTRACTORS):
        for name, problem in registry.plugin_errors.items():
            console.print(f"plugin {registry.kind} {name!r} failed to load: {problem}")
