"""VSCG heads without the reference: shapes, configs, registry, targets, training, converter errors."""
from __future__ import annotations

import pytest
import torch

from avlocate.errors import WeightsError
from avlocate.heads.segment import VSCG, VSCGConfig, VSCGWeakly, VSCGWeaklyConfig
from avlocate.heads.segment.psp import PSPConfig
from avlocate.heads.segment.vscg_losses import (
    fully_labels_from_probs,
    fully_loss,
    fully_predict,
    fully_segment_probs,
    fully_targets,
    segment_accuracy,
    video_level_target,
    weakly_loss,
)
from avlocate.registry import HEADS
from avlocate.heads.segment.official import build_vscg
from avlocate.weights.convert_vscg import FULLY_PREFIXES, convert_vscg_state_dict


def _inputs(b: int, t: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(b, t, 128, generator=g)
    visual = torch.relu(torch.randn(b, t, 7, 7, 512, generator=g) - 0.5)
    return audio, visual


def _labels(b: int, seed: int = 0, t: int = 10) -> torch.Tensor:
    """AVE-style: one class per clip on a contiguous span, background elsewhere."""
    g = torch.Generator().manual_seed(seed)
    lab = torch.full((b, t), 28)
    for i in range(b):
        start = int(torch.randint(0, t - 2, (1,), generator=g))
        end = int(torch.randint(start + 1, t + 1, (1,), generator=g))
        lab[i, start:end] = int(torch.randint(0, 28, (1,), generator=g))
    return torch.nn.functional.one_hot(lab, 29).float()


def test_registered_by_name() -> None:
    assert HEADS.get("vscg") is VSCG
    assert HEADS.get("vscg-weakly") is VSCGWeakly


def test_output_shapes_and_eval_determinism() -> None:
    torch.manual_seed(0)
    audio, visual = _inputs(3)
    fully, weakly = VSCG().eval(), VSCGWeakly().eval()
    with torch.no_grad():
        f = fully(audio, visual)
        w = weakly(audio, visual)
        assert torch.equal(f.relevance, fully(audio, visual).relevance)
    assert f.relevance.shape == (3, 10) and f.class_logits.shape == (3, 28)
    assert f.similarity.shape == (3, 10) and f.segment_logits.shape == (3, 10, 29)
    assert w.video_probs.shape == (3, 29) and w.score.shape == (3, 10, 29) and w.smooth_probs.shape == (3, 29)
    torch.testing.assert_close(w.video_probs.sum(-1), torch.ones(3))
    # a batch of one works (the official fully evaluation crashes there)
    with torch.no_grad():
        one = fully(audio[:1], visual[:1])
    assert fully_predict(one.relevance, one.class_logits).shape == (1, 10)


def test_window_length_outside_what_escm_supports_is_a_clear_error() -> None:
    audio, visual = _inputs(1, t=6)
    with pytest.raises(ValueError, match="8 to 11 segments"):
        VSCG().eval()(audio, visual)


def test_configs_accept_card_json_dicts() -> None:
    cfg = VSCGConfig(psp={"threshold": 0.2, "renormalize": False}, escm={"dropout": 0.3})
    assert isinstance(cfg.psp, PSPConfig) and cfg.psp.threshold == 0.2 and cfg.escm.dropout == 0.3
    assert cfg.psp.rows == "audio" and cfg.psp.branch_dropout == 0.2  # other fully defaults kept
    weak = VSCGWeaklyConfig(psp={"threshold": 0.2})
    assert weak.psp.branch_dropout == 0.1 and not weak.psp.renormalize
    cfg.psp.threshold = 0.5  # defaults are not shared between instances
    assert VSCGConfig().psp.threshold == 0.099
    import dataclasses

    assert VSCGConfig(**dataclasses.asdict(cfg)) == cfg  # JSON-able round trip for model cards
    assert VSCGConfig().psp.renormalize and not VSCGWeaklyConfig().psp.renormalize
    assert VSCGConfig().event_threshold == 0.7 and VSCGWeaklyConfig().smooth_loss_weight == 2.0


def test_fully_targets_follow_the_official_definitions() -> None:
    lab = torch.full((2, 10), 28)
    lab[0, 3:7] = 5  # event of class 5 on segments 3..6; clip 1 is all background
    onehot = torch.nn.functional.one_hot(lab, 29).float()
    tg = fully_targets(onehot)
    assert tg.is_event[0].tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0] and tg.is_event[1].sum() == 0
    assert tg.video_class.tolist() == [5, 0]  # all-background clip -> class 0, as officially
    torch.testing.assert_close(tg.avps[0], torch.tensor([0, 0, 0, .25, .25, .25, .25, 0, 0, 0]))
    torch.testing.assert_close(tg.avps[1], torch.full((10,), 0.1))


