"""Seconds of video per second of wall time, for each extractor family (issue 7, benchmarks).

A 640x360, 25 fps clip with AAC audio (44.1 kHz mono) is generated into a temporary folder; each
extractor streams it once (decode + features, the part of `avlocate run` that grows with the
video; the head and event decoding take milliseconds). Models are loaded before the clock starts
(a batch loads them once). The rate printed is ``video seconds / wall seconds`` ("x real time").

Families (``--families``): ``lite`` (the weight-free demo features), ``clip-clap`` at its default
sampling (AVE protocol: one CLIP frame and one CLAP window per second), ``clip-clap-zs`` (the
zero-shot model's sampling: a 1-s window every 0.5 s), ``vgg19-vggish`` (AVE: VGG-19 on 16 frames
per second) and ``i3d-vggish`` (UnAV-100: RAFT flow + two-stream I3D at 25 fps). Target (issue 7):
clip-clap at its default sampling >= 10x real time on 2 CPU cores.

Weights: real weights are used when they are installed (weights search path: $AVLOCATE_WEIGHTS,
avlocate/assets/weights/, $AVLOCATE_HOME); otherwise seeded random weights of the same architectures (speed does
not depend on the values) and the output says so. CLIP/CLAP need open_clip + laion_clap: when this
interpreter lacks them, the clip-clap rows are run by ``--clap-python`` (default
/work/clapvenv/bin/python when it exists) on the same clip, and their rows merged.

The two learned video families are far slower than real time on a CPU, so by default they run on
the first seconds of the clip only (``--heavy-seconds``; the rate is per video second either way).

    python benchmarks/realtime.py [--quick] [--threads 2] [--families lite,clip-clap,...] [--json out.json]

Default run (60-s clip; 10 s of vgg19-vggish, 2 s of i3d-vggish) on 2 idle CPU cores: roughly
10-15 minutes, mostly RAFT; --quick: about 2 minutes.
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

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before anything imports transformers / huggingface_hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FAMILIES = ("lite", "clip-clap", "clip-clap-zs", "vgg19-vggish", "i3d-vggish")
CLAP_PYTHON = Path("/work/clapvenv/bin/python")
TARGET_CLIP_CLAP = 10.0


# -- inputs ------------------------------------------------------------------------------------------
def make_video(path: Path, seconds: float, width: int = 640, height: int = 360, fps: int = 25,
               sample_rate: int = 44_100, preset: str = "veryfast", crf: int = 23, seed: int = 0) -> Path:
    """A clip with real content for the decoder (a textured background panning, a bright disc
    and a square moving across it, sensor-like noise) and sound (tones switching every 2 s, noise
    bursts), H.264 + AAC through avlocate.media.write_av. Frames are produced lazily."""
    from avlocate.media import write_av

    rng = np.random.default_rng(seed)
    tex = rng.integers(0, 256, size=(height // 4 + 1, width // 4 + 1, 3), dtype=np.uint8)
    tex = np.kron(tex, np.ones((4, 4, 1), dtype=np.uint8))[:height, :width]  # 4-px blocks
    big = np.concatenate([tex, tex], axis=1)
    yy, xx = np.mgrid[0:height, 0:width]
    n = int(round(seconds * fps))

    def frames():
        for k in range(n):
            off = (2 * k) % width
            img = big[:, off:off + width].copy()
            cx, cy = (40 + 6 * k) % width, height // 2 + int(height / 4 * np.sin(k / 15))
            img[(xx - cx) ** 2 + (yy - cy) ** 2 < (height // 8) ** 2] = (250, 40, 40)
            sx, sy = width - 1 - (3 * k) % width, height // 4
            img[max(sy - 20, 0):sy + 20, max(sx - 20, 0):sx + 20] = (30, 220, 60)
            img = img.astype(np.int16) + rng.integers(-6, 7, size=(height, width, 1), dtype=np.int16)
            yield np.clip(img, 0, 255).astype(np.uint8)

    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    freq = np.array([330.0, 440.0, 660.0, 880.0])[(t // 2).astype(int) % 4]
    audio = 0.25 * np.sin(2 * np.pi * freq * t)
    burst = (np.floor(t * 1.5) % 3 == 0)
    audio = audio + burst * 0.1 * rng.standard_normal(t.shape[0])
    write_av(path, frames(), fps, audio.astype(np.float32), sample_rate, crf=crf, options={"preset": preset})
    return path


def write_random_weights(kind: str, folder: Path, width_divisor: int = 1) -> str:
    """Seeded random weights of the real architectures under the names the extractors look up;
    real installed files win (the note says which was used). ``width_divisor`` N > 1: the
    extractors' test-size networks (1/N of the inner widths), always random, for smoke runs."""
    from avlocate.features.i3d_vggish import WEIGHT_FILES as I3D_FILES
    from avlocate.features.vgg19_vggish import WEIGHT_FILES as VGG_FILES
    from avlocate.weights.store import find_file

    files = {"i3d-vggish": I3D_FILES, "vgg19-vggish": VGG_FILES}[kind]
    if width_divisor == 1 and all(find_file(f) is not None for f in files.values()):
        return "real weights (" + ", ".join(str(find_file(f)) for f in files.values()) + ")"
    from avlocate.features.flow.raft import build_raft
    from avlocate.features.i3d import I3D, I3DConfig
    from avlocate.features.vgg19_vggish import VGG19Pool5
    from avlocate.features.vggish.network import VGGish, VGGishConfig
    from avlocate.weights.checkpoint import write_safetensors

    folder.mkdir(parents=True, exist_ok=True)
    d = width_divisor
    builders = {"i3d-rgb": lambda: I3D(I3DConfig(modality="rgb", width_divisor=d)),
                "i3d-flow": lambda: I3D(I3DConfig(modality="flow", width_divisor=d)),
                "raft-sintel": lambda: build_raft(d), "vggish": lambda: VGGish(VGGishConfig(width_divisor=d)),
                "vgg19": lambda: VGG19Pool5(d)}
    torch.manual_seed(0)
    for key, name in files.items():
        if not (folder / name).is_file():
            write_safetensors(builders[key]().state_dict(), folder / name)
    os.environ["AVLOCATE_WEIGHTS"] = str(folder)  # first in the search path
    if d > 1:
        return f"RANDOM weights of the test-size networks (width / {d})"
    missing = [f for f in files.values() if find_file(f) is None or find_file(f).parent == folder]
    return f"RANDOM weights (real {', '.join(missing)} not installed)"


