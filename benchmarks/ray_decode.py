"""Where Ray decodes (``batch --engine ray --ray-decode tasks|actor``): wall time and equal lines.

N generated 640x360 clips go through the default model on a private local Ray instance twice:
decoded by Ray tasks on CPU workers that stream the chunks to the model actors through the object
store (``tasks``, the default), and decoded on a thread inside each model actor (``actor``). It
prints both wall times, their ratio, and checks that both runs wrote the same events. On one
machine ``tasks`` pays for the object store and gains nothing (the same cores decode); the split
is for clusters, where model actors sit on GPU nodes and decoding spreads over CPU nodes.

    python benchmarks/ray_decode.py [--videos 4] [--seconds 30] [--cpus 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realtime import make_video  # noqa: E402


def _events(path: Path) -> dict[str, list]:
    return {json.loads(line)["video"]: json.loads(line)["events"] for line in path.read_text().splitlines()}


def main(argv: list[str] | None = None) -> dict:
    import ray

    from avlocate.runners.ray.engine import run_batch_ray

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="avl_ray_decode_") as tmp:
        folder = Path(tmp) / "videos"
        folder.mkdir()
        for i in range(args.videos):
            make_video(folder / f"clip{i}.mp4", args.seconds, seed=i)
        print(f"{args.videos} clips of {args.seconds:g} s (640x360, 25 fps), default model, local Ray with "
              f"{args.cpus} CPUs")
        ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR")
        try:
            walls, lines = {}, {}
            for decode in ("actor", "tasks"):
                out = Path(tmp) / f"{decode}.jsonl"
                t0 = time.perf_counter()
                summary = run_batch_ray(folder, out, {"model": None, "device": "cpu", "threshold": None},
                                        decode=decode)
                walls[decode] = time.perf_counter() - t0
                lines[decode] = _events(out)
                print(f"--ray-decode {decode:<6} {walls[decode]:6.1f} s wall, {summary.succeeded} done, "
                      f"{summary.failed} failed")
        finally:
            ray.shutdown()
    same = lines["actor"] == lines["tasks"]
    print(f"ratio tasks / actor wall: {walls['tasks'] / walls['actor']:.2f}; same events: {'yes' if same else 'NO'}")
    return {"wall_s": walls, "same_events": same}


if __name__ == "__main__":
    main()
