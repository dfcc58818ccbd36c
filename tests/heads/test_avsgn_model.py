"""AVSGN head (random weights): shapes, registry, vocabularies, gradients, determinism, windows, size."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from avlocate.decode.segments import labels_to_events
from avlocate.errors import ModelError
from avlocate.heads.segment.avsgn import AVSGN, AVSGNConfig, AVSGNWeakly, AVSGNWeaklyConfig
from avlocate.heads.segment.avsgn_losses import avsgn_loss
from avlocate.heads.segment.windows import sliding_segment_probs
from avlocate.registry import HEADS
from avlocate.timeline import Timeline

SMALL = dict(visual_dim=24, audio_dim=20, text_dim=16, model_dim=32, hidden_dim=32, intra_heads=2)


def _inputs(b: int, cfg: AVSGNConfig, t: int | None = None, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    t = cfg.num_segments if t is None else t
    return (torch.randn(b, t, cfg.audio_dim, generator=g), torch.randn(b, t, cfg.visual_dim, generator=g),
            torch.randn(cfg.num_events, cfg.text_dim, generator=g), torch.randn(cfg.num_events, cfg.text_dim, generator=g))


def _labels(b: int, num_classes: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    lab = torch.full((b, 10), num_classes - 1)
    for i in range(b):
        s = int(torch.randint(0, 6, (1,), generator=g))
        lab[i, s : s + 4] = int(torch.randint(0, num_classes - 1, (1,), generator=g))
    return torch.nn.functional.one_hot(lab, num_classes).float()


def test_registered_with_config_classes() -> None:
    assert HEADS.get("avsgn") is AVSGN and HEADS.get("avsgn-weakly") is AVSGNWeakly
    assert AVSGN.config_class is AVSGNConfig and AVSGNWeakly.config_class is AVSGNWeaklyConfig
    assert AVSGN().config.supervision == "fully" and AVSGNWeakly().config.supervision == "weakly"


def test_paper_defaults() -> None:
    c = AVSGNConfig()
    assert (c.event_threshold, c.consistency_weight) == (0.6, 0.01)
    assert (c.visual_dim, c.audio_dim, c.text_dim, c.num_classes, c.num_segments) == (512, 512, 512, 29, 10)
    with pytest.raises(ValueError, match="supervision"):
        AVSGNConfig(supervision="semi")


@pytest.mark.parametrize("b", [1, 3])
def test_output_shapes_default_config(b: int) -> None:
    torch.manual_seed(0)
    model = AVSGN().eval()
    audio, visual, tc, ta = _inputs(b, model.config)
    with torch.no_grad():
        out = model(audio, visual, tc, ta)
    assert out.relevance.shape == (b, 10) and out.class_logits.shape == (b, 28) and out.gate_logits.shape == (b, 28)
    assert out.audio.shape == out.visual.shape == (b, 10, 512)
    assert out.gate_audio.shape == out.gate_visual.shape == (b, 10)
    model.set_label_text(tc, ta)
    probs = model.segment_probs(audio, visual)
    assert probs.shape == (b, 10, 29)
    torch.testing.assert_close(probs.sum(-1), torch.ones(b, 10))
    labels = model.labels_from_probs(probs)
    assert labels.shape == (b, 10) and int(labels.min()) >= 0 and int(labels.max()) <= 28


def test_labels_follow_tau_on_relevance() -> None:
    model = AVSGN(AVSGNConfig(**SMALL, num_classes=4))
    probs = torch.tensor([[[0.50, 0.10, 0.05, 0.35], [0.30, 0.20, 0.05, 0.45], [0.05, 0.60, 0.05, 0.30]]])
    # s^r = 1 - P[bg] = 0.65, 0.55, 0.70: only the first and last exceed tau = 0.6
    assert model.labels_from_probs(probs).tolist() == [[0, 3, 1]]


@pytest.mark.parametrize("num_events", [3, 40])
def test_other_vocabulary_sizes(num_events: int) -> None:
    cfg = AVSGNConfig(**SMALL, num_classes=num_events + 1)
    model = AVSGN(cfg).eval()
    audio, visual, tc, ta = _inputs(2, cfg)
    model.set_label_text(tc, ta)
    probs = model.segment_probs(audio, visual)
    assert probs.shape == (2, 10, num_events + 1)
    with pytest.raises(ModelError, match="one row per event class"):
        model.set_label_text(tc[:-1], ta[:-1])


def test_missing_label_text_is_a_clear_error() -> None:
    cfg = AVSGNConfig(**SMALL, num_classes=5)
    audio, visual, _, _ = _inputs(1, cfg)
    with pytest.raises(ModelError, match="label-text embeddings"):
        AVSGN(cfg)(audio, visual)
    with pytest.raises(ValueError, match="10 segments"):
        AVSGN(cfg)(audio[:, :7], visual[:, :7])


def test_label_text_is_not_part_of_the_weights() -> None:
    cfg = AVSGNConfig(**SMALL, num_classes=5)
    model = AVSGN(cfg)
    _, _, tc, ta = _inputs(1, cfg)
    model.set_label_text(tc, ta)
    keys = model.state_dict().keys()
    assert not any("text_clip" == k or "text_clap" == k for k in keys)
    AVSGN(cfg).load_state_dict(model.state_dict())  # strict load works without them


@pytest.mark.parametrize("supervision", ["fully", "weakly"])
def test_gradients_reach_every_parameter(supervision: str) -> None:
    torch.manual_seed(1)
    cfg = AVSGNConfig(**SMALL, num_classes=6, supervision=supervision)
    model = AVSGN(cfg).train()
    audio, visual, tc, ta = _inputs(3, cfg)
    loss = avsgn_loss(model(audio, visual, tc, ta), _labels(3, 6), supervision)["total"]
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert not missing, f"no gradient under the {supervision} objective: {missing}"


def test_literal_reading_without_residuals_also_trains_every_parameter() -> None:
    cfg = AVSGNConfig(**dict(SMALL, hidden_dim=40), num_classes=4, intra_residual=False, inter_residual=False)
    model = AVSGN(cfg)
    audio, visual, tc, ta = _inputs(2, cfg)
    avsgn_loss(model(audio, visual, tc, ta), _labels(2, 4))["total"].backward()
    assert all(p.grad is not None for p in model.parameters())


def test_eval_is_deterministic_and_train_mode_uses_dropout() -> None:
    torch.manual_seed(2)
    cfg = AVSGNConfig(**SMALL, num_classes=5)
    model = AVSGN(cfg)
    audio, visual, tc, ta = _inputs(3, cfg)
    model.set_label_text(tc, ta)
    model.eval()
    with torch.no_grad():
        first = model.segment_probs(audio, visual)
        assert torch.equal(first, model.segment_probs(audio, visual))
        # batch composition does not change a clip's result in eval mode
        torch.testing.assert_close(model.segment_probs(audio[1:2], visual[1:2]), first[1:2])
        model.train()
        assert not torch.equal(model.segment_probs(audio, visual), first)


def test_windows_over_23_segments() -> None:
    torch.manual_seed(3)
    cfg = AVSGNConfig(**SMALL, num_classes=5)
    model = AVSGN(cfg)
    g = torch.Generator().manual_seed(4)
    audio, visual = torch.randn(23, cfg.audio_dim, generator=g), torch.randn(23, cfg.visual_dim, generator=g)
    model.set_label_text(torch.randn(4, cfg.text_dim, generator=g), torch.randn(4, cfg.text_dim, generator=g))
    probs = sliding_segment_probs(model, audio, visual)
    assert probs.shape == (23, 5) and model.training  # mode restored
    torch.testing.assert_close(probs.sum(-1), torch.ones(23))
    # hop 10 -> windows at 0, 10, 13: segments 0-9 are seen by the first window only
    hop10 = sliding_segment_probs(model, audio, visual, hop=10)
    model.eval()
    with torch.no_grad():
        direct = model.segment_probs(audio[None, :10], visual[None, :10])[0]
    torch.testing.assert_close(hop10[:10], direct)
    labels = model.labels_from_probs(probs)
    events = labels_to_events(labels, 1.0 - probs[:, -1], ["a", "b", "c", "d", "bg"],
                              Timeline(fps=1.0, window=1, stride=1), background=4)
    assert all(0.0 <= e.start < e.end <= 23.0 for e in events)
    short = sliding_segment_probs(model, audio[:7], visual[:7])  # a 7-second clip is padded
    assert short.shape == (7, 5)


def _expected_parameter_count(c: AVSGNConfig) -> int:
    """Independent count from the paper's layer list (Eq. 1-14) for d == input widths."""
    d, h, k, t = c.model_dim, c.hidden_dim, c.num_events, c.num_segments
    lin = lambda i, o, bias=True: i * o + (o if bias else 0)  # noqa: E731
    text = lin(2 * k, t)
    intra = 2 * (4 * lin(d, d)) + 2 * 2 * d  # Q/K/V/out per head group, + LayerNorm
    inter = 6 * 3 * lin(d, d)  # W_q, W_k, W_v of six single-head attentions
    bottlenecks = 3 * lin(2 * d, h)
    graphs = 3 * (2 * lin(h, h, False) + c.gcn_layers * lin(h, h, False))
    heads = 2 * lin(h, 1) + lin(h, k) + lin(h, 1) + lin(t, k)
    return text + intra + inter + bottlenecks + graphs + heads


def test_parameter_count() -> None:
    cfg = AVSGNConfig()
    count = sum(p.numel() for p in AVSGN(cfg).parameters())
    print(f"AVSGN parameters (default config): {count:,}; the paper states none (unknown)")
    assert count == _expected_parameter_count(cfg)
    small = dataclasses.replace(cfg, gcn_layers=3)
    assert sum(p.numel() for p in AVSGN(small).parameters()) == _expected_parameter_count(small)
