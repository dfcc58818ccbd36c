"""Pieces of the dense training recipe: GIoU, the schedule, the official crop, ONE-PEACE files."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from avlocate.datasets.unav import Item, load_features, random_crop
from avlocate.training.dense import giou_1d, warmup_cosine


def test_giou_1d_against_interval_arithmetic():
    g = torch.Generator().manual_seed(1)
    pred, tgt = torch.rand(50, 2, generator=g) * 5, torch.rand(50, 2, generator=g) * 5
    got = giou_1d(pred, tgt)
    for (pl, pr), (tl, tr), v in zip(pred.tolist(), tgt.tolist(), got.tolist()):
        a, b = (-pl, pr), (-tl, tr)  # intervals around the point 0
        inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
        union = (a[1] - a[0]) + (b[1] - b[0]) - inter
        hull = max(a[1], b[1]) - min(a[0], b[0])
        assert v == pytest.approx(1 - inter / union + (hull - union) / hull, abs=1e-5)
    assert giou_1d(tgt, tgt).abs().max() < 1e-6


def test_warmup_then_cosine():
    """Official LinearWarmupCosineAnnealingLR: k / (W - 1) during the W warm-up iterations (the base
    rate is reached at W - 1 and kept at W), then the cosine from W to the last iteration."""
    base, eta = 1e-3, 1e-8
    f = [warmup_cosine(s, 10, 110, base, eta) for s in range(111)]
    assert f[0] == 0 and f[1] == pytest.approx(1 / 9) and f[9] == pytest.approx(1.0) and f[10] == pytest.approx(1.0)
    assert f[60] == pytest.approx(0.5 * (1 + eta / base), rel=1e-6)
    assert f[110] * base == pytest.approx(eta)
    assert all(x >= y for x, y in zip(f[10:], f[11:]))
    assert all(x < y for x, y in zip(f[:9], f[1:10]))


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_schedule_spans_epochs_plus_warmup():
    """Official train.py trains epochs + warmup_epochs epochs and sizes its cosine to that."""
    from avlocate.heads.dense.config import UnavConfig
    from avlocate.heads.dense.unav import UnavHead
    from avlocate.training.dense import DenseTrainer, recipe

    cfg = recipe("unav", epochs=4, warmup_epochs=2)
    assert cfg.total_epochs == 6
    head = UnavHead(UnavConfig(input_dim_visual=4, input_dim_audio=4, num_classes=2, max_seq_len=32, embed_dim=8,
                               num_heads=1, head_dim=8))
    trainer = DenseTrainer(head, cfg, steps_per_epoch=3)
    assert (trainer.warmup, trainer.total) == (6, 18)
    lrs = []
    for _ in range(18):
        lrs.append(trainer.lr()[0])
        trainer.sched.step()
    assert lrs[0] == 0.0 and lrs[5] == pytest.approx(cfg.learning_rate) and lrs[6] == pytest.approx(cfg.learning_rate)
    assert lrs[17] < 0.02 * cfg.learning_rate and trainer.lr()[0] == pytest.approx(cfg.eta_min)


def test_crop_keeps_events_mostly_inside():
    n = 100
    segs = torch.tensor([[5.0, 25.0], [40.0, 44.0], [70.0, 99.0]])
    item = Item("v", torch.arange(n, dtype=torch.float32)[:, None], torch.zeros(n, 1), segs,
                torch.tensor([0, 1, 2]), 40.0)
    rng = random.Random(0)
    for _ in range(50):
        c = random_crop(item, 32, rng, crop_ratio=None)
        start = int(c.visual[0, 0])
        assert c.visual.shape[0] == 32
        for (s, e), k in zip(c.segments.tolist(), c.labels.tolist()):
            orig = segs[k]
            inside = min(float(orig[1]), start + 32) - max(float(orig[0]), start)
            assert inside / float(orig[1] - orig[0]) >= 0.5
            assert 0 <= s <= e <= 32
        expected = {k for k, (s, e) in enumerate(segs.tolist())
                    if (min(e, start + 32) - max(s, start)) / (e - s) >= 0.5}  # official: >= trunc_thresh
        assert set(c.labels.tolist()) == expected
    # short videos: 90-100 % of the length (official crop_ratio)
    short = Item("s", torch.zeros(30, 1), torch.zeros(30, 1), torch.tensor([[0.0, 29.0]]), torch.tensor([0]), 10.0)
    lengths = {random_crop(short, 64, rng).visual.shape[0] for _ in range(40)}
    assert lengths <= set(range(27, 31)) and len(lengths) > 1


def test_onepeace_files(tmp_path: Path):
    import numpy as np

    np.save(tmp_path / "x_one_peace_video_finetune.npy", np.ones((10, 1536), np.float32))
    np.save(tmp_path / "x_one_peace_audio.npy", np.zeros((9, 1536), np.float32))
    v, a = load_features(tmp_path, "x", "onepeace")
    assert v.shape == (9, 1536) and a.shape == (9, 1536)


def test_crop_keeps_an_event_exactly_half_inside():
    """Official truncate_feats keeps a segment whose inside share is >= trunc_thresh (0.5)."""
    item = Item("h", torch.zeros(20, 1), torch.zeros(20, 1), torch.tensor([[0.0, 20.0]]), torch.tensor([3]), 8.0)
    rng = random.Random(1)
    for _ in range(5):
        c = random_crop(item, 10, rng, crop_ratio=None)
        assert c.visual.shape[0] == 10 and c.labels.tolist() == [3]
        assert c.segments.tolist() == [[0.0, 10.0]]