def test_probability_route_reproduces_the_official_rule() -> None:
    g = torch.Generator().manual_seed(1)
    rel, cls = torch.randn(64, 10, generator=g) * 3, torch.randn(64, 28, generator=g)
    probs = fully_segment_probs(rel, cls)
    torch.testing.assert_close(probs.sum(-1), torch.ones(64, 10))
    away = (torch.sigmoid(rel) - 0.7).abs() > 1e-6  # the two routes may differ by one rounding
    assert torch.equal(fully_labels_from_probs(probs)[away], fully_predict(rel, cls)[away])


def test_accuracy_is_a_percentage() -> None:
    labels = _labels(4)
    target = labels.argmax(-1)
    pred = target.clone()
    pred[0, :5] = (target[0, :5] + 1) % 29
    assert segment_accuracy(pred, labels) == pytest.approx(100.0 * 35 / 40)


@pytest.mark.parametrize("weakly", [False, True])
def test_a_few_training_steps_reduce_the_loss(weakly: bool) -> None:
    torch.manual_seed(0)
    audio, visual = _inputs(4, seed=3)
    labels = _labels(4, seed=3)
    model = VSCGWeakly() if weakly else VSCG()

    def loss() -> torch.Tensor:
        if weakly:
            out = model(audio, visual)
            return weakly_loss(out.video_probs, out.smooth_probs, video_level_target(labels))["total"]
        out = model(audio, visual)
        return fully_loss(out.relevance, out.class_logits, out.similarity, labels)["total"]

    model.eval()
    with torch.no_grad():
        before = float(loss())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(8):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        after = float(loss())
    assert after < 0.9 * before, (before, after)


def _official_like_fully() -> dict[str, torch.Tensor]:
    """Official-named state dict made from a random avlocate model by inverting the key table."""
    ours = VSCG().state_dict()
    inverse = {v: k for k, v in FULLY_PREFIXES.items()}
    out = {}
    for key, value in ours.items():
        prefix = max((p for p in inverse if key.startswith(p)), key=len)
        out[inverse[prefix] + key[len(prefix):]] = value.half()
    out["escm.L1.weight"] = torch.zeros(10, 9)  # an unused official parameter: dropped silently
    return out


def test_converter_round_trip_and_errors() -> None:
    official = _official_like_fully()
    model = build_vscg(official)
    assert isinstance(model, VSCG) and not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    with pytest.raises(WeightsError, match="unexpected key 'psp.b_L1.weight'"):
        convert_vscg_state_dict({**official, "psp.b_L1.weight": torch.zeros(1)})
    missing = dict(official)
    del missing["L4.bias"]
    with pytest.raises(WeightsError, match="lack 1 tensors"):
        build_vscg(missing)
    with pytest.raises(WeightsError, match="has shape"):
        build_vscg({**official, "L4.bias": torch.zeros(27)})
    with pytest.raises(WeightsError, match="not an official VSCG"):
        build_vscg({"foo": torch.zeros(1)})


def test_official_lr_schedule_and_evaluation_helpers() -> None:
    from avlocate.heads.segment.vscg_training import batch_loss, decays_after, evaluate, make_optimizer

    assert [e for e in range(300) if decays_after(e, weakly=False)] == [59, 119, 239]
    assert [e for e in range(300) if decays_after(e, weakly=True)] == [79, 179, 239, 299]
    model = VSCG()
    opt, sched = make_optimizer(model)
    lrs = []
    for _ in range(125):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradients: a no-op that keeps the optimizer/scheduler call order right
        sched.step()
    assert lrs[59] == pytest.approx(1e-3) and lrs[60] == pytest.approx(8e-4) and lrs[120] == pytest.approx(6.4e-4)
    audio, visual = _inputs(3)
    labels = _labels(3)
    assert set(batch_loss(model, audio, visual, labels)) == {"is_event", "event_class", "avps", "total"}
    assert set(batch_loss(VSCGWeakly(), audio, visual, labels)) == {"cls_prob", "smooth", "total"}
    model.train()
    acc = evaluate(model, audio, visual, labels, batch_size=2)
    assert 0.0 <= acc <= 100.0 and model.training
    model.eval()
    with torch.no_grad():
        out = model(audio, visual)
    assert acc == segment_accuracy(fully_predict(out.relevance, out.class_logits), labels)
