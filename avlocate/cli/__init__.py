"""The ``avlocate`` command: a thin layer over the library (parse, call, print).

One module per command group (run, batch, models, report, samples + train-demo, extract, train +
evaluate, train-segment + evaluate-segment, weights); :mod:`.app` holds the Typer application
they register on. User errors print one line on stderr and exit with their code (README, "Exit
codes"); ``--debug`` shows the traceback. When stdout is piped it carries only the requested output.
"""
from __future__ import annotations

import sys

import typer

from ..errors import EXIT_INTERNAL, EXIT_INTERRUPTED, AvlocateError
# Each command module registers its commands on `app` when imported; this order is --help's.
from . import run as _run  # noqa: F401, I001
from . import batch as _batch  # noqa: F401
from . import models as _models  # noqa: F401
from . import report as _report  # noqa: F401
from . import samples as _samples  # noqa: F401
from .app import _err, _state, app, samples_app
from .weights import weights_app
from .datasets import datasets_app

app.add_typer(samples_app, name="samples")
app.add_typer(weights_app, name="weights")
app.add_typer(datasets_app, name="datasets")


def _register_training_commands() -> None:
    from .segment import evaluate_segment_command, train_segment_command

    app.command("train-segment")(train_segment_command)
    app.command("evaluate-segment")(evaluate_segment_command)
    from .extract import extract_command
    from .train import evaluate_cmd, train_cmd

    app.command("extract")(extract_command)
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)


_register_training_commands()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: maps errors to one line + exit code."""
    from .streams import flush_stdout, stream_write_error

    rc = _main(argv)
    try:  # what is still buffered: a full device is one line here, not the interpreter's complaint at exit
        flush_stdout()
    except OSError as exc:
        error = stream_write_error(exc)
        if error is None:
            return _internal(exc)
        _err(str(error))
        _quiet_stdout()
        return error.exit_code
    return rc


def _main(argv: list[str] | None) -> int:
    from ..allocator import pin_mmap_threshold

    from .streams import reads_closed_stdin, stand_in_for_closed_streams, stream_write_error

    pin_mmap_threshold()  # flat memory on long videos (see avlocate/allocator.py)
    from .omp_wait import passive_waits_for_live

    passive_waits_for_live(argv)  # --live: no spinning OpenMP threads (see cli/omp_wait.py)
    stand_in_for_closed_streams()
    if reads_closed_stdin(sys.argv[1:] if argv is None else argv):
        from ..errors import InputNotFoundError

        error = InputNotFoundError("standard input is closed; there is nothing to read from '-'")
        _err(str(error))
        return error.exit_code
    try:
        import typer.main

        from .numbers import finite_float_options

        # What app() does, with every float option checked as finite and in range (cli/numbers.py).
        rc = finite_float_options(typer.main.get_command(app)).main(args=argv, standalone_mode=False)
    except AvlocateError as exc:
        if _state["debug"]:
            import traceback

            traceback.print_exc()
        _err(str(exc))
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except OSError as exc:
        error = stream_write_error(exc)
        if error is None or _state["debug"]:
            return _internal(exc)
        _err(str(error))
        _quiet_stdout()
        return error.exit_code
    except Exception as exc:  # click's usage errors (typer vendors click, so test by shape), then bugs
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            from .usage_line import usage_line

            _err(usage_line(exc))  # one line, like every other error; exit code 2
            return exc.exit_code
        if type(exc).__name__ == "Abort":  # click's form of Ctrl-C
            _err("interrupted")
            return EXIT_INTERRUPTED
        return _internal(exc)
    if rc == EXIT_INTERRUPTED:  # typer turns Ctrl-C into a bare exit code 130: say what happened
        _err("interrupted (Ctrl-C); a batch resumes where it stopped when run again")
    return rc if isinstance(rc, int) else 0


def _internal(exc: Exception) -> int:
    if _state["debug"]:
        raise exc
    _err(f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
         "(a bug: please report it with the output of --debug)")
    return EXIT_INTERNAL


def _quiet_stdout() -> None:
    """After stdout failed: drop what is still buffered, so the interpreter's exit flush does not
    print a second (multi-line) complaint about the same device."""
    import os

    try:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
