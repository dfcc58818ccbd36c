"""AVSGN objectives on hand-made cases, and real (small) learning runs on a separable toy problem."""
from __future__ import annotations

import math

import torch

from avlocate.heads.segment.avsgn import AVSGN, AVSGNConfig, AVSGNOutput
from avlocate.heads.segment.avsgn_losses import (
    avsgn_loss,
    consistency_loss,
    event_targets,
    fully_loss,
    joint_log_scores,
    mil_pool,
    weakly_loss,
)
from avlocate.heads.segment.avsgn_training import AVSGNTrainConfig, batch_loss, evaluate, make_optimizer


def _one_hot(rows: list[list[int]], c: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(rows), c).float()


def _output(relevance, class_logits, gate_logits=None, visual=None, audio=None) -> AVSGNOutput:
    relevance = torch.tensor(relevance, dtype=torch.float32)
    class_logits = torch.tensor(class_logits, dtype=torch.float32)
    b, t = relevance.shape
    gate_logits = torch.zeros_like(class_logits) if gate_logits is None else torch.tensor(gate_logits)
    visual = torch.zeros(b, t, 2) if visual is None else torch.tensor(visual)
    audio = torch.zeros(b, t, 2) if audio is None else torch.tensor(audio)
    return AVSGNOutput(relevance, class_logits, gate_logits, audio, visual, torch.ones(b, t), torch.ones(b, t))


def test_event_targets_pick_the_majority_event_class() -> None:
    labels = _one_hot([[1, 1, 0, 2], [2, 2, 2, 2]], 3)  # class 2 = background
    is_event, video_class, has_event = event_targets(labels)
    assert is_event.tolist() == [[1, 1, 1, 0], [0, 0, 0, 0]]
    assert video_class[0].item() == 1 and has_event.tolist() == [True, False]


def test_consistency_loss_by_hand() -> None:
    # clip 0: event segment at distance 0, background segment at distance 5 (3-4-5), margin 6 -> 0 + 1
    # clip 1: event segment at distance 2 -> 2; background segment at distance 7 >= margin -> 0
    visual = torch.tensor([[[0.0, 0.0], [3.0, 4.0]], [[2.0, 0.0], [7.0, 0.0]]])
    audio = torch.zeros(2, 2, 2)
    is_event = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    got = consistency_loss(visual, audio, is_event, margin=6.0)
    assert math.isclose(got.item(), ((0 + 1) + (2 + 0)) / 2, rel_tol=1e-6)  # sum over t, mean over clips


def test_fully_loss_terms_by_hand() -> None:
    # one clip of two segments (event of class 1, background), K = 2 events, C = 3
    labels = _one_hot([[1, 2]], 3)
    out = _output([[0.0, math.log(3.0)]], [[0.0, math.log(3.0)]], gate_logits=[[math.log(3.0), 0.0]],
                  visual=[[[3.0, 4.0], [0.0, 0.5]]])
    terms = fully_loss(out, labels, consistency_weight=0.01, margin=1.0)
    relevance = (-math.log(0.5) - math.log(1.0 - 0.75)) / 2  # sigmoid(0) = .5 vs 1; sigmoid(ln 3) = .75 vs 0
    category = -math.log(3.0 / 4.0)  # softmax([0, ln3])[1]
    gate = -math.log(1.0 / 4.0)  # softmax([ln3, 0])[1]
    consistency = 5.0 + (1.0 - 0.5)  # event at distance 5; background at 0.5 < margin 1
    for key, want in [("relevance", relevance), ("category", category), ("gate", gate), ("consistency", consistency)]:
        assert math.isclose(terms[key].item(), want, rel_tol=1e-5), key
    total = relevance + category + gate + 0.01 * consistency
    assert math.isclose(terms["total"].item(), total, rel_tol=1e-5)


def test_all_background_clips_leave_the_class_terms_out() -> None:
    labels = _one_hot([[0, 2], [2, 2]], 3)
    out = _output([[0.0, 0.0], [0.0, 0.0]], [[math.log(3.0), 0.0], [5.0, -5.0]])
    assert math.isclose(fully_loss(out, labels)["category"].item(), -math.log(0.75), rel_tol=1e-5)
    only_bg = fully_loss(_output([[0.0, 0.0]], [[1.0, 2.0]]), _one_hot([[2, 2]], 3))
    assert only_bg["category"].item() == 0.0 and only_bg["gate"].item() == 0.0
    assert torch.isfinite(only_bg["total"])


def test_mil_pooling_and_weakly_loss_by_hand() -> None:
    # T = 2, K = 2: s^r = .75 / .25, class probabilities (.25, .75)
    relevance = [[math.log(3.0), -math.log(3.0)]]
    class_logits = [[0.0, math.log(3.0)]]
    joint = joint_log_scores(torch.tensor(relevance), torch.tensor(class_logits)).exp()
    want = torch.tensor([[[0.75 * 0.25, 0.75 * 0.75, 0.25], [0.25 * 0.25, 0.25 * 0.75, 0.75]]])
    torch.testing.assert_close(joint, want)
    pooled = mil_pool(joint.log()).exp()
    torch.testing.assert_close(pooled, want.mean(dim=1))  # mean over the segments
    target = torch.tensor([[0.0, 0.5, 0.5]])  # half event of class 1, half background
    terms = weakly_loss(_output(relevance, class_logits, gate_logits=[[0.0, math.log(3.0)]]), target)
    mil = -(0.5 * math.log(pooled[0, 1].item()) + 0.5 * math.log(pooled[0, 2].item()))
    assert math.isclose(terms["mil"].item(), mil, rel_tol=1e-5)
    assert math.isclose(terms["gate"].item(), -math.log(0.75), rel_tol=1e-5)
    assert math.isclose(terms["total"].item(), mil - math.log(0.75), rel_tol=1e-5)


