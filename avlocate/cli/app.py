"""The Typer application every command module registers on, and what they share (the one-line
error printer, the --debug state)."""
from __future__ import annotations


import typer

from .. import __version__

# rich_markup_mode=None: plain help (flags without a "<bool>" type, no markup escapes in the text).
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Find audio-visual events (seen and heard at once) in videos.")
samples_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Synthetic audio-visual sample videos with ground truth.")

_state = {"debug": False}


PRECISION_HELP = ("Feature-extractor precision: fp32 (default), bf16 or fp16 (CUDA only) autocast the extractor's "
                  "networks; RAFT flow and the heads stay fp32.")


def _err(message: str) -> None:
    typer.echo(f"avlocate: {message}", err=True)


def _nothing():  # noqa: ANN202
    import contextlib

    return contextlib.nullcontext()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"avlocate {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
) -> None:
    _state["debug"] = debug
