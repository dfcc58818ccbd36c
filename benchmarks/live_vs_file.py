"""CPU time of `avlocate run --live` vs. a file run of the same stream (red-team finding 18).

The stream is `samples/demo1.mp4` remuxed to MPEG-TS (no re-encoding; `--seconds` makes it longer
by playing it several times in a row, timestamps continuing). Each side is the whole command a
user runs, in a fresh process (`python -m avlocate run ...`), with the same model:

* file: `run STREAM.ts -f json`;
* live: `run - --live < STREAM.ts` (standard input: read once, events printed as they close).

What is measured is the CPU time (user + system) of the child process and everything it started,
from `resource.getrusage(RUSAGE_CHILDREN)`, not wall time: the machine may be shared, and CPU time
is what the finding is about. A start-up-only run (`python -m avlocate models`) is measured too,
so the ratio can be read with and without the fixed cost of importing torch. Both runs must find
the same event labels (checked). One run each unless `--repeat` (best of N).

    python benchmarks/live_vs_file.py [--seconds 20] [--repeat 1] [--model esgnet-demo]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def _cpu_of(cmd: list[str], stdin: Path | None = None) -> tuple[float, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.setdefault("HF_HUB_OFFLINE", "1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(stdin, "rb") if stdin is not None else open(os.devnull, "rb") as inp:
        done = subprocess.run(cmd, stdin=inp, cwd=REPO, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


def _make_stream(dst: Path, seconds: float) -> Path:
    import av
    from stream_fixtures import remux_to_ts

    src = REPO / "samples" / "demo1.mp4"
    with av.open(str(src)) as c:
        length = c.duration / av.time_base
    return remux_to_ts(src, dst, repeat=max(1, round(seconds / length)))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="about how long the stream is")
    ap.add_argument("--repeat", type=int, default=1, help="best of N per side")
    ap.add_argument("--model", default="esgnet-demo")
    args = ap.parse_args(argv)
    avl = [sys.executable, "-m", "avlocate"]
    with tempfile.TemporaryDirectory(prefix="avlocate-live-bench-") as tmp:
        ts = _make_stream(Path(tmp) / "stream.ts", args.seconds)
        import av

        with av.open(str(ts)) as c:
            length = c.duration / av.time_base
        load_before = os.getloadavg()[0]
        _cpu_of(avl + ["run", str(ts), "-f", "json", "--model", args.model, "-q"])  # untimed: warm the page cache
        startup = min(_cpu_of(avl + ["models"])[0] for _ in range(args.repeat))
        file_runs, live_runs = [], []
        for _ in range(args.repeat):
            cpu, out = _cpu_of(avl + ["run", str(ts), "-f", "json", "--model", args.model, "-q"])
            file_runs.append(cpu)
            file_labels = sorted(e["label"] for e in json.loads(out)["events"])
            cpu, out = _cpu_of(avl + ["run", "-", "--live", "--model", args.model, "-q"], stdin=ts)
            live_runs.append(cpu)
            live_labels = sorted(json.loads(line)["label"] for line in out.splitlines() if line.strip())
        load_after = os.getloadavg()[0]
    file_cpu, live_cpu = min(file_runs), min(live_runs)
    row = {
        "stream_seconds": round(length, 2), "model": args.model, "cpu_count": os.cpu_count(),
        "startup_cpu_s": round(startup, 2), "file_cpu_s": round(file_cpu, 2), "live_cpu_s": round(live_cpu, 2),
        "ratio_cpu": round(live_cpu / file_cpu, 2),
        "ratio_cpu_without_startup": round((live_cpu - startup) / max(1e-9, file_cpu - startup), 2),
        "same_labels": file_labels == live_labels, "load_before": round(load_before, 2),
        "load_after": round(load_after, 2),
    }
    print(json.dumps(row, indent=2))
    print(f"live / file CPU time: {row['ratio_cpu']}x ({row['ratio_cpu_without_startup']}x without the "
          f"{row['startup_cpu_s']} s start-up); same labels: {row['same_labels']}")
    return row


if __name__ == "__main__":
    main()
