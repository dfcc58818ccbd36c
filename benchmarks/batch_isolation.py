"""What `avlocate batch`'s default isolation costs: a worker process vs. `--in-process`.

The bundled samples (samples/*.mp4, short clips) are batched twice with the same model, each time
as the whole command a user runs (`python -m avlocate batch DIR --out R.jsonl`, a fresh process):
by default (one supervised worker process, started once, its model loaded once in its warm-up,
reused for every video) and with `--in-process` (everything inside the batch process). It prints
both wall times and their ratio (target: default / in-process <= 1.05), checks that both runs
found the same events, and prints the load average before and after (the machine may be shared).

    python benchmarks/batch_isolation.py [--model esgnet-demo] [--quick]

`--quick`: one sample only (a smoke test; the ratio then mostly measures start-up).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.05


def _batch(folder: Path, out: Path, model: str, extra: list[str]) -> float:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "avlocate", "batch", str(folder), "--out", str(out),
                           "--model", model, "-q", *extra], cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"batch {' '.join(extra) or '(default)'} failed ({done.returncode}): {done.stderr.strip()}")
    return wall


def _events(out: Path) -> dict[str, list]:
    return {Path(r["video"]).name: r["events"] for r in map(json.loads, out.read_text().splitlines())}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="esgnet-demo")
    ap.add_argument("--quick", action="store_true", help="one sample only")
    args = ap.parse_args(argv)
    samples = sorted((REPO / "samples").glob("*.mp4"))[: 1 if args.quick else None]
    with tempfile.TemporaryDirectory(prefix="avlocate-isolation-") as tmp:
        folder = Path(tmp) / "videos"
        folder.mkdir()
        for s in samples:
            (folder / s.name).symlink_to(s)
        load_before = os.getloadavg()[0]
        # Untimed: warms the page cache (Python, torch, the weights) for both timed runs alike.
        _batch(folder, Path(tmp) / "warm.jsonl", args.model, ["--in-process"])
        in_process = _batch(folder, Path(tmp) / "in_process.jsonl", args.model, ["--in-process"])
        default = _batch(folder, Path(tmp) / "default.jsonl", args.model, [])
        load_after = os.getloadavg()[0]
        same = _events(Path(tmp) / "in_process.jsonl") == _events(Path(tmp) / "default.jsonl")
    ratio = default / in_process
    print(f"{len(samples)} bundled samples, model {args.model}, {os.cpu_count()} CPUs; "
          f"load average {load_before:.1f} before, {load_after:.1f} after")
    print(f"wall: --in-process {in_process:.2f} s, default (worker process) {default:.2f} s; "
          f"ratio {ratio:.3f} (target <= {TARGET}: {'met' if ratio <= TARGET else 'MISSED'}); "
          f"events equal: {'yes' if same else 'NO'}")
    return {"in_process_s": in_process, "default_s": default, "ratio": ratio, "same_events": same,
            "load": [load_before, load_after]}


if __name__ == "__main__":
    main()
