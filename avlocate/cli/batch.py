"""``avlocate batch``: a folder or list of videos into a JSONL file (validated before work, resumable)."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer

from ..accounting import summary_line
from ..errors import EXIT_BATCH_FAILURES, UsageError
from ..errors import naming
from .app import PRECISION_HELP, _err, app


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
             "goes on. Default: 500x the video's length, at least 600 s (a file; none for a URL)."),
    no_timeout: bool = typer.Option(False, "--no-timeout", help="No time limit per video (lifts the default)."),
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

    if out.is_dir():  # README table: a folder where a file is expected is 3
        from ..errors import InputNotFoundError

        raise InputNotFoundError(f"{out}: is a folder; --out takes a JSONL file, e.g. {out / 'results.jsonl'}")
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
    if no_timeout and timeout is not None:
        raise UsageError("--no-timeout lifts the time limit per video: it does not combine with --timeout")
    if ray_decode != "tasks" and engine != "ray":
        raise UsageError("--ray-decode says where Ray decodes: it needs --engine ray")
    if engine == "ray" and address is not None and workers is not None:
        raise UsageError("--workers sizes the local Ray instance; with --address the cluster decides")
    from ..pipeline.options import RunOptions
    from ..runners.batch import batch_options

    # The run's options, one object (validated here), handed to every worker as a flat dict.
    options = batch_options(model, RunOptions(device=device, threshold=threshold, precision=precision))
    from ..weights.fetch import ensure_for_run
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
                                    settings=start.plan.settings, videos=start.videos)
        else:
            summary = run_batch(folder, out, options, workers=workers or 1, overwrite=overwrite, on_done=done,
                                timeout=timeout, in_flight=videos_in_flight, in_process=in_process,
                                settings=start.plan.settings, videos=start.videos,
                                default_limit=not no_timeout)
    if start.retried_videos:  # the redone videos' lines go back where their error lines were
        from ..runners.resume_check import put_back_in_place

        put_back_in_place(out, start.order, start.retried_videos)
    if not quiet:
        _err(f"{summary.succeeded} done, {summary.failed} failed, {summary.skipped} already in {out}"
             + (f" ({len(start.failed_before)} of them failed earlier: --retry-failed redoes them)"
                if start.failed_before else "")
             + (f"; {len(start.skipped_files)} file(s) skipped, not a video extension" if start.skipped_files else "")
             + (f"; {len(start.duplicates)} duplicate(s) of a listed video done once" if start.duplicates else ""))
        line = summary_line(finished, time.perf_counter() - started)
        if line:
            _err(line)
    if summary.failed or start.failed_before:
        raise typer.Exit(EXIT_BATCH_FAILURES)
