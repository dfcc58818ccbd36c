"""``avlocate run``: the events of videos, files, URLs or standard input, written in any format."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer

from ..accounting import summary_line
from ..errors import OutputError, UsageError
from ..errors import InputNotFoundError, MediaError, naming
from .app import PRECISION_HELP, _err, _nothing, app


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
                                        help="URL or pipe: a stream without data for this long ends (exit code 10)."),
) -> None:
    """Find the events of one or more videos."""
    from ..pipeline import DEFAULT_MODEL
    from ..pipeline.options import RunOptions
    from ..outputs.writers import parse_formats

    from ..outputs.writers import check_run_formats
    from ..runners.preflight import check_devices

    # The run's options: one object, validated in one place (avlocate.pipeline.options).
    options = RunOptions(device=device, threshold=threshold, scores=scores,
                         features=None if features_dir is None else str(features_dir),
                         checkpoint=None if checkpoint is None else str(checkpoint), extractor=extractor,
                         precision=precision, stall_timeout=stall_timeout, labels=labels, vocab=vocab,
                         per_modality=per_modality, min_duration=min_duration)
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
    if live:  # its own loop and output (avlocate/runners/live/)
        from ..runners.live import run_live_cli

        options.check_for(model or DEFAULT_MODEL)  # a model's own options first, worded as without --live
        if fmt or output_dir is not None or scores or features_dir is not None or per_modality:
            raise UsageError("--live prints one JSON line per event on stdout: -f, -o, --scores, --features and "
                             "--per-modality do not apply to it")
        raise typer.Exit(run_live_cli(videos, model, options, quiet))
    from ..pipeline.models import load

    loaded = load(model, options)  # the one door: loaded once for every video of the run
    runner = loaded.locate
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
