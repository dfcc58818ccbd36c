"""``avlocate samples make`` and ``avlocate train-demo``: synthetic videos with ground truth, and the
demo models retrained on them."""
from __future__ import annotations

from pathlib import Path

import typer

from ..errors import OutputError, UsageError
from .app import _err, app, samples_app


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
