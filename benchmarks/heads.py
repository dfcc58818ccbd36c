"""Size and speed of the dense heads at both paper settings (issue 3, item 8), then the segment
heads (VSCG, AVSGN: see benchmarks/segment_heads.py).

For unav, ccnet and esgnet with I3D+VGGish (2048/128, T = 224) and ONE-PEACE (1536/1536, T = 256)
features: parameters, GFLOPs of one eval forward of a video of max_seq_len steps (batch 1,
torch.utils.flop_counter.FlopCounterMode: a multiply-add = 2 FLOPs, matmul/conv-type ops only,
the convention of the reference summary), and milliseconds per video on this CPU (one forward by
default: a forward takes seconds, so warm-up effects are small; --repeat/--warmup for more), and
on the GPU when there is one (median of 10 after 3 warm-up forwards). Weights are random (seeded): speed and
FLOPs do not depend on them. Where the reference folder holds the official counts they are shown
beside ours.

    python benchmarks/heads.py [--quick] [--threads N] [--heads unav,ccnet,esgnet] [--json out.json]

The default run takes about 2-3 minutes on 2 CPU cores; --quick (no CPU timing) about 20 s.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # segment_heads.py

from avlocate.heads.dense import CcnetHead, EsgnetHead, UnavHead  # noqa: E402

HEADS = {"unav": UnavHead, "ccnet": CcnetHead, "esgnet": EsgnetHead}
SETTINGS = ("i3d_vggish", "onepeace")


def build(name: str, setting: str, device: str = "cpu") -> torch.nn.Module:
    cls = HEADS[name]
    cfg = cls.config_class.onepeace() if setting == "onepeace" else cls.config_class()
    torch.manual_seed(0)
    with torch.device(device):
        return cls(cfg).eval()


def inputs(head: torch.nn.Module, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    c = head.cfg
    t = c.max_seq_len
    if str(device) == "meta":
        return (torch.empty(1, c.input_dim_visual, t, device="meta"), torch.empty(1, c.input_dim_audio, t, device="meta"))
    g = torch.Generator().manual_seed(1)
    return (torch.randn(1, c.input_dim_visual, t, generator=g).to(device),
            torch.randn(1, c.input_dim_audio, t, generator=g).to(device))


def count_size(name: str, setting: str) -> tuple[int, float, int]:
    """Parameters and GFLOPs, counted on the meta device (shapes only: no memory, no arithmetic)."""
    from torch.utils.flop_counter import FlopCounterMode

    head = build(name, setting, "meta")
    v, a = inputs(head, "meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        head(v, a)
    return sum(p.numel() for p in head.parameters()), counter.get_total_flops() / 1e9, head.cfg.max_seq_len


def time_ms(head: torch.nn.Module, v: torch.Tensor, a: torch.Tensor, warmup: int, repeat: int) -> float:
    cuda = v.is_cuda
    with torch.no_grad():
        for _ in range(warmup):
            head(v, a)
        times = []
        for _ in range(repeat):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            head(v, a)
            if cuda:
                torch.cuda.synchronize()
            times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def reference_counts() -> dict:
    root = Path(os.environ.get("AVLOCATE_REFERENCE_DIR", Path(__file__).resolve().parents[2] / "shared" / "reference"))
    path = root / "dense" / "summary.json"
    return json.loads(path.read_text())["models"] if path.is_file() else {}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes and GFLOPs only (plus GPU timing when present)")
    ap.add_argument("--repeat", type=int, default=1, help="timed CPU forwards per model (median; default 1)")
    ap.add_argument("--warmup", type=int, default=0, help="untimed CPU forwards before timing (default 0)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--heads", default="unav,ccnet,esgnet")
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--no-cpu-time", action="store_true", help="skip the CPU timing (GPU only)")
    ap.add_argument("--segment-heads", default="vscg,vscg-weakly,avsgn,avsgn-weakly",
                    help="segment heads measured after the dense ones by benchmarks/segment_heads.py ('' = none)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu_time = not (args.quick or args.no_cpu_time)
    gpu = torch.device("cuda") if torch.cuda.is_available() else None
    ref = reference_counts()
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", GPU {torch.cuda.get_device_name(0)}" if gpu else ", no GPU"))
    header = f"{'head':7} {'setting':11} {'T':>4} {'params (M)':>11} {'ref (M)':>9} {'GFLOPs':>8} {'ref':>8} {'CPU ms':>9}"
    print(header + (f" {'GPU ms':>8}" if gpu else ""))
    for name in args.heads.split(","):
        for setting in args.settings.split(","):
            params, gflops, length = count_size(name, setting)
            r = ref.get(name, {}).get(setting, {})
            row = {"head": name, "setting": setting, "T": length, "params": params, "gflops": gflops,
                   "ref_params": r.get("total_params"), "ref_gflops": r.get("forward_GFLOPs_counted"), "cpu_ms": None}
            if cpu_time or gpu is not None:
                head = build(name, setting)
                v, a = inputs(head, torch.device("cpu"))
            if cpu_time:
                row["cpu_ms"] = time_ms(head, v, a, args.warmup, args.repeat)
            if gpu is not None:
                head = head.to(gpu)
                gv, ga = v.to(gpu), a.to(gpu)
                row["gpu_ms"] = time_ms(head, gv, ga, 3 if not args.quick else 1, 10 if not args.quick else 3)
            rows.append(row)

            def fmt(x: float | None, spec: str) -> str:
                return "-" if x is None else format(x, spec)

            line = (f"{name:7} {setting:11} {row['T']:>4} {row['params'] / 1e6:>11.2f} "
                    f"{fmt(row['ref_params'] and row['ref_params'] / 1e6, '9.2f'):>9} {row['gflops']:>8.2f} "
                    f"{fmt(row['ref_gflops'], '8.2f'):>8} {fmt(row['cpu_ms'], '9.1f'):>9}")
            print(line + (f" {row['gpu_ms']:>8.2f}" if gpu else ""), flush=True)
    if args.segment_heads:
        from segment_heads import main as segment_main  # noqa: PLC0415 — a sibling script

        print()
        rows += segment_main(["--heads", args.segment_heads, "--repeat", "5" if args.quick else "50"]
                             + (["--threads", str(args.threads)] if args.threads else []))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
