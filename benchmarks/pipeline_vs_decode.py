"""The offline demo pipeline against pure PyAV decoding of the same file (issue: throughput).

Both sides decode the same video at the same fps/size and the same audio rate (the lite
extractor's request); the ratio says how much the features + head + decoding add on top of
decoding. Target: pipeline <= 1.5 x decode. Measured in one run, on the same machine, best of N.

    python benchmarks/pipeline_vs_decode.py [VIDEO] [--repeat 3]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import av
import torch


def pure_decode(path: Path, fps: float, width: int, height: int, rate: int) -> int:
    """Plain PyAV: every frame converted to RGB at the target size, audio resampled to mono."""
    kept = 0
    with av.open(str(path)) as container:
        streams = [s for s in (container.streams.video[:1] + container.streams.audio[:1])]
        if container.streams.video:
            container.streams.video[0].thread_type = "AUTO"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        next_t = 0.0
        for frame in container.decode(*streams):
            if isinstance(frame, av.VideoFrame):
                t = float(frame.pts * frame.time_base)
                if t + 1e-9 >= next_t:  # keep the frames that the fps grid would select
                    frame.to_ndarray(width=width, height=height, format="rgb24")
                    kept += 1
                    next_t += 1.0 / fps
            else:
                resampler.resample(frame)
    return kept


def best_of(fn, repeat: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    import avlocate
    from avlocate.pipeline.models import load_model

    ap = argparse.ArgumentParser()
    ap.add_argument("video", nargs="?", default=str(Path(__file__).resolve().parents[1] / "samples" / "demo1.mp4"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_model(None, "cpu")  # loaded once, outside the timing, as in a batch
    cfg = model.extractor.config
    decode_s = best_of(lambda: pure_decode(Path(args.video), cfg.fps, cfg.width, cfg.height, cfg.sample_rate), args.repeat)
    pipeline_s = best_of(lambda: avlocate.locate(args.video), args.repeat)
    print(f"video: {args.video}")
    print(f"pure PyAV decode (same fps/size/rate): {decode_s:.3f} s")
    print(f"avlocate demo pipeline (decode + features + head + events): {pipeline_s:.3f} s")
    print(f"ratio pipeline / decode: {pipeline_s / decode_s:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
