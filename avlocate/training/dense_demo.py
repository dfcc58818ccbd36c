"""A small ESG-Net trained on lite features of synthetic videos: a candidate for the bundled demo.

Same data as the lite demo (avlocate.training.lite): synthetic videos with seeds 1000+, encoded
(lossless video, for reproducibility: see avlocate.training.lite) and decoded through the media
layer, lite features. Ground-truth audio-visual events (not the
single-modality distractors) become dense targets in feature steps via the lite Timeline; the
ESG-Net recipe of avlocate.training.dense trains it (focal + GIoU + L_mcls, warm-up + cosine,
EMA). The score threshold written into the card is chosen on separate validation videos (seeds
3000+): the one with the fewest missed events + false positives (tIoU >= 0.5, right label).
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..datasets.unav import Item
from ..metrics.evaluation import match_events
from .dense import build_head, recipe, train_head
from .lite import TRAIN_SEED_BASE

VALIDATION_SEED_BASE = 3000
_CACHE_VIDEO = "lossless"  # caches written before training videos were lossless are not reused

#: small ESG-Net: the paper's structure (ESI + MoDE m=4, n=2, alpha 0.3/0.6/0.9), narrow layers
DEMO_HEAD = dict(max_seq_len=128, embed_dim=64, num_heads=4, head_dim=64, guidance_hidden=128, mode_heads=2)


def synthetic_items(seeds: list[int], workdir: Path, log: Callable[[str], None], duration: float | None = None,
                    ) -> tuple[list[Item], list[dict], Any]:
    """Lite features + ground truth of synthetic videos (as lite.build_dataset, keeping the events).

    Seeds divisible by 4 get overlapping events: with lite's seed base 1000 that is lite's rule."""
    from ..features.lite import LiteExtractor
    from ..media import open_clip
    from ..synth import make_video
    from ..synth.classes import LABELS

    extractor = LiteExtractor()
    vspec, aspec = extractor.media_request()
    index = {c: i for i, c in enumerate(LABELS)}
    items, gts = [], []
    for n, seed in enumerate(seeds):
        path = workdir / f"v{seed}.mp4"
        gt = make_video(path, seed=seed, duration=duration, overlap=(seed % 4 == 0), lossless=True)
        feats = extractor.extract(open_clip(path, vspec, aspec))
        path.unlink()
        tl = feats.timeline
        segs = torch.tensor([[e["start"], e["end"]] for e in gt["events"]], dtype=torch.float64).reshape(-1, 2)
        items.append(Item(f"v{seed}", feats.visual.float(), feats.audio.float(), tl.to_index(segs).float(),
                          torch.tensor([index[e["label"]] for e in gt["events"]], dtype=torch.long),
                          float(gt["duration"])))
        gts.append(gt)
        if (n + 1) % 8 == 0:
            log(f"features of {n + 1}/{len(seeds)} videos")
    return items, gts, extractor


def detections_of(head: nn.Module, items: list[Item], timeline: Any, classes: list[str]) -> list[list]:
    """All events (any score) of every item, through the same path as ``avlocate run``."""
    from ..decode.dense import to_events
    from ..heads.dense.windows import locate_dense

    return [to_events(locate_dense(head, it.visual.t(), it.audio.t(), timeline.with_duration(it.duration)), classes)
            for it in items]


def errors_at(events: list[list], gts: list[dict], threshold: float) -> tuple[int, int]:
    """(missed events, false positives) summed over the videos, keeping events scored >= threshold."""
    missed = fps = 0
    for evs, gt in zip(events, gts):
        m = match_events([e for e in evs if e.score >= threshold], gt["events"], min_tiou=0.5)
        missed += len(m.missed)
        fps += len(m.false_positives)
    return missed, fps


def choose_threshold(head: nn.Module, items: list[Item], gts: list[dict], timeline: Any, classes: list[str]
                     ) -> tuple[float, dict[float, tuple[int, int]]]:
    """The middle of the thresholds with the fewest errors on ``items``."""
    events = detections_of(head, items, timeline, classes)
    grid = [round(0.05 * i, 2) for i in range(2, 19)]
    table = {t: errors_at(events, gts, t) for t in grid}
    best = min(sum(v) for v in table.values())
    good = [t for t in grid if sum(table[t]) == best]
    return good[len(good) // 2], table


def _cached_items(seeds: list[int], log: Callable[[str], None], duration: float | None, cache: Path | None
                  ) -> tuple[list[Item], list[dict]]:
    """synthetic_items, with per-video results kept in ``cache`` (tensors + JSON-like data only), so
    that a run with more videos only encodes the new ones."""
    stored: dict[str, Any] = {}
    if cache is not None and cache.is_file():
        data = torch.load(cache, weights_only=True)
        if data.get("duration") == duration and data.get("video") == _CACHE_VIDEO:
            stored = data["videos"]
    missing = [s for s in seeds if str(s) not in stored]
    if missing:
        with tempfile.TemporaryDirectory() as tmp:
            items, gts, _ = synthetic_items(missing, Path(tmp), log, duration)
        stored.update({str(s): {"item": asdict(it), "gt": gt} for s, it, gt in zip(missing, items, gts)})
        if cache is not None:
            torch.save({"duration": duration, "video": _CACHE_VIDEO, "videos": stored}, cache)
    return [Item(**stored[str(s)]["item"]) for s in seeds], [stored[str(s)]["gt"] for s in seeds]


def train_dense_demo(out_dir: Path, name: str = "esgnet-demo", num_videos: int = 256, val_videos: int = 48,
                     epochs: int = 80, seed: int = 0, log: Callable[[str], None] = print,
                     duration: float | None = None, cache_dir: Path | None = None, **train_overrides: Any) -> Path:
    """Generate, extract, train a small ESG-Net, choose the threshold, save safetensors + card.

    ``cache_dir`` keeps the extracted features between runs (re-training without re-encoding).
    Runs on one CPU thread, as the lite demo does, so that the same seed gives the same weights."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train_dense_demo(out_dir, name, num_videos, val_videos, epochs, seed, log, duration, cache_dir,
                                 **train_overrides)
    finally:
        torch.set_num_threads(threads)


