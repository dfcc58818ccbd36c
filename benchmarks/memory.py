"""Peak memory of `avlocate run` on a short and a long video (issue 7, benchmarks).

Each case runs in a fresh child process; its peak resident set size is the kernel's ``ru_maxrss``
of that child (``os.wait4``), so the parent's own memory never counts. Cases:

* ``lite``: ``python -m avlocate run VIDEO --format json`` (the default model, esgnet-demo: the
  weight-free lite extractor + a small ESG-Net head), exactly the CLI a user runs;
* ``clip-clap``: what ``avlocate run VIDEO --model zeroshot --labels ...`` runs
  (``load("zeroshot", ...).locate``: the clip-clap extractor, 1-s windows every 0.5 s, CLIP on one
  frame and CLAP on one second of sound per window), started by ``python -c`` because the
  encoders are built here with seeded random weights when the real CLIP/CLAP files are not
  installed (the output says which). Like ``avlocate run``, the child first pins glibc's mmap
  threshold (avlocate/allocator.py). It needs open_clip + laion_clap: run by ``--clap-python``.

Videos are generated once into the work folder (cached across runs with ``--workdir``): 320x180,
10 fps H.264 (x264 ultrafast, crf 28), 16 kHz mono AAC: small and cheap to make, but decoded by
the same media path as any other file (the extractors resample to their own fps/size/rate).
Target (issue 7): the 60-minute peak within 10 % of the 1-minute peak. The clip-clap long case
costs 2-7 s of wall time per video second on 2 shared cores (zero-shot sampling: two CLIP frames
and two 10-s-padded CLAP windows per second), hence its own ``--clap-minutes``.

    python benchmarks/memory.py [--quick] [--minutes 60] [--clap-minutes 5] [--workdir DIR]

Default run: ~2 min to generate, ~10 min lite, clip-clap 1 + 5 min: ~10-40 min on 2 cores;
--quick (1 and 3 minutes, lite only unless --clap-minutes is given) about 1 minute.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from realtime import CLAP_PYTHON, make_video  # noqa: E402

LABELS = "bell, siren, engine, drum"
TOLERANCE = 0.10

# The clip-clap child: the zero-shot model of `avlocate run --model zeroshot`, its encoders built
# by benchmarks/realtime.py (installed weights when found, else seeded random ones).
CLAP_CHILD = """
import json, sys, torch
from avlocate.allocator import pin_mmap_threshold
pin_mmap_threshold()  # what `avlocate run` does first (avlocate/cli.py main)
sys.path.insert(0, {bench!r})
torch.set_num_threads({threads})
from pathlib import Path
from realtime import clip_clap_extractor, write_tiny_tokenizer
from avlocate.pipeline.models import load
from avlocate.pipeline.options import RunOptions
from avlocate.zeroshot.model import default_extractor_config
tok = write_tiny_tokenizer(Path({work!r}) / "tokenizer")
ex, note = clip_clap_extractor(default_extractor_config(device="cpu"), "cpu", tokenizer_dir=tok)
r = load("zeroshot", RunOptions(labels={labels!r}, device="cpu"), extractor=ex).locate({video!r})
print(json.dumps({{"duration": r.duration, "events": len(r.events), "weights": note, "timing": r.timing}}))
"""


def peak_rss(cmd: list[str], env: dict[str, str], work: Path) -> tuple[float, float, str]:
    """(peak RSS in MiB, wall seconds, stdout) of one child process, reaped with os.wait4 so that
    its own rusage (not the maximum over all children) is read."""
    out_path, err_path = work / "child.out", work / "child.err"
    t0 = time.perf_counter()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"child failed ({proc.returncode}): {' '.join(cmd[:4])} ...\n{err_path.read_text()[-2000:]}")
    return usage.ru_maxrss / 1024.0, wall, out_path.read_text()


def run_case(kind: str, video: Path, work: Path, python: str, threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": str(threads)}
    if kind == "lite":
        cmd = [python, "-m", "avlocate", "run", str(video), "--format", "json", "--quiet"]
    else:
        code = CLAP_CHILD.format(bench=str(Path(__file__).resolve().parent), threads=threads, work=str(work),
                                 labels=LABELS, video=str(video))
        cmd = [python, "-c", code]
    rss, wall, out = peak_rss(cmd, env, work)
    text = out.strip()
    info = json.loads(text if kind == "lite" else text.splitlines()[-1])  # the CLI pretty-prints
    return {"extractor": kind, "video": video.name, "duration_s": info.get("duration"), "peak_rss_mib": rss,
            "wall_s": wall, "events": len(info["events"]) if isinstance(info.get("events"), list) else info.get("events"),
            "weights": info.get("weights", "bundled demo model")}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 vs 3 minutes, lite only (unless --clap-minutes)")
    ap.add_argument("--minutes", type=float, default=60.0, help="long video for lite (default 60)")
    ap.add_argument("--clap-minutes", type=float, default=None, help="long video for clip-clap (default 5; 0 = skip)")
    ap.add_argument("--short-minutes", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--clap-python", default=str(CLAP_PYTHON) if CLAP_PYTHON.exists() else None,
                    help="interpreter with open_clip + laion_clap (default /work/clapvenv/bin/python if present)")
    ap.add_argument("--workdir", type=Path, help="keep the generated videos here (reused when present)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--skip-lite", action="store_true", help="only the clip-clap cases")
    args = ap.parse_args(argv)
    if args.quick:
        args.minutes = min(args.minutes, 3.0)
    clap_minutes = args.clap_minutes if args.clap_minutes is not None else (0.0 if args.quick else 5.0)
    tmp = tempfile.TemporaryDirectory(prefix="avl_memory_") if args.workdir is None else None
    work = args.workdir or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)

    def video(minutes: float) -> Path:
        path = work / f"long_{minutes:g}min_320x180_10fps.mp4"
        if not path.exists():
            t0 = time.perf_counter()
            part = path.with_suffix(".part.mp4")
            make_video(part, minutes * 60, width=320, height=180, fps=10, sample_rate=16_000, preset="ultrafast", crf=28)
            part.replace(path)
            print(f"generated {path.name}: {minutes:g} min, 320x180, 10 fps H.264 (ultrafast, crf 28), 16 kHz mono AAC, "
                  f"{path.stat().st_size / 2**20:.1f} MiB, in {time.perf_counter() - t0:.0f} s", flush=True)
        return path

    cases = [] if args.skip_lite else [("lite", args.short_minutes), ("lite", args.minutes)]
    if clap_minutes > 0:
        if args.clap_python:
            cases += [("clip-clap", args.short_minutes), ("clip-clap", clap_minutes)]
        else:
            print("skipped clip-clap: no interpreter with open_clip + laion_clap (--clap-python)")
    print(f"{os.cpu_count()} cores, {args.threads} threads per child; peak RSS = ru_maxrss of each child", flush=True)
    rows = []
    for kind, minutes in cases:
        python = sys.executable if kind == "lite" else args.clap_python
        row = run_case(kind, video(minutes), work, python, args.threads)
        row["minutes"] = minutes
        rows.append(row)
        print(f"{kind:9} {minutes:5g} min video: peak RSS {row['peak_rss_mib']:8.1f} MiB, {row['wall_s']:7.1f} s wall "
              f"({row['duration_s']:.1f} s decoded, {row['events']} events; {row['weights']})", flush=True)
    for kind in ("lite", "clip-clap"):
        mine = [r for r in rows if r["extractor"] == kind]
        if len(mine) == 2:
            short, long = mine
            ratio = long["peak_rss_mib"] / short["peak_rss_mib"]
            ok = ratio <= 1 + TOLERANCE
            print(f"{kind:9} peak {long['minutes']:g} min / {short['minutes']:g} min = {ratio:.3f} "
                  f"(target <= {1 + TOLERANCE:.2f}{'' if long['minutes'] >= 60 else ', run at ' + format(long['minutes'], 'g') + ' min, not 60'}): "
                  f"{'MET' if ok else 'MISSED'}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if tmp is not None:
        tmp.cleanup()
    return rows


if __name__ == "__main__":
    main()
