"""Reproducible training of the offline demo model (``lite-demo``) on synthetic videos.

Videos are generated with seeds 1000, 1001, ... (the committed samples use 1-3 and the tests
500-599, so neither is ever trained on), encoded to H.264 (lossless) / AAC and decoded again through
the real media layer. The video is lossless because x264 did not always repeat its bytes for the
same frames (avlocate/synth/encode.py): with lossy video the features, and so the weights, of a
re-run could differ in the 5th decimal. The end-to-end tests run the model on ordinary lossy
(crf 28) videos, so the compression gap is tested, not assumed.

Targets per snippet (at its centre time): audio-visual (the class's object visible AND its sound
audible), plus auxiliary audible-only and visible-only targets for the two evidence branches —
those tell each branch what its modality alone shows, which is what lets the soft-minimum reject
single-modality distractors.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from ..features.lite import LiteExtractor
from ..heads.lite import LiteAVHead, LiteHeadConfig
from ..weights.card import ModelCard
from ..weights.store import save_weights

TRAIN_SEED_BASE = 1000


def _interval_targets(centres: torch.Tensor, intervals: list[tuple[int, float, float]], num_classes: int) -> torch.Tensor:
    target = torch.zeros(centres.numel(), num_classes)
    for k, start, end in intervals:
        target[(centres >= start) & (centres < end), k] = 1.0
    return target


def targets_from_ground_truth(gt: dict, classes: list[str], centres: torch.Tensor) -> dict[str, torch.Tensor]:
    index = {c: i for i, c in enumerate(classes)}
    av = [(index[e["label"]], e["start"], e["end"]) for e in gt["events"]]
    heard = av + [(index[d["label"]], d["start"], d["end"]) for d in gt["distractors"] if d["modality"] == "audio"]
    seen = av + [(index[d["label"]], d["start"], d["end"]) for d in gt["distractors"] if d["modality"] == "visual"]
    k = len(classes)
    return {"target_av": _interval_targets(centres, av, k), "target_audio": _interval_targets(centres, heard, k),
            "target_visual": _interval_targets(centres, seen, k)}


def _masked_bce(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (loss * mask).sum() / (mask.sum() * logits.shape[-1])


def build_dataset(num_videos: int, workdir: Path, log: Callable[[str], None],
                  duration: float | None = None) -> tuple[list[dict], LiteExtractor]:
    from ..media import open_clip
    from ..synth import make_video
    from ..synth.classes import LABELS

    extractor = LiteExtractor()
    vspec, aspec = extractor.media_request()
    items = []
    for i in range(num_videos):
        path = workdir / f"train{i:03d}.mp4"
        gt = make_video(path, seed=TRAIN_SEED_BASE + i, duration=duration, overlap=(i % 4 == 0), lossless=True)
        feats = extractor.extract(open_clip(path, vspec, aspec))
        centres = feats.timeline.centres(feats.num_snippets).float()
        items.append({"visual": feats.visual, "audio": feats.audio,
                      **targets_from_ground_truth(gt, list(LABELS), centres)})
        path.unlink()
        if (i + 1) % 8 == 0:
            log(f"features of {i + 1}/{num_videos} training videos")
    return items, extractor


def _pad(items: list[dict], key: str) -> torch.Tensor:
    t = max(it[key].shape[0] for it in items)
    return torch.stack([F.pad(it[key], (0, 0, 0, t - it[key].shape[0])) for it in items])  # (B, T, C)


def train_lite_demo(out_dir: Path, seed: int = 0, num_videos: int = 48, epochs: int = 400,
                    log: Callable[[str], None] = print, duration: float | None = None) -> Path:
    """Generate, extract, train, save. ``duration`` fixes the video length (tests use short ones).

    Runs on one CPU thread so that the training is deterministic: the same seed gives the same
    weights, byte for byte, on the same machine and library versions (tested on a short run).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train_lite_demo(out_dir, seed, num_videos, epochs, log, duration)
    finally:
        torch.set_num_threads(threads)


def fit_lite_head(items: list[dict], extractor: LiteExtractor, seed: int, epochs: int,
                  log: Callable[[str], None]) -> tuple[LiteAVHead, LiteHeadConfig]:
    """Full-batch training of the demo head on extracted items (deterministic on one thread)."""
    from ..synth.classes import LABELS

    torch.manual_seed(seed)
    lengths = torch.tensor([it["visual"].shape[0] for it in items])
    visual, audio = _pad(items, "visual"), _pad(items, "audio")
    targets = {k: _pad(items, f"target_{k}") for k in ("av", "audio", "visual")}
    mask = (torch.arange(visual.shape[1])[None, :] < lengths[:, None]).float()  # (B, T)

    cfg = LiteHeadConfig(visual_dim=extractor.visual_dim, audio_dim=extractor.audio_dim, num_classes=len(LABELS))
    head = LiteAVHead(cfg)
    head.set_normalisation(torch.cat([it["visual"] for it in items]), torch.cat([it["audio"] for it in items]))
    opt = torch.optim.AdamW(head.parameters(), lr=3e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    x_v, x_a, m = visual.transpose(1, 2), audio.transpose(1, 2), mask[:, None, :].bool()
    head.train()
    for epoch in range(epochs):
        out = head(x_v, x_a, m)
        loss = (_masked_bce(out["logits"], targets["av"], mask[..., None])
                + 0.5 * _masked_bce(out["audio_logits"], targets["audio"], mask[..., None])
                + 0.5 * _masked_bce(out["visual_logits"], targets["visual"], mask[..., None]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (epoch + 1) % 100 == 0:
            log(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.4f}")
    return head.eval(), cfg


def _train_lite_demo(out_dir: Path, seed: int, num_videos: int, epochs: int, log: Callable[[str], None],
                     duration: float | None) -> Path:
    from ..synth.classes import LABELS

    with tempfile.TemporaryDirectory() as tmp:
        items, extractor = build_dataset(num_videos, Path(tmp), log, duration)
    head, cfg = fit_lite_head(items, extractor, seed, epochs, log)

    card = ModelCard(
        name="lite-demo",
        head="lite-av",
        extractor="lite",
        classes=list(LABELS),
        weights_file="lite-demo.safetensors",
        head_config=vars(cfg),
        extractor_config={},
        feature_protocol=extractor.protocol(),
        decode={"kind": "snippet-scores", "threshold": 0.5, "min_duration": 0.75, "max_gap": 0.5},
        provenance={
            "trained_by": "avlocate train-demo",
            "command": f"avlocate train-demo --out weights --seed {seed} --videos {num_videos} --epochs {epochs}",
            "data": f"{num_videos} synthetic videos from avlocate.synth, seeds {TRAIN_SEED_BASE}-{TRAIN_SEED_BASE + num_videos - 1}",
            "metric": "none published; tests check every ground-truth event of held-out synthetic videos is found (tIoU >= 0.5)",
            "licence": "Apache-2.0",
        },
        description=("DEMO ONLY: a tiny head trained on synthetic events (coloured shapes with tones, sweeps, "
                     "noise and clicks). It knows 4 made-up classes and nothing about real videos."),
    )
    return save_weights(head.state_dict(), card, out_dir)
