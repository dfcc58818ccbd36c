"""Batching across videos (``batch --videos-in-flight K``): forwards, rows per forward, wall time.

N generated clips (same size and length) are extracted twice by the vgg19-vggish extractor
(AVE protocol: VGG-19 on 16 frames per second + VGGish), with its models loaded before the clock:
one video at a time, then K videos in flight sharing the networks (avlocate/in_flight.py). It
prints how many forwards each network ran and their mean rows, the wall times and their ratio,
and checks that both runs give the same features. The point of sharing is larger batches for a
GPU (``--device cuda``); on a CPU, where one video already keeps the cores busy, expect a wall
ratio near 1 (the gain is overlapping one video's decoding with another's inference).

    python benchmarks/in_flight.py [--videos 4] [--in-flight 4] [--seconds 4] [--device cpu|cuda] [--quick]

Weights: the installed ones when present, else seeded random weights (speed does not depend on
the values).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realtime import make_video, write_random_weights  # noqa: E402


def _extract(ex, video: Path):  # noqa: ANN001, ANN202
    from avlocate.media import open_clip, probe

    vspec, aspec = ex.media_request(probe(video))
    return ex.extract(open_clip(video, vspec, aspec))


def _counting(ex) -> dict[str, list[int]]:  # noqa: ANN001
    """Rows of every forward of each network, recorded by pre-hooks."""
    rows: dict[str, list[int]] = {}
    for name, module in ex.models().items():
        rows[name] = []
        module.register_forward_pre_hook(lambda _m, args, name=name: rows[name].append(int(args[0].shape[0])))
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--in-flight", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--quick", action="store_true", help="2 videos of 2 s, 2 in flight")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args(argv)
    if args.quick:
        args.videos, args.in_flight, args.seconds = 2, 2, 2.0
    torch.set_num_threads(args.threads)
    if args.workdir is not None:
        return _run(args, args.workdir)
    # The random VGG-19 weights alone are ~550 MB: never leave them behind in /tmp.
    with tempfile.TemporaryDirectory(prefix="avlocate-in-flight-") as tmp:
        return _run(args, Path(tmp))


def _run(args: argparse.Namespace, work: Path) -> dict:
    from avlocate.features.vgg19_vggish import VGG19VGGishConfig, VGG19VGGishExtractor
    from avlocate.runners.in_flight import InFlightCounter, run_in_flight, share_extractor
    work.mkdir(parents=True, exist_ok=True)
    videos = []
    for i in range(args.videos):
        path = work / f"clip{i}_{args.seconds:g}s.mp4"
        if not path.is_file():
            make_video(path, args.seconds, width=320, height=240, seed=i)
        videos.append(path)
    note = write_random_weights("vgg19-vggish", work / "weights")
    config = VGG19VGGishConfig(device=args.device)
    print(f"{args.videos} clips of {args.seconds:g} s (320x240, 25 fps), vgg19-vggish on {args.device}, "
          f"{args.threads} torch threads; {note}")

    alone = VGG19VGGishExtractor(config)
    rows_alone = _counting(alone)
    t0 = time.perf_counter()
    want = {str(v): _extract(alone, v) for v in videos}
    wall_alone = time.perf_counter() - t0

    shared_ex = VGG19VGGishExtractor(config)
    counter = InFlightCounter()
    shared = share_extractor(shared_ex, counter)
    t0 = time.perf_counter()
    got = {r["video"]: r["features"] for r in run_in_flight(
        [str(v) for v in videos], lambda v: {"video": v, "features": _extract(shared_ex, Path(v))},
        args.in_flight, counter)}
    wall_shared = time.perf_counter() - t0

    same = all(torch.allclose(got[k].visual, want[k].visual, atol=1e-4, rtol=1e-4)
               and torch.allclose(got[k].audio, want[k].audio, atol=1e-4, rtol=1e-4) for k in want)
    print(f"{'network':<8} {'forwards alone':>15} {'rows/fwd':>9} {'forwards shared':>16} {'rows/fwd':>9}")
    out = {"wall_alone_s": wall_alone, "wall_shared_s": wall_shared, "same_features": same, "networks": {}}
    for name, co in shared.items():
        n_alone, r_alone = len(rows_alone[name]), sum(rows_alone[name])
        print(f"{name:<8} {n_alone:>15} {r_alone / max(n_alone, 1):>9.1f} {co.calls:>16} {co.rows / max(co.calls, 1):>9.1f}")
        out["networks"][name] = {"forwards_alone": n_alone, "forwards_shared": co.calls, "rows": co.rows}
    print(f"wall: one at a time {wall_alone:.1f} s, {args.in_flight} in flight {wall_shared:.1f} s "
          f"(ratio {wall_alone / wall_shared:.2f}x); features equal: {'yes' if same else 'NO'}")
    return out


if __name__ == "__main__":
    main()
