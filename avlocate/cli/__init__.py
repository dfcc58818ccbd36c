"""The ``avlocate`` command: a thin layer over the library (parse, call, print).

User errors print one line on stderr and exit with their code (README, "Exit codes");
``--debug`` shows the traceback. When stdout is piped it carries only the requested output.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer

from .. import __version__
from ..accounting import summary_line
from ..errors import EXIT_BATCH_FAILURES, EXIT_INTERNAL, EXIT_INTERRUPTED, AvlocateError, OutputError, UsageError
from ..errors import InputNotFoundError, MediaError, naming

# rich_markup_mode=None: plain help (flags without a "<bool>" type, no markup escapes in the text).
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Find audio-visual events (seen and heard at once) in videos.")
samples_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Synthetic audio-visual sample videos with ground truth.")
app.add_typer(samples_app, name="samples")
from .weights import weights_app  # noqa: E402

app.add_typer(weights_app, name="weights")

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


def _write_outputs(results, formats: list[str], output_dir: Optional[Path], embed: bool = False) -> None:  # noqa: ANN001
    from ..outputs.writers import EXTENSIONS, render, rich_table, write_file

    if output_dir is not None:
        try:
            from ..outputs.report.names import unique_stems

            output_dir.mkdir(parents=True, exist_ok=True)
            for r, stem in zip(results, unique_stems(r.video for r in results)):
                for fmt in formats:
                    write_file(fmt, r, output_dir / f"{stem}.{EXTENSIONS[fmt]}", embed=embed)
        except OSError as exc:
            raise OutputError(f"{output_dir}: cannot write results ({exc.strerror or exc}); choose a writable -o") from None
        return
    for fmt in formats:
        if fmt == "table" and sys.stdout.isatty():
            from rich.console import Console

            console = Console()
            for r in results:
                console.print(rich_table(r))
            continue
        content = render(fmt, results, embed=embed)
        if isinstance(content, bytes):
            if sys.stdout.isatty():
                raise UsageError(f"{fmt} is binary: redirect stdout to a file or use -o DIR")
            sys.stdout.flush()
            sys.stdout.buffer.write(content)
        else:
            sys.stdout.write(content)
    sys.stdout.flush()


@app.command()
def run(
    videos: list[str] = typer.Argument(..., metavar="VIDEO", help="Video file(s), URL(s) (http://, rtsp://, ...), or - for standard input."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name or card path (default: the bundled demo)."),
    fmt: Optional[list[str]] = typer.Option(None, "--format", "-f", help="table, json, jsonl, srt, vtt, csv, html, png, otio (OpenTimelineIO), audacity (label track), tsv (as whisper), or all; repeat or comma-separate."),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", "-o", help="Write <stem>.<ext> files here instead of stdout."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:N]."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Score threshold in [0, 1] (default: the model card's; zeroshot: 0.35)."),
    scores: bool = typer.Option(False, "--scores", help="Keep per-snippet scores (JSON; curves in html/png)."),
    embed: bool = typer.Option(False, "--embed", help="html: put the video inside the page (up to 20 MB)."),
    labels: Optional[str] = typer.Option(None, "--labels", help="zeroshot: event names, comma-separated (';' if names contain commas)."),
    vocab: Optional[str] = typer.Option(None, "--vocab", help="zeroshot: unav100, ave, or a file with one name per line."),
    min_duration: Optional[float] = typer.Option(None, "--min-duration", help="zeroshot: drop shorter events (seconds; default 1)."),
    per_modality: bool = typer.Option(False, "--per-modality", help="zeroshot: also report audio-only / visual-only events."),
    features_dir: Optional[Path] = typer.Option(None, "--features", help="Reuse features written by `avlocate extract` (<DIR>/<stem>.json) instead of decoding."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Weights (.safetensors) to use instead of the model card's."),
    extractor: Optional[str] = typer.Option(None, "--extractor", help="Run another registered extractor than the card names."),
    weights_dir: Optional[Path] = typer.Option(None, "--weights-dir", help="Look for weights and model cards here first."),
    precision: Optional[str] = typer.Option(None, "--precision", help=PRECISION_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No notes on stderr."),
    offline: bool = typer.Option(False, "--offline", help="Never download missing weights (as AVLOCATE_OFFLINE=1)."),
    live: bool = typer.Option(False, "--live", help="A stream that never ends (camera, RTSP, broadcast, a real-time pipe): "
                              "print each event as a JSON line as soon as it is closed."),
    stall_timeout: float = typer.Option(30.0, "--stall-timeout", metavar="SECONDS",
                                        help="URL/live: a stream without data for this long ends (exit code 10)."),
) -> None:
    """Find the events of one or more videos."""
    from ..pipeline import DEFAULT_MODEL
    from ..pipeline.video import video_runner
    from ..outputs.writers import parse_formats

    from ..outputs.writers import check_run_formats
    from ..runners.preflight import check_devices, check_threshold

    check_threshold(threshold)
    default_fmt = "table" if sys.stdout.isatty() or output_dir is not None else "json"
    formats = parse_formats(fmt, default_fmt)
    check_run_formats(formats, len(videos), output_dir is not None, sys.stdout.isatty())
    check_devices(device)
    if model is None and not quiet:
        _err(f"no --model given: using the bundled demo model {DEFAULT_MODEL!r}, trained on synthetic events only; "
             "see `avlocate models` and the README for real models")
    from rich.console import Console

    if weights_dir is not None:
        import os

        os.environ["AVLOCATE_WEIGHTS"] = str(weights_dir)  # searched first (avlocate.weights.store)
    if offline:
        import os

        os.environ["AVLOCATE_OFFLINE"] = "1"  # read by avlocate.pipeline.fetch (first-use downloads)
    from ..media.onepass import StreamOptions

    if stall_timeout <= 0:
        raise UsageError(f"--stall-timeout {stall_timeout:g} must be positive (seconds)")
    stream_options = StreamOptions(stall_timeout=stall_timeout)
    if live:  # its own loop and output (avlocate/runners/live.py)
        from ..runners.live import run_live_cli

        if fmt or output_dir is not None or scores or features_dir is not None or per_modality:
            raise UsageError("--live prints one JSON line per event on stdout: -f, -o, --scores, --features and "
                             "--per-modality do not apply to it")
        raise typer.Exit(run_live_cli(videos, model, device, threshold, labels, vocab, min_duration, checkpoint,
                                      extractor, precision, stream_options, quiet))
    runner = video_runner(model, device, threshold, scores, labels, vocab, per_modality, min_duration,
                          features_dir, checkpoint, extractor, precision, stream_options=stream_options)
    results = []
    status_console = Console(stderr=True)
    show = sys.stderr.isatty() and not quiet
    started = time.perf_counter()
    for i, video in enumerate(videos, start=1):
        with status_console.status(f"[{i}/{len(videos)}] {video}", spinner="dots") if show else _nothing():
            try:
                results.append(runner(video))
            except (MediaError, InputNotFoundError) as exc:  # about this file: its path once, at the start
                exc.args = (naming(video, str(exc)),)
                raise
        for key, value in results[-1].warnings.items():
            if not quiet:
                _err(f"warning: {video}: {key}: {value}")
    wall = time.perf_counter() - started
    _write_outputs(results, formats, output_dir, embed=embed)
    line = summary_line((r.to_dict() for r in results), wall)
    if line and not quiet:
        _err(line)
    from ..media.onepass import ended_early_code

    code = ended_early_code(r.warnings for r in results)
    if code:
        raise typer.Exit(code)  # a stream stalled or was dropped: the events so far were written


@app.command()
def batch(
    folder: Path = typer.Argument(..., metavar="FOLDER", help="Folder of videos (searched recursively), or a LIST.txt "
                                  "of paths/URLs (one a line, # comments)."),
    out: Path = typer.Option(..., "--out", help="JSONL file, one line per video (appended; resumable)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name or card path."),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=1,
        help="Videos processed in parallel (processes; default 1). With --engine ray: the CPUs of the local "
             "Ray instance (default: all)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:N]; several (cuda:0,cuda:1): one worker each."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Score threshold in [0, 1] (default: the model card's)."),
    precision: Optional[str] = typer.Option(None, "--precision", help=PRECISION_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo videos already in --out."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Redo the videos whose line in --out is an error."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, notes or summary on stderr."),
    timeout: Optional[float] = typer.Option(
        None, "--timeout", metavar="SECONDS",
        help="Time limit per video: a video that takes longer becomes an error line (code 9) and the batch "
             "goes on."),
    in_process: bool = typer.Option(
        False, "--in-process",
        help="Run the videos inside the batch process instead of a supervised worker process: no worker "
             "start-up, but a video that crashes the decoder (or an OOM kill) ends the whole batch."),
    engine: str = typer.Option(
        "local", "--engine",
        help="local (this machine) or ray (Ray Data actors; needs `pip install 'avlocate[ray]'`). "
             "Without --address, ray starts a private local Ray instance."),
    address: Optional[str] = typer.Option(
        None, "--address", metavar="ADDR", help="Ray cluster to run on (HEAD:6379); only with --engine ray."),
    videos_in_flight: int = typer.Option(
        1, "--videos-in-flight", min=1, metavar="K",
        help="Process K videos at a time in each process (each worker, each Ray actor), their network "
             "forwards batched together (larger batches on a GPU)."),
    ray_decode: str = typer.Option(
        "tasks", "--ray-decode",
        help="With --engine ray: where videos are decoded. tasks: Ray tasks on CPU workers stream the frames to "
             "the model actors (default); actor: a thread inside each model actor."),
) -> None:
    """Process every video of a folder (or of a list file) into a JSONL file."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ..runners import ENGINES
    from ..runners.batch import run_batch

    if engine not in ENGINES:
        raise UsageError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if address is not None and engine != "ray":
        raise UsageError("--address is the Ray cluster to run on: it needs --engine ray")
    if engine == "ray" and in_process:
        raise UsageError("--in-process works with --engine local only")
    if in_process and (timeout is not None or (workers or 1) > 1 or "," in device):
        raise UsageError("--in-process runs the videos inside the batch process: it does not combine with "
                         "--timeout, --workers or several devices, which need worker processes")
    if engine == "ray" and timeout is not None:
        raise UsageError("--timeout works with --engine local only (with ray, a video that crashes its "
                         "worker becomes an error line; a hang is not stopped)")
    if ray_decode != "tasks" and engine != "ray":
        raise UsageError("--ray-decode says where Ray decodes: it needs --engine ray")
    if engine == "ray" and address is not None and workers is not None:
        raise UsageError("--workers sizes the local Ray instance; with --address the cluster decides")
    options = {"model": model, "device": device, "threshold": threshold}
    if precision is not None:
        options["precision"] = precision
    from ..pipeline.fetch import ensure_for_run
    from ..pipeline import DEFAULT_MODEL
    from ..runners.batch_start import prepare_batch

    ensure_for_run(model or DEFAULT_MODEL)  # first use: fetched once here, not by every worker
    shards_dir = None
    if engine == "ray":
        from ..runners.ray.engine import default_shards_dir

        shards_dir = default_shards_dir(out)
    start = prepare_batch(folder, out, options, engine == "local" and in_process, overwrite, retry_failed, shards_dir)
    total = len(start.videos)
    show = sys.stderr.isatty() and not quiet
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeRemainingColumn(), disable=not show, transient=True) as progress:
        task = progress.add_task("videos", total=total)
        finished: list[dict] = []  # this run's records, for the throughput line
        started = time.perf_counter()

        def done(record: dict) -> None:
            progress.advance(task)
            finished.append({k: record.get(k) for k in ("error", "duration", "timing", "throughput") if k in record})
            if "error" in record and not quiet:
                _err(f"failed: {naming(record['video'], record['error'])}")

        if engine == "ray":
            from ..runners.ray.engine import run_batch_ray

            summary = run_batch_ray(folder, out, options, address=address, num_cpus=workers, overwrite=overwrite,
                                    on_done=done, in_flight=videos_in_flight, decode=ray_decode,
                                    settings=start.plan.settings)
        else:
            summary = run_batch(folder, out, options, workers=workers or 1, overwrite=overwrite, on_done=done,
                                timeout=timeout, in_flight=videos_in_flight, in_process=in_process,
                                settings=start.plan.settings)
    if not quiet:
        _err(f"{summary.succeeded} done, {summary.failed} failed, {summary.skipped} already in {out}"
             + (f" ({len(start.failed_before)} of them failed earlier: --retry-failed redoes them)"
                if start.failed_before else "")
             + (f"; {len(start.skipped_files)} file(s) skipped, not a video extension" if start.skipped_files else ""))
        line = summary_line(finished, time.perf_counter() - started)
        if line:
            _err(line)
    if summary.failed or start.failed_before:
        raise typer.Exit(EXIT_BATCH_FAILURES)