def _train_dense_demo(out_dir: Path, name: str, num_videos: int, val_videos: int, epochs: int, seed: int,
                      log: Callable[[str], None], duration: float | None, cache_dir: Path | None,
                      **train_overrides: Any) -> Path:
    from ..decode.dense import DenseDecodeConfig
    from ..features.lite import LiteExtractor
    from ..synth.classes import LABELS
    from ..weights.store import save_weights
    from .dense import dense_card

    torch.manual_seed(seed)
    cache = Path(cache_dir) if cache_dir is not None else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    items, _ = _cached_items([TRAIN_SEED_BASE + i for i in range(num_videos)], log, duration,
                             cache / "train.pt" if cache else None)
    val_items, val_gts = _cached_items([VALIDATION_SEED_BASE + i for i in range(val_videos)], log, duration,
                                       cache / "val.pt" if cache else None)
    extractor = LiteExtractor()
    classes = list(LABELS)
    tl = extractor.timeline
    head = build_head("esgnet", "i3d_vggish", len(classes), extractor.visual_dim, extractor.audio_dim,
                      fps=tl.fps, window=tl.window, stride=tl.stride, **DEMO_HEAD)
    cfg = recipe("esgnet", epochs=epochs, batch_size=8, ema_decay=0.99, seed=seed, **train_overrides)
    ema, history = train_head(head, items, cfg, log)
    model = ema.module.eval()
    threshold, table = choose_threshold(model, val_items, val_gts, tl, classes)
    log(f"threshold {threshold}: (missed, false positives) on validation = {table[threshold]}")
    provenance = {"trained_by": "avlocate train-demo --head esgnet (avlocate.training.dense_demo.train_dense_demo)",
                  "command": f"avlocate train-demo --head esgnet --out weights --seed {seed} --videos {num_videos} "
                             f"--val-videos {val_videos} --epochs {epochs}",
                  "data": f"{num_videos} synthetic videos, seeds {TRAIN_SEED_BASE}-{TRAIN_SEED_BASE + num_videos - 1}; "
                          f"threshold chosen on seeds {VALIDATION_SEED_BASE}-{VALIDATION_SEED_BASE + val_videos - 1}",
                  "train_config": asdict(cfg), "steps": len(history), "final_loss": history[-1]["final_loss"],
                  "validation_errors": {str(k): list(v) for k, v in table.items()}, "metric": "unknown",
                  "licence": "Apache-2.0"}
    card = dense_card(name, "esgnet", model, "i3d_vggish", classes, provenance)
    card.extractor = extractor.name
    card.feature_protocol = extractor.protocol()
    card.decode = {"kind": "dense", **asdict(DenseDecodeConfig()), "threshold": threshold}
    card.description = ("DEMO ONLY: a small ESG-Net (paper architecture, narrow layers) trained on synthetic events; "
                        "it knows 4 made-up classes and nothing about real videos.")
    return save_weights(model.state_dict(), card, Path(out_dir))
