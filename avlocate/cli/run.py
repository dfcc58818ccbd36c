"""``avlocate run``: the events of videos, files, URLs or standard input, written in any format."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer

from ..accounting import summary_line
from ..errors import EXIT_BATCH_FAILURES, EXIT_INTERNAL, AvlocateError, OutputError, UsageError
from ..errors import InputNotFoundError, MediaError, naming
from .app import PRECISION_HELP, _err, _nothing, app


def _write_outputs(results, formats: list[str], output_dir: Optional[Path], embed: bool = False,  # noqa: ANN001
                   several: bool = False) -> None:
    """All or none: every file (or every format on stdout) is rendered first; files are written
    under temporary names and renamed together once all were written (outputs/atomic.py)."""
    from ..outputs.writers import EXTENSIONS, render, rich_table

    if output_dir is not None:
        from ..outputs.atomic import OutputSet
        from ..outputs.report.names import unique_stems

        try:
            with OutputSet(output_dir) as outputs:
                stems = unique_stems((r.video for r in results), extensions=[EXTENSIONS[f] for f in formats])
                for r, stem in zip(results, stems):
                    for fmt in formats:
                        outputs.add(f"{stem}.{EXTENSIONS[fmt]}", render(fmt, [r], embed=embed, page_dir=output_dir))
                outputs.commit()
        except OSError as exc:
            raise OutputError(f"{output_dir}: cannot write results ({exc.strerror or exc}); choose a writable -o; "
                              "no file was changed") from None
        return
    rendered = []
    for fmt in formats:
        if fmt == "table" and sys.stdout.isatty():
            rendered.append((fmt, None))  # drawn with colours below
            continue
        content = render(fmt, results, embed=embed, array=True if several else None)
        if isinstance(content, bytes) and sys.stdout.isatty():
            raise UsageError(f"{fmt} is binary: redirect stdout to a file or use -o DIR")
        rendered.append((fmt, content))
    for fmt, content in rendered:
        if content is None:
            from rich.console import Console

            console = Console()
            for r in results:
                console.print(rich_table(r))
        elif isinstance(content, bytes):
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
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Score threshold in [0, 1] (default: the model card's; zeroshot: 0.35 softmax-min, 0.75 av2a)."),
    scores: bool = typer.Option(False, "--scores", help="Keep per-snippet scores (JSON; curves in html/png)."),
    embed: bool = typer.Option(False, "--embed", help="html: put the video inside the page (up to 20 MB)."),
    labels: Optional[str] = typer.Option(None, "--labels", help="zeroshot: event names, comma-separated (';' if names contain commas)."),
    vocab: Optional[str] = typer.Option(None, "--vocab", help="zeroshot: unav100, ave, or a file with one name per line."),
    min_duration: Optional[float] = typer.Option(None, "--min-duration", help="zeroshot: drop shorter events (seconds; default 1)."),
    per_modality: bool = typer.Option(False, "--per-modality", help="zeroshot: also report audio-only / visual-only events."),
    zs_method: Optional[str] = typer.Option(None, "--zs-method", help="zeroshot: av2a (AV²A, CVPR 2025; default for 8+ labels) or softmax-min (default for fewer)."),
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
                         per_modality=per_modality, min_duration=min_duration, zs_method=zs_method)
    default_fmt = "table" if sys.stdout.isatty() or output_dir is not None else "json"
    formats = parse_formats(fmt, default_fmt)
    check_run_formats(formats, len(videos), output_dir is not None, sys.stdout.isatty())
    if videos.count("-") > 1:
        raise UsageError("- (standard input) can be given once: it can be read only once")
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

        os.environ["AVLOCATE_OFFLINE"] = "1"  # read by avlocate.weights.fetch (first-use downloads)
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
    if output_dir is not None:  # after the options and the model, before the first video
        from ..outputs.atomic import check_output_dir

        check_output_dir(output_dir)
    results = []
    failed = 0
    several = len(videos) > 1  # like batch: each success written, each failure one line, exit 1
    status_console = Console(stderr=True)
    show = sys.stderr.isatty() and not quiet
    started = time.perf_counter()
    for i, video in enumerate(videos, start=1):
        with status_console.status(f"[{i}/{len(videos)}] {video}", spinner="dots") if show else _nothing():
            try:
                results.append(runner(video))
            except AvlocateError as exc:
                if isinstance(exc, (MediaError, InputNotFoundError)):  # about this file: its path once, at the start
                    exc.args = (naming(video, str(exc)),)
                if not several:
                    raise
                failed += 1
                _err(f"failed: {naming(video, str(exc))} (exit code {exc.exit_code})")
                continue
            except Exception as exc:  # noqa: BLE001 - a bug on one input: recorded as batch does, the others go on
                if not several:
                    raise
                failed += 1
                first = str(exc).splitlines()[0] if str(exc) else ""
                _err(f"failed: {video}: internal error: {type(exc).__name__}: {first} (exit code {EXIT_INTERNAL})")
                continue
        for key, value in results[-1].warnings.items():
            if not quiet:
                _err(f"warning: {video}: {key}: {value}")
    wall = time.perf_counter() - started
    if results:
        _write_outputs(results, formats, output_dir, embed=embed, several=several)
    line = summary_line((r.to_dict() for r in results), wall)
    if line and not quiet:
        _err(line)
    if failed:
        if not quiet:
            _err(f"{len(results)} done, {failed} failed")
        raise typer.Exit(EXIT_BATCH_FAILURES)
    from ..media.onepass import ended_early_code

    code = ended_early_code(r.warnings for r in results)
    if code:
        raise typer.Exit(code)  # a stream stalled or was dropped: the events so far were written