@app.command()
def models() -> None:
    """List installed heads, extractors and models, and whether each model's weights are present."""
    from rich.console import Console
    from rich.table import Table

    from ..registry import EXTRACTORS, HEADS
    from ..weights.inventory import model_inventory

    console = Console(force_terminal=False) if not sys.stdout.isatty() else Console()
    table = Table(title="models")
    for col in ("model", "head", "extractor", "classes", "weights", "source"):
        table.add_column(col)
    from ..zeroshot.inventory import zeroshot_row

    for row in [*model_inventory(), zeroshot_row()]:
        table.add_row(*[str(row[c]) for c in ("model", "head", "extractor", "classes", "weights", "source")])
    console.print(table)
    console.print("heads: " + ", ".join(HEADS.names()))
    console.print("extractors: " + ", ".join(EXTRACTORS.names()))
    for registry in (HEADS, EXTRACTORS):
        for name, problem in registry.plugin_errors.items():
            console.print(f"plugin {registry.kind} {name!r} failed to load: {problem}")


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


@samples_app.command("make")
def samples_make(
    out_dir: Path = typer.Argument(..., help="Folder to write <name>.mp4 + <name>.json into."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives the same videos."),
    count: int = typer.Option(3, "--count", min=1, help="Number of videos."),
) -> None:
    """Generate synthetic audio-visual videos with their ground truth."""
    from ..synth import make_samples

    try:
        paths = make_samples(out_dir, seed=seed, count=count)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot write samples ({exc.strerror or exc})") from None
    for p in paths:
        typer.echo(str(p))


@app.command("train-demo")
def train_demo(
    out_dir: Path = typer.Option(Path("weights"), "--out", help="Where to write <name>.json + .safetensors."),
    head: str = typer.Option("esgnet", "--head", help="esgnet (esgnet-demo, the default model) or lite (lite-demo)."),
    seed: int = typer.Option(0, "--seed", help="Training seed: the same seed writes the same weights."),
    videos: int = typer.Option(None, "--videos", min=4,
                               help="Synthetic training videos, seeds 1000+ (default: 256 for esgnet, 48 for lite)."),
    epochs: int = typer.Option(None, "--epochs", min=1, help="Default: 80 for esgnet, 400 for lite."),
    val_videos: int = typer.Option(48, "--val-videos", min=1,
                                   help="esgnet: validation videos (seeds 3000+) the score threshold is chosen on."),
) -> None:
    """Re-train a bundled demo model on freshly generated synthetic videos (same seed, same weights)."""
    if head == "lite":
        from ..training.lite import train_lite_demo

        path = train_lite_demo(out_dir, seed=seed, num_videos=videos or 48, epochs=epochs or 400,
                               log=lambda m: _err(m))
    elif head == "esgnet":
        from ..training.dense_demo import train_dense_demo

        path = train_dense_demo(out_dir, seed=seed, num_videos=videos or 256, val_videos=val_videos,
                                epochs=epochs or 80, log=lambda m: _err(m))
    else:
        raise UsageError(f"--head {head!r}: choose esgnet or lite")
    typer.echo(str(path))


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
    from ..allocator import pin_mmap_threshold

    pin_mmap_threshold()  # flat memory on long videos (see avlocate/allocator.py)
    try:
        rc = app(args=argv, standalone_mode=False)
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
    except Exception as exc:  # click's usage errors (typer vendors click, so test by shape), then bugs
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            from .usage_line import usage_line

            _err(usage_line(exc))  # one line, like every other error; exit code 2
            return exc.exit_code
        if type(exc).__name__ == "Abort":  # click's form of Ctrl-C
            _err("interrupted")
            return EXIT_INTERRUPTED
        if _state["debug"]:
            raise
        _err(f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
             "(a bug: please report it with the output of --debug)")
        return EXIT_INTERNAL
    if rc == EXIT_INTERRUPTED:  # typer turns Ctrl-C into a bare exit code 130: say what happened
        _err("interrupted (Ctrl-C); a batch resumes where it stopped when run again")
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