def write_tiny_tokenizer(folder: Path) -> Path:
    """A byte-level BPE vocabulary (the 256 byte symbols + specials): lets CLAP's text tower run
    offline when roberta-base's files are absent (random weights anyway)."""
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    extra = [b for b in range(256) if b not in keep]
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in [chr(b) for b in keep] + [chr(256 + i) for i in range(len(extra))]:
        vocab[ch] = len(vocab)
    vocab["<mask>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return folder


def clip_clap_extractor(config, device: str = "cpu", tokenizer_dir: Path | None = None):  # noqa: ANN001, ANN201
    """(ClipClapExtractor, note): the installed CLIP/CLAP weights when found, else random-init
    encoders of the default architectures (open_clip ViT-B-32, LAION-CLAP HTSAT-tiny + RoBERTa)."""
    from avlocate.errors import WeightsError
    from avlocate.features.clip_clap import weights as W
    from avlocate.features.clip_clap.clap_audio import ClapEncoder
    from avlocate.features.clip_clap.clip_image import ClipEncoder
    from avlocate.features.clip_clap.extractor import ClipClapExtractor

    try:
        ex = ClipClapExtractor(config)
        ex.clip, ex.clap  # noqa: B018 - builds both from the installed files, or raises
        return ex, "real weights (" + "; ".join(f"{k}: {v}" for k, v in ex.provenance().items()) + ")"
    except WeightsError as err:
        why = str(err).split(";")[0]
    torch.manual_seed(0)
    clip = ClipEncoder.build(config.clip_arch, None, device=device)
    torch.manual_seed(1)
    clap = ClapEncoder.build(None, config.clap_amodel, device=device, tokenizer_dir=tokenizer_dir)
    return (ClipClapExtractor(config, clip_encoder=clip, clap_encoder=clap),
            f"RANDOM weights ({config.clip_arch} + {config.clap_amodel}; {why})")


# -- measuring ---------------------------------------------------------------------------------------
def build(family: str, work: Path, device: str, raft_iters: int = 20):  # noqa: ANN201
    """(extractor with its models loaded, note)."""
    if family == "lite":
        from avlocate.features.lite import LiteExtractor

        return LiteExtractor(), "no weights"
    if family in ("clip-clap", "clip-clap-zs"):
        from avlocate.features.clip_clap.extractor import ClipClapConfig

        cfg = ClipClapConfig(device=device) if family == "clip-clap" else \
            ClipClapConfig(hop_seconds=0.5, window_hops=2, device=device)
        return clip_clap_extractor(cfg, device)
    if family == "i3d-vggish":
        from avlocate.features.i3d_vggish import I3DVGGishConfig, I3DVGGishExtractor

        note = write_random_weights(family, work / "weights")
        ex = I3DVGGishExtractor(I3DVGGishConfig(raft_iterations=raft_iters))
        if raft_iters != 20:
            note += f"; RAFT {raft_iters} iterations instead of the protocol's 20"
        ex._models = {k: m.to(device) for k, m in ex.models().items()}  # load before the clock
        return ex, note
    if family == "vgg19-vggish":
        from avlocate.features.vgg19_vggish import VGG19VGGishConfig, VGG19VGGishExtractor

        note = write_random_weights(family, work / "weights")
        ex = VGG19VGGishExtractor(VGG19VGGishConfig(device=device))
        ex.models()
        return ex, note
    raise SystemExit(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")


def measure(extractor, video: Path) -> tuple[float, float, int]:  # noqa: ANN001
    """(video seconds, wall seconds, snippets) of one decode + extraction pass."""
    from avlocate.media import open_clip, probe

    t0 = time.perf_counter()
    vspec, aspec = extractor.media_request(probe(video))
    clip = open_clip(video, vspec, aspec)
    feats = extractor.extract(clip)
    wall = time.perf_counter() - t0
    return float(clip.duration), wall, feats.num_snippets


def clip_clap_breakdown(ex, video: Path) -> dict:  # noqa: ANN001
    """Where clip-clap's time goes, per video second: a decode-only pass (keeping the frames and
    samples the extractor uses), then CLIP (preprocess + encode) and CLAP on them, each timed alone."""
    from avlocate.media import open_clip

    c = ex.config
    clip = open_clip(video, *ex.media_request())
    n = ex.num_windows(float(clip.duration))
    wanted = {g for i in range(n) for g in ex.frame_indices(i)}
    t0 = time.perf_counter()
    frames, audio = [], []
    for chunk in clip.chunks(frames_per_chunk=16):
        keep = [k for k in range(chunk.frames.shape[0]) if chunk.first_frame + k in wanted]
        if keep:
            frames.append(chunk.frames[keep])
        audio.append(chunk.audio)
    t1 = time.perf_counter()
    pixels = ex.clip.preprocess_frames(torch.cat(frames))
    t2 = time.perf_counter()
    ex.clip.encode_images(pixels, c.image_batch)
    t3 = time.perf_counter()
    wave = torch.cat(audio)
    hop, win = round(c.hop_seconds * 48_000), round(c.window_seconds * 48_000)
    windows = [wave[i * hop:i * hop + win] for i in range(n) if i * hop + win <= wave.numel()]
    t4 = time.perf_counter()
    ex.clap.encode_audio(windows, c.audio_batch)
    t5 = time.perf_counter()
    d = float(clip.duration)
    return {"decode_s_per_s": (t1 - t0) / d, "clip_preprocess_s_per_s": (t2 - t1) / d,
            "clip_encode_s_per_s": (t3 - t2) / d, "clap_s_per_s": (t5 - t4) / d,
            "images": int(pixels.shape[0]), "clap_windows": len(windows)}


def have_clap_libs() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("open_clip", "laion_clap"))


def run_families(families: list[str], videos: dict[str, Path], work: Path, device: str,
                 breakdown: bool = True, raft_iters: int = 20) -> list[dict]:
    rows = []
    for fam in families:
        ex, note = build(fam, work, device, raft_iters)
        video = videos[fam]
        seconds, wall, snippets = measure(ex, video)
        row = {"family": fam, "device": device, "video_s": seconds, "wall_s": wall, "x_realtime": seconds / wall,
               "snippets": snippets, "weights": note, "video": video.name}
        rows.append(row)
        print_row(row)
        if fam.startswith("clip-clap") and breakdown:
            b = clip_clap_breakdown(ex, video)
            row["breakdown"] = b
            print(f"{'':13} per video second: decode {b['decode_s_per_s']:.3f} s, CLIP preprocess "
                  f"{b['clip_preprocess_s_per_s']:.3f} s + encode {b['clip_encode_s_per_s']:.3f} s ({b['images']} images), "
                  f"CLAP {b['clap_s_per_s']:.3f} s ({b['clap_windows']} windows, each repeat-padded to 10 s)", flush=True)
        del ex
    return rows


def print_row(row: dict) -> None:
    target = f"   target >= {TARGET_CLIP_CLAP:g}x: {'MET' if row['x_realtime'] >= TARGET_CLIP_CLAP else 'MISSED'}" \
        if row["family"] == "clip-clap" else ""
    print(f"{row['family']:13} {row['device']:5} {row['video_s']:7.1f} s video in {row['wall_s']:8.1f} s wall "
          f"= {row['x_realtime']:8.3f}x real time  ({row['snippets']} snippets; {row['weights']}){target}", flush=True)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="10-s clip, 1 s for the heavy families, RAFT 2 iterations (smoke test)")
    ap.add_argument("--seconds", type=float, default=60.0, help="clip length for lite and clip-clap (default 60)")
    ap.add_argument("--heavy-seconds", type=float, default=None,
                    help="clip length for vgg19-vggish / i3d-vggish (default 10 / 2)")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads (default: all cores)")
    ap.add_argument("--gpu", action="store_true", help="also measure on the GPU when there is one")
    ap.add_argument("--gpu-only", action="store_true", help="with --gpu: skip the CPU rows (benchmarks/gpu_check.sh)")
    ap.add_argument("--clap-python", default=str(CLAP_PYTHON) if CLAP_PYTHON.exists() else None,
                    help="interpreter with open_clip + laion_clap for the clip-clap rows")
    ap.add_argument("--workdir", type=Path, help="reuse/keep generated clips and weights here")
    ap.add_argument("--no-breakdown", action="store_true", help="skip the clip-clap time breakdown")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    ap.add_argument("--video-map", help=argparse.SUPPRESS)  # internal: family=path,... from the parent
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    families = [f for f in args.families.split(",") if f]
    if args.quick:
        args.seconds = min(args.seconds, 10.0)
    heavy = {"vgg19-vggish": 10.0, "i3d-vggish": 2.0}
    if args.heavy_seconds is not None or args.quick:
        heavy = {k: (1.0 if args.quick else args.heavy_seconds) for k in heavy}

    tmp = tempfile.TemporaryDirectory(prefix="avl_realtime_") if args.workdir is None else None
    work = args.workdir or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    if args.video_map:
        videos = {k: Path(v) for k, v in (item.split("=", 1) for item in args.video_map.split(","))}
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}"
              + (f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"), flush=True)
        videos = {}
        for fam in families:
            secs = heavy.get(fam, args.seconds)
            path = work / f"clip_{secs:g}s_640x360.mp4"
            if not path.exists():
                t0 = time.perf_counter()
                make_video(path, secs)
                print(f"generated {path.name}: {secs:g} s, 640x360, 25 fps H.264 (crf 23, veryfast), "
                      f"44.1 kHz mono AAC ({time.perf_counter() - t0:.1f} s)", flush=True)
            videos[fam] = path

    devices = ([] if args.gpu_only and args.gpu else ["cpu"]) + (["cuda"] if args.gpu and torch.cuda.is_available() else [])
    local = [f for f in families if f not in ("clip-clap", "clip-clap-zs") or have_clap_libs()]
    remote = [f for f in families if f not in local]
    rows = []
    for dev in devices:
        rows += run_families(local, videos, work, dev, not args.no_breakdown, 2 if args.quick else 20)
    if remote:
        if not args.clap_python:
            print(f"skipped {', '.join(remote)}: open_clip/laion_clap not installed here and no --clap-python")
        else:
            out = work / "clap_rows.json"
            cmd = [args.clap_python, str(Path(__file__).resolve()), "--families", ",".join(remote),
                   "--threads", str(args.threads), "--workdir", str(work), "--json", str(out),
                   "--video-map", ",".join(f"{f}={videos[f]}" for f in remote)] + (["--gpu"] if args.gpu else []) \
                + (["--gpu-only"] if args.gpu_only else []) \
                + (["--no-breakdown"] if args.no_breakdown else [])
            env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
            subprocess.run(cmd, check=True, env=env)
            rows += json.loads(out.read_text())
    if not args.video_map:
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if tmp is not None:
        tmp.cleanup()
    return rows


if __name__ == "__main__":
    main()
