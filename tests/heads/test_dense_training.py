"""Dense training targets / losses, and a few optimisation steps of each head on generated data."""
from __future__ import annotations

import pytest
import torch

from avlocate.heads.dense.ccnet import CcnetHead
from avlocate.heads.dense.config import CcnetConfig, EsgnetConfig, UnavConfig
from avlocate.heads.dense.esgnet import EsgnetHead, guidance_loss
from avlocate.heads.dense.losses import LossNormalizer, dense_losses, diou_1d, level_points, point_targets
from avlocate.heads.dense.unav import UnavHead

K = 4
T = 32
SMALL = dict(input_dim_visual=8, input_dim_audio=8, num_classes=K, max_seq_len=T, embed_dim=32, num_heads=2,
             head_dim=32, drop_path=0.0)
# The optimisation steps: three pyramid levels instead of six (half the modules to run per step);
# what is tested is that each head's losses train it, at any depth of the pyramid.
TRAIN = dict(SMALL, num_downsample=2, regression_ranges=((0, 4), (4, 8), (8, 10000)))


def _brute_targets(points, segs, labels, k):
    """The official rule in plain loops: every covering event in range marks its class; events are
    written in annotation order, so the last one of a class sets that class's offsets."""
    cls = torch.zeros(len(points), k)
    reg = torch.zeros(len(points), k, 2)
    for i, (t, lo, hi, s) in enumerate(points.tolist()):
        for (a, b), c in zip(segs.tolist(), labels.tolist()):
            left, right = t - a, b - t
            if min(left, right) > 0 and lo <= max(left, right) <= hi:
                cls[i, c] = 1
                reg[i, c] = torch.tensor([left, right]) / s
    return cls, reg


def test_point_targets_equal_a_plain_loop():
    g = torch.Generator().manual_seed(0)
    cfg = UnavConfig(**SMALL)
    pts = level_points([64 // 2 ** lv for lv in range(6)], [2 ** lv for lv in range(6)], cfg.regression_ranges)
    start = torch.rand(7, generator=g) * 50
    segs = torch.stack([start, start + 1 + torch.rand(7, generator=g) * 40], 1)
    labels = torch.randint(0, K, (7,), generator=g)
    cls, reg = point_targets(pts, segs, labels, K)
    want_cls, want_reg = _brute_targets(pts, segs, labels, K)
    assert torch.equal(cls, want_cls) and cls.sum() > 0
    torch.testing.assert_close(reg, want_reg)
    # two nested events of one class covering a point on the same level: the later one wins
    two = torch.tensor([[0.0, 40.0], [2.0, 30.0]])
    for order in ([0, 1], [1, 0]):
        c, r = point_targets(pts, two[order], torch.tensor([1, 1]), K)
        row = 64 + 32 + 16 + 3  # level 3 (stride 8) point t = 24: max distances 24 and 22, both in 16-32
        assert float(pts[row, 0]) == 24.0 and float(pts[row, 3]) == 8.0 and c[row, 1] == 1
        last = two[order][1]
        torch.testing.assert_close(r[row, 1], torch.stack([24 - last[0], last[1] - 24]) / 8)


def test_diou_is_zero_for_a_perfect_prediction_and_grows_with_error():
    t = torch.tensor([[2.0, 3.0]])
    assert float(diou_1d(t, t)) == 0.0
    assert float(diou_1d(torch.tensor([[2.0, 1.0]]), t)) > float(diou_1d(torch.tensor([[2.0, 2.5]]), t)) > 0


def _dataset(n: int, t: int = T, seed: int = 0):
    """Videos whose events of class c raise feature channel c (both modalities) over the event."""
    g = torch.Generator().manual_seed(seed)
    vis, aud, segs, labels = [], [], [], []
    for _ in range(n):
        v = 0.3 * torch.randn(8, t, generator=g)
        a = 0.3 * torch.randn(8, t, generator=g)
        s_list, l_list = [], []
        for _ in range(2):
            c = int(torch.randint(0, K, (1,), generator=g))
            s = int(torch.randint(0, t - 12, (1,), generator=g))
            e = s + int(torch.randint(3, 12, (1,), generator=g))
            v[c, s:e] += 2.0
            a[c, s:e] += 2.0
            s_list.append([s - 0.5, e - 0.5])
            l_list.append(c)
        vis.append(v)
        aud.append(a)
        segs.append(torch.tensor(s_list))
        labels.append(torch.tensor(l_list))
    return torch.stack(vis), torch.stack(aud), segs, labels


@pytest.mark.parametrize("head,cfg", [
    (UnavHead, UnavConfig(**TRAIN)),
    (CcnetHead, CcnetConfig(**TRAIN)),
    (EsgnetHead, EsgnetConfig(**TRAIN, guidance_hidden=32, mode_heads=2)),
])
def test_a_few_steps_lower_the_loss(head, cfg):
    torch.manual_seed(0)
    net = head(cfg).train()
    v, a, segs, labels = _dataset(4)
    pts = level_points([T // 2 ** lv for lv in range(cfg.num_levels)], [2 ** lv for lv in range(cfg.num_levels)],
                       cfg.regression_ranges)
    targets = [point_targets(pts, s, lab, K) for s, lab in zip(segs, labels)]
    cls_t = torch.stack([c for c, _ in targets])
    reg_t = torch.stack([r for _, r in targets])
    snippet_t = cls_t[:, :T]  # level-0 rows: per-snippet class targets for ESG-Net's guidance
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3)
    norm = LossNormalizer(momentum=1.0)  # fixed normaliser: losses of different steps compare
    history = []
    for _ in range(10):
        out = net(v, a)
        loss = dense_losses(out.logits, out.offsets, out.masks, cls_t, reg_t, norm)["final_loss"]
        if isinstance(net, EsgnetHead):
            loss = loss + guidance_loss(out, snippet_t, cfg.guidance_weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    assert all(torch.isfinite(torch.tensor(history)))
    assert sum(history[-3:]) / 3 < 0.7 * sum(history[:3]) / 3, history
