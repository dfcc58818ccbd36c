"""`--scores` of a dense head: the curve the events are drawn from (max over pyramid levels).

Was: the curve was the finest level alone; on samples/demo1.mp4 with esgnet-demo the events scored
0.74-0.93 while the curves peaked at 0.08.
"""
from __future__ import annotations

import pytest
import torch

from avlocate.decode.score_curve import nearest_points, pyramid_max
from avlocate.pipeline import locate

# Rounding of the written numbers: scores and curve values to 4 decimals, times to 1 ms.
SCORE_EPS = 2e-4
TIME_EPS = 1e-3


def test_pyramid_max_maps_every_level_onto_level_0_steps():
    # Two levels over 6 steps: level 0 (stride 1, 6 points), level 1 (stride 2, 3 points), K = 1.
    p0 = torch.tensor([0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    p1 = torch.tensor([0.2, 0.9, 0.3])
    logit = lambda p: torch.logit(p)[None, :, None]  # noqa: E731
    masks = [torch.ones(1, 6, dtype=torch.bool), torch.tensor([[True, True, False]])]
    curve = pyramid_max([logit(p0), logit(p1)], masks, [1, 2], video=0, length=6)[:, 0]
    # level-1 point j stands at step 2j and covers steps 2j-1 .. 2j; point 2 is masked out
    torch.testing.assert_close(curve, torch.tensor([0.2, 0.9, 0.9, 0.1, 0.1, 0.1]))
    assert nearest_points(7, 4, 2).tolist() == [0, 0, 1, 1, 1, 1, 1]


@pytest.mark.parametrize("sample", ["demo1", "demo2", "demo3"])
def test_every_event_is_explained_by_its_class_curve(repo_root, sample):
    """For an event of score s, its class's curve reaches s inside the event. Why it must: the
    event is a candidate whose segment contains its own point (the boundary distances are >= 0),
    its score was the probability at that point before Soft-NMS, which only lowers scores, and
    the curve at that point's step is the max over levels, so >= s. The tolerance covers only the
    rounding of the written numbers (SCORE_EPS, TIME_EPS)."""
    result = locate(repo_root / "samples" / f"{sample}.mp4", model="esgnet-demo", device="cpu", keep_scores=True)
    curve = result.extra["scores"]
    times = torch.tensor(curve["times"])
    values = torch.tensor(curve["values"])  # (T, K)
    assert values.shape == (len(times), len(curve["classes"]))
    assert result.events, "the demo model finds the demo sample's events"
    for event in result.events:
        inside = (times >= event.start - TIME_EPS) & (times <= event.end + TIME_EPS)
        assert inside.any(), event
        k = curve["classes"].index(event.label)
        peak = float(values[inside, k].max())
        assert peak >= event.score - SCORE_EPS, (event, peak)
    # ...and the strongest event is as high as the curve gets for its class (no level is missing).
    best = max(result.events, key=lambda e: e.score)
    k = curve["classes"].index(best.label)
    assert float(values[:, k].max()) >= best.score - SCORE_EPS


SMALL = dict(input_dim_visual=32, input_dim_audio=16, num_classes=10, max_seq_len=64, embed_dim=64, num_heads=2,
             head_dim=64)


@pytest.mark.parametrize("name", ["unav", "ccnet", "esgnet"])
def test_curve_explains_detections_of_a_video_longer_than_a_window(name):
    """Random heads on 300 steps: UnAV in one pass, CCNet / ESG-Net in overlapping windows merged
    by one Soft-NMS; the curve (same windows, max where they overlap) still explains every one."""
    from avlocate.decode.dense import DenseDecodeConfig
    from avlocate.heads.dense.ccnet import CcnetHead
    from avlocate.heads.dense.config import CcnetConfig, EsgnetConfig, UnavConfig
    from avlocate.heads.dense.esgnet import EsgnetHead
    from avlocate.heads.dense.unav import UnavHead
    from avlocate.heads.dense.windows import dense_score_curve, locate_dense

    head, cfg = {"unav": (UnavHead, UnavConfig(**SMALL)), "ccnet": (CcnetHead, CcnetConfig(**SMALL)),
                 "esgnet": (EsgnetHead, EsgnetConfig(**SMALL, guidance_hidden=64, mode_heads=2))}[name]
    torch.manual_seed(0)
    net = head(cfg).eval()
    steps = 300
    tl = cfg.timeline(steps * cfg.timeline(1.0).step_seconds)
    g = torch.Generator().manual_seed(1)
    v, a = torch.randn(cfg.input_dim_visual, steps, generator=g), torch.randn(cfg.input_dim_audio, steps, generator=g)
    dets = locate_dense(net, v, a, tl, DenseDecodeConfig(max_seg_num=50))
    curve = dense_score_curve(net, v, a)
    assert curve.shape == (steps, cfg.num_classes) and len(dets) > 0
    times = tl.centres(steps)
    for (start, end), score, k in zip(dets.segments.tolist(), dets.scores.tolist(), dets.labels.tolist()):
        inside = (times >= start - 1e-4) & (times <= end + 1e-4)  # float32 seconds (~1e-5 at 100 s)
        assert float(curve[inside, k].max()) >= score - 1e-5, (start, end, score, k)
