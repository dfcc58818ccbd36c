"""Training speed of the dense heads: steps per second and the share of time spent waiting for data.

A UnAV-100-format data set of random features is written into a temporary folder (``.npy`` files
in the official layout, videos of 0.5-1.5 x max_seq_len steps so that the official crops run),
then ``avlocate.training.dense.train_head`` (the loop ``avlocate train`` runs: crops, targets,
prefetching loader, AdamW, schedule, EMA) trains for ``--steps`` steps after ``--warmup-steps``
untimed ones. Printed per head: steps/s, videos/s, and the data-wait share (time the loop spent
blocked on the loader / training time; near 0 when the prefetch thread keeps up).

Sizes: ``--size paper`` is the paper setting (I3D+VGGish dims 2048/128, T = 224, 100 classes, batch
of the recipe); ``--size small`` a narrow model (the CPU default: a paper-size step takes seconds
on a CPU). Weights are random: speed does not depend on them.

    python benchmarks/train_speed.py [--device auto|cpu|cuda] [--heads unav,ccnet,esgnet]
        [--size small|paper] [--precision fp32|bf16|fp16|auto] [--prefetch 2] [--cache memory|disk]
        [--steps 20] [--json out.json]

Default on 2 CPU cores (small size, 3 heads, 20 steps each): about 1-2 minutes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SMALL = dict(max_seq_len=64, embed_dim=64, num_heads=2, head_dim=64)
SMALL_ESG = dict(guidance_hidden=64, mode_heads=2)


def make_dataset(root: Path, videos: int, max_len: int, dims: tuple[int, int], classes: int, seed: int = 0
                 ) -> tuple[Path, Path]:
    """i3d_vggish layout: <id>_rgb.npy + <id>_flow.npy (visual halves) and <id>_vggish.npy."""
    rng = np.random.default_rng(seed)
    feats = root / "features"
    feats.mkdir(parents=True, exist_ok=True)
    fps, window, stride = 25.0, 24, 8
    database = {}
    for i in range(videos):
        vid = f"v{i:05d}"
        t = int(rng.integers(max_len // 2, 3 * max_len // 2 + 1))
        visual = rng.standard_normal((t, dims[0]), dtype=np.float32)
        np.save(feats / f"{vid}_rgb.npy", visual[:, : dims[0] // 2])
        np.save(feats / f"{vid}_flow.npy", visual[:, dims[0] // 2:])
        np.save(feats / f"{vid}_vggish.npy", rng.standard_normal((t, dims[1]), dtype=np.float32))
        anns = []
        for _ in range(int(rng.integers(1, 4))):
            s = float(rng.uniform(0, t - 4))
            e = float(min(t - 1, s + rng.uniform(2, t / 2)))
            k = int(rng.integers(0, classes))
            anns.append({"label": f"class{k}", "label_id": k,
                         "segment": [(x * stride + 0.5 * window) / fps for x in (s, e)]})
        database[vid] = {"subset": "train", "duration": (t * stride + window) / fps, "annotations": anns}
    # every class named once so that the head has ``classes`` outputs
    database["names"] = {"subset": "none", "duration": 1.0,
                         "annotations": [{"label": f"class{k}", "label_id": k, "segment": [0, 1]}
                                         for k in range(classes)]}
    path = root / "annotations.json"
    path.write_text(json.dumps({"database": database}))
    return path, feats


def measure(head_name: str, ann: Path, feats: Path, size: str, device: str, precision: str, prefetch: int,
            cache: str, steps: int, warmup_steps: int, batch_size: int | None) -> dict:
    from avlocate.datasets.unav import class_names, load_annotations
    from avlocate.training.dense import build_head, recipe, train_head
    from avlocate.training.loader import load_training_items, materialize

    database = load_annotations(ann)
    classes = class_names(database)
    items = load_training_items(database, feats, "train", "i3d_vggish", cache, log=lambda s: None)
    first = materialize(items[0])
    overrides = {} if size == "paper" else {**SMALL, **(SMALL_ESG if head_name == "esgnet" else {})}
    rows = {}
    for phase, n in (("warmup", warmup_steps), ("timed", steps)):
        if n <= 0:
            continue
        torch.manual_seed(0)
        with torch.device(device):  # built where it trains: a paper-size init on the CPU takes seconds
            head = build_head(head_name, "i3d_vggish", len(classes), first.visual.shape[1], first.audio.shape[1],
                              **overrides)
        cfg = recipe(head_name, max_steps=n, epochs=10 ** 6,
                     **({"batch_size": batch_size} if batch_size else {}))
        stats: dict = {}
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        train_head(head, items, cfg, log=lambda s: None, precision=precision, progress=False, prefetch=prefetch,
                   stats=stats)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        rows[phase] = stats
        batch = cfg.batch_size
    s = rows["timed"]
    return {"head": head_name, "size": size, "device": device, "precision": s["precision"], "prefetch": prefetch,
            "cache": cache, "batch_size": batch, "T": head.cfg.max_seq_len, "classes": len(classes),
            "steps": int(s["steps"]), "train_s": s["train_s"], "steps_per_s": s["steps"] / s["train_s"],
            "videos_per_s": s["steps"] * batch / s["train_s"], "data_wait_share": s["wait_s"] / s["train_s"]}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto (cuda when there is one), cpu or cuda[:N]")
    ap.add_argument("--heads", default="unav,ccnet,esgnet")
    ap.add_argument("--size", choices=("small", "paper"), default=None, help="default: paper on a GPU, small on a CPU")
    ap.add_argument("--precision", default="fp32", help="fp32, bf16, fp16 (CUDA) or auto; several comma-separated")
    ap.add_argument("--prefetch", type=int, default=2, help="batches prepared ahead by the loader thread (0 = none)")
    ap.add_argument("--cache", choices=("auto", "memory", "disk"), default="memory")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per head")
    ap.add_argument("--warmup-steps", type=int, default=2, help="untimed steps first (kernels, allocator)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the head's recipe (16, 16, 9)")
    ap.add_argument("--videos", type=int, default=None, help="videos in the generated set (default: 4 batches)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--workdir", type=Path, help="keep the generated data here")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    size = args.size or ("paper" if device.startswith("cuda") else "small")
    max_len = 224 if size == "paper" else SMALL["max_seq_len"]
    dims = (2048, 128) if size == "paper" else (64, 32)
    classes = 100 if size == "paper" else 10
    videos = args.videos or 4 * (args.batch_size or 16)
    name = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else "CPU"
    print(f"torch {torch.__version__}, device {device} ({name}), {torch.get_num_threads()} CPU threads, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    tmp = tempfile.TemporaryDirectory(prefix="avl_train_speed_") if args.workdir is None else None
    root = args.workdir or Path(tmp.name)
    t0 = time.perf_counter()
    ann, feats = make_dataset(root, videos, max_len, dims, classes)
    print(f"data: {videos} videos of {max_len // 2}-{3 * max_len // 2} steps, dims {dims[0]}/{dims[1]}, "
          f"{classes} classes ({time.perf_counter() - t0:.1f} s)", flush=True)
    rows = []
    print(f"{'head':7} {'size':6} {'precision':9} {'batch':>5} {'steps/s':>8} {'videos/s':>9} {'data wait':>9}")
    for head in [h for h in args.heads.split(",") if h]:
        for precision in args.precision.split(","):
            row = measure(head, ann, feats, size, device, precision, args.prefetch, args.cache, args.steps,
                          args.warmup_steps, args.batch_size)
            row["device_name"] = name
            rows.append(row)
            print(f"{head:7} {size:6} {row['precision']:9} {row['batch_size']:>5} {row['steps_per_s']:>8.2f} "
                  f"{row['videos_per_s']:>9.1f} {100 * row['data_wait_share']:>8.1f}%", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if tmp is not None:
        tmp.cleanup()
    return rows


if __name__ == "__main__":
    main()