def test_weakly_loss_stays_finite_when_relevance_saturates() -> None:
    out = _output([[60.0, 60.0]], [[0.0, 0.0]])
    loss = weakly_loss(out, torch.tensor([[0.0, 0.5, 0.5]]))["mil"]
    assert torch.isfinite(loss) and loss.item() > 20.0  # log(1 - sigmoid(60)) ~ -60, not -inf


def test_weakly_objective_only_sees_the_video_target() -> None:
    out = _output([[0.3, -0.2, 0.1]], [[0.2, -0.1]])
    a, b = _one_hot([[0, 0, 2]], 3), _one_hot([[2, 0, 0]], 3)  # same time-average, other order
    la, lb = avsgn_loss(out, a, "weakly")["total"], avsgn_loss(out, b, "weakly")["total"]
    assert la.item() == lb.item()
    assert avsgn_loss(out, a, "fully")["total"].item() != avsgn_loss(out, b, "fully")["total"].item()


# ---------------------------------------------------------------- learning on a toy problem

K, DIM = 4, 48


def _toy(n: int, seed: int, protos: tuple[torch.Tensor, torch.Tensor]):
    """AVE-like clips: one class per clip on a span of >= 3 segments, class prototypes + noise on
    event segments, noise only on background segments (both modalities)."""
    g = torch.Generator().manual_seed(seed)
    cls = torch.randint(0, K, (n,), generator=g)
    lab = torch.full((n, 10), K)
    for i in range(n):
        s = int(torch.randint(0, 4, (1,), generator=g))
        e = int(torch.randint(max(s + 3, 7), 11, (1,), generator=g))
        lab[i, s:e] = cls[i]
    ev = (lab < K).float().unsqueeze(-1)
    idx = lab.clamp(max=K - 1)
    visual = ev * protos[0][idx] + 0.8 * torch.randn(n, 10, DIM, generator=g)
    audio = ev * protos[1][idx] + 0.8 * torch.randn(n, 10, DIM, generator=g)
    return audio, visual, torch.nn.functional.one_hot(lab, K + 1).float()


def _train(supervision: str, steps: int):
    g = torch.Generator().manual_seed(1)
    protos = (torch.randn(K, DIM, generator=g), torch.randn(K, DIM, generator=g))
    text = (torch.randn(K, DIM, generator=g), torch.randn(K, DIM, generator=g))
    train, test = _toy(96, 2, protos), _toy(64, 3, protos)
    torch.manual_seed(0)
    cfg = AVSGNConfig(visual_dim=DIM, audio_dim=DIM, text_dim=DIM, model_dim=32, hidden_dim=32, intra_heads=2,
                      num_classes=K + 1, supervision=supervision)
    model = AVSGN(cfg)
    model.set_label_text(*text)
    opt, _ = make_optimizer(model, AVSGNTrainConfig(lr=1e-3))
    pick = torch.Generator().manual_seed(5)
    losses = []
    for _ in range(steps):
        i = torch.randint(0, 96, (32,), generator=pick)
        loss = batch_loss(model, train[0][i], train[1][i], train[2][i])["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses, test


def _baselines(labels: torch.Tensor) -> tuple[float, float]:
    """Accuracy (%) of 'all background' and of 'the clip's class on every segment'."""
    target = labels.argmax(-1)
    all_bg = (target == K).float().mean().item() * 100
    clip_class = labels[..., :K].sum(1).argmax(-1, keepdim=True).expand_as(target)
    return all_bg, (clip_class == target).float().mean().item() * 100


def test_fully_supervised_learns_the_toy_problem() -> None:
    model, losses, (audio, visual, labels) = _train("fully", 120)
    acc = evaluate(model, audio, visual, labels)
    all_bg, clip_class = _baselines(labels)
    assert sum(losses[-10:]) / 10 < 0.6 * sum(losses[:10]) / 10
    # localises: better than both trivial answers (background everywhere, clip class everywhere)
    assert acc >= 90.0 and acc > clip_class + 10.0 and acc > all_bg + 40.0, (acc, clip_class, all_bg)


def test_weakly_supervised_learns_the_video_class_from_video_labels_only() -> None:
    model, losses, (audio, visual, labels) = _train("weakly", 120)
    acc = evaluate(model, audio, visual, labels)
    all_bg, clip_class = _baselines(labels)
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:10]) / 10
    model.eval()
    with torch.no_grad():
        out = model(audio, visual)
    video_acc = (out.class_logits.argmax(-1) == labels[..., :K].sum(1).argmax(-1)).float().mean().item()
    assert video_acc >= 0.9
    # Mean-pooled MIL gives every segment of a clip the same gradient, so localisation only comes
    # from features shared across clips; we require what it can reach: far above all-background.
    assert acc >= 60.0 and acc > all_bg + 30.0, (acc, clip_class, all_bg)
