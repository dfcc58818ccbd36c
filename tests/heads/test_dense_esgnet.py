"""ESG-Net (built from its paper): shapes, gradients, expert gates, parameter count."""
from __future__ import annotations

import pytest
import torch

from avlocate.errors import ModelError
from avlocate.heads.dense.config import EsgnetConfig
from avlocate.heads.dense.esgnet import PAPER_PARAMS_ONEPEACE, EsgnetHead, guidance_loss
from avlocate.registry import HEADS

SMALL = EsgnetConfig(input_dim_visual=32, input_dim_audio=16, num_classes=10, max_seq_len=64, embed_dim=64,
                     num_heads=2, head_dim=64, guidance_hidden=64, mode_heads=2)


def _inputs(b: int = 2, t: int = 64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, SMALL.input_dim_visual, t, generator=g),
            torch.randn(b, SMALL.input_dim_audio, t, generator=g))


def test_registered():
    assert HEADS.get("esgnet") is EsgnetHead


def test_output_shapes_and_padding():
    torch.manual_seed(0)
    net = EsgnetHead(SMALL).eval()
    v, a = _inputs(2, 40)
    with torch.no_grad():
        out = net(v, a)
    k = SMALL.num_classes
    assert [x.shape[1] for x in out.logits] == [64 // 2 ** lv for lv in range(SMALL.num_levels)]
    for lv, (lg, off, m) in enumerate(zip(out.logits, out.offsets, out.masks)):
        assert lg.shape == (2, 64 // 2 ** lv, k) and off.shape == (2, 64 // 2 ** lv, k, 2)
        assert m.shape == (2, 64 // 2 ** lv) and int(m[0].sum()) == -(-40 // 2 ** lv)
        assert torch.all(lg[~m] == 0) and torch.all(off >= 0)
    assert out.aux["stage1_audio"][0].shape == (2, 64, k)
    assert len(out.aux["stage3_visual"]) == SMALL.num_levels
    assert out.aux["gates"][0].shape == (2, SMALL.mode_layers, SMALL.mode_experts)


def test_eval_gates_pick_one_expert_per_layer_deterministically():
    torch.manual_seed(0)
    net = EsgnetHead(SMALL).eval()
    v, a = _inputs(3)
    with torch.no_grad():
        g1 = net(v, a).aux["gates"][0]
        g2 = net(v, a).aux["gates"][0]
    assert torch.equal(g1, g2)
    assert torch.all(g1.sum(-1) == 1) and torch.all((g1 == 0) | (g1 == 1))


def test_training_gates_are_hard_gumbel_choices():
    torch.manual_seed(0)
    net = EsgnetHead(SMALL).train()
    v, a = _inputs(4)
    gates = net(v, a).aux["gates"][0]
    assert torch.allclose(gates.sum(-1), torch.ones(4, SMALL.mode_layers))
    assert set(gates.detach().flatten().tolist()) <= {0.0, 1.0}


def test_video_result_does_not_depend_on_batch():
    torch.manual_seed(0)
    net = EsgnetHead(SMALL).eval()
    v, a = _inputs(2, 64)
    mask = torch.ones(2, 1, 64, dtype=torch.bool)
    mask[0, :, 30:] = False
    v[0, :, 30:] = 0
    a[0, :, 30:] = 0
    with torch.no_grad():
        both = net(v, a, mask)
        alone = net(v[:1, :, :30], a[:1, :, :30])
    for lv in range(SMALL.num_levels):
        torch.testing.assert_close(both.logits[lv][0], alone.logits[lv][0], atol=1e-5, rtol=1e-5)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    net = EsgnetHead(SMALL).train()
    # a few steps: each step trains only the expert its gate picked, and drop-path drops branches
    for step in range(6):
        v, a = _inputs(3, 64, seed=step)
        out = net(v, a)
        targets = (torch.rand(3, 64, SMALL.num_classes) > 0.9).float()
        loss = sum(x.sum() for x in out.logits) + sum(x.sum() for x in out.offsets) + guidance_loss(out, targets)
        loss.backward()
    dead = [n for n, p in net.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert not dead


def test_longer_than_max_seq_len_is_a_clear_error():
    net = EsgnetHead(SMALL).eval()
    v, a = _inputs(1, 80)
    with pytest.raises(ModelError, match="max_seq_len=64"):
        net(v, a)


def test_paper_parameter_count():
    """ONE-PEACE setting within 2 % of the paper's 86.13 M (Table VII); I3D+VGGish: paper unknown."""
    with torch.device("meta"):
        n_op = sum(p.numel() for p in EsgnetHead(EsgnetConfig.onepeace()).parameters())
        n_i3d = sum(p.numel() for p in EsgnetHead(EsgnetConfig()).parameters())
    print(f"ESG-Net params: onepeace {n_op / 1e6:.2f} M (paper 86.13 M), "
          f"i3d_vggish {n_i3d / 1e6:.2f} M (paper unknown)")
    assert abs(n_op - PAPER_PARAMS_ONEPEACE) / PAPER_PARAMS_ONEPEACE < 0.02


def test_paper_defaults():
    cfg = EsgnetConfig()
    assert (cfg.embed_dim, cfg.num_levels, cfg.mode_n1, cfg.mode_n2, cfg.mode_layers, cfg.mode_experts) == (
        512, 6, 2, 1, 4, 2)
    assert cfg.guidance_weights == (0.3, 0.6, 0.9)
    op = EsgnetConfig.onepeace()
    assert (op.input_dim_visual, op.input_dim_audio, op.max_seq_len, op.fps, op.window, op.stride) == (
        1536, 1536, 256, 16.0, 16, 4)
