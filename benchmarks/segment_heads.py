"""Size and speed of the segment heads (issue 4, item 5): VSCG and AVSGN, fully and weakly.

Parameters are counted two ways for VSCG. ``params`` is avlocate's module: the parameters its
forward reaches. ``paper convention`` adds the official module's layers that its forward never
uses (listed in avlocate.heads.segment.vscg / vscg_weakly, checked against the reference
checkpoint keys by the parity tests): the paper's "2.6 M" (TMM 2023, Table II, trainable
parameters) counts the official module, so that is the number to hold against it. AVSGN has no
published count (unknown). Speed: milliseconds per 10-segment window (batch 1, the unit the
sliding-window inference of avlocate.heads.segment.windows feeds), median of --repeat forwards
after --warmup, random seeded weights, on this CPU and on the GPU when there is one.

    python benchmarks/segment_heads.py [--repeat 50] [--threads N] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAPER_PARAMS = {"vscg": 2.6e6}  # VSCG paper, Table II (fully supervised); others unpublished


def build(name: str) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...], int]:
    """(head, one 10-segment input, parameters of the official module that ours leaves out)."""
    from avlocate.heads.segment.avsgn import AVSGN, AVSGNWeakly
    from avlocate.heads.segment.vscg import OFFICIAL_UNUSED_FULLY, VSCG
    from avlocate.heads.segment.vscg_weakly import OFFICIAL_UNUSED_WEAKLY, VSCGWeakly

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    if name.startswith("vscg"):
        head = (VSCG() if name == "vscg" else VSCGWeakly()).eval()
        c = head.config
        unused = OFFICIAL_UNUSED_FULLY if name == "vscg" else OFFICIAL_UNUSED_WEAKLY
        left_out = sum(int(torch.Size(s).numel()) for s in unused.values())
        side = int(round(c.num_cells ** 0.5))  # the 7 x 7 pool5 map
        x = (torch.randn(1, c.num_segments, c.audio_dim, generator=g),
             torch.randn(1, c.num_segments, side, side, c.visual_dim, generator=g))
        return head, x, left_out
    head = (AVSGN() if name == "avsgn" else AVSGNWeakly()).eval()
    c = head.config
    head.set_label_text(torch.randn(c.num_events, c.text_dim, generator=g),
                        torch.randn(c.num_events, c.text_dim, generator=g))
    x = (torch.randn(1, c.num_segments, c.audio_dim, generator=g), torch.randn(1, c.num_segments, c.visual_dim, generator=g))
    return head, x, 0


def time_ms(head: torch.nn.Module, x: tuple[torch.Tensor, ...], warmup: int, repeat: int) -> float:
    cuda = x[0].is_cuda
    with torch.inference_mode():
        for _ in range(warmup):
            head(*x)
        times = []
        for _ in range(repeat):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            head(*x)
            if cuda:
                torch.cuda.synchronize()
            times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heads", default="vscg,vscg-weakly,avsgn,avsgn-weakly")
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    gpu = torch.device("cuda") if torch.cuda.is_available() else None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", GPU {torch.cuda.get_device_name(0)}" if gpu else ", no GPU"))
    print(f"{'head':13} {'params (M)':>10} {'paper conv. (M)':>15} {'paper (M)':>9} {'diff':>7} "
          f"{'CPU ms/window':>13}" + (f" {'GPU ms':>7}" if gpu else ""))
    rows = []
    for name in args.heads.split(","):
        head, x, left_out = build(name)
        params = sum(p.numel() for p in head.parameters() if p.requires_grad)
        paper = PAPER_PARAMS.get(name)
        convention = params + left_out
        row = {"head": name, "params": params, "paper_convention_params": convention, "paper_params": paper,
               "paper_diff": None if paper is None else (convention - paper) / paper,
               "cpu_ms": time_ms(head, x, args.warmup, args.repeat)}
        if gpu is not None:
            row["gpu_ms"] = time_ms(head.to(gpu), tuple(t.to(gpu) for t in x), args.warmup, args.repeat)
        rows.append(row)
        diff = "-" if paper is None else f"{100 * row['paper_diff']:+.1f}%"
        print(f"{name:13} {params / 1e6:>10.3f} {convention / 1e6:>15.3f} {'-' if paper is None else f'{paper / 1e6:.1f}':>9} "
              f"{diff:>7} {row['cpu_ms']:>13.2f}" + (f" {row['gpu_ms']:>7.2f}" if gpu else ""), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
