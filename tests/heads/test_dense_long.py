"""Videos far longer than max_seq_len: UnAV in one pass, CCNet / ESG-Net in merged windows."""
from __future__ import annotations

import pytest
import torch

from avlocate.decode.dense import DenseDecodeConfig
from avlocate.heads.dense.ccnet import CcnetHead
from avlocate.heads.dense.config import CcnetConfig, EsgnetConfig, UnavConfig
from avlocate.heads.dense.esgnet import EsgnetHead
from avlocate.heads.dense.unav import UnavHead
from avlocate.heads.dense.windows import locate_dense, window_starts

SMALL = dict(input_dim_visual=32, input_dim_audio=16, num_classes=10, max_seq_len=64, embed_dim=64, num_heads=2,
             head_dim=64)


def test_window_starts_cover_the_video():
    assert window_starts(50, 64, 0.25) == [0]
    s = window_starts(1000, 64, 0.25)
    assert s[0] == 0 and s[-1] == 1000 - 64 and all(b - a == 48 for a, b in zip(s, s[1:-1]))


@pytest.mark.parametrize("head,cfg", [
    (UnavHead, UnavConfig(**SMALL)),
    (CcnetHead, CcnetConfig(**SMALL)),
    (EsgnetHead, EsgnetConfig(**SMALL, guidance_hidden=64, mode_heads=2)),
])
def test_ten_minute_video(head, cfg):
    torch.manual_seed(0)
    net = head(cfg).eval()
    tl = cfg.timeline(600.0)
    steps = int(600 / tl.step_seconds)  # 10 minutes of features
    g = torch.Generator().manual_seed(1)
    v = torch.randn(cfg.input_dim_visual, steps, generator=g)
    a = torch.randn(cfg.input_dim_audio, steps, generator=g)
    dets = locate_dense(net, v, a, tl, DenseDecodeConfig(max_seg_num=50))
    assert 0 < len(dets) <= 50
    assert torch.all(dets.segments >= 0) and torch.all(dets.segments <= 600.0)
    assert torch.all(dets.segments[:, 1] >= dets.segments[:, 0])
    # detections come from all over the video, not only from its first window
    assert float(dets.segments[:, 1].max()) > 300.0
    assert torch.all(dets.scores[:-1] >= dets.scores[1:])
