"""Zero-shot scoring and decoding on constructed embedding sequences (no encoders needed).

Text bank: label k is the unit vector e_k, background is e_K. A snippet "shows"/"sounds" label k
when its embedding points mostly at e_k, otherwise it points at the background. Snippets are 1-s
windows every 0.5 s (the zero-shot default), so the truth is known to the snippet.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from avlocate.timeline import Timeline
from avlocate.zeroshot.prompts import TextBank
from avlocate.zeroshot.scoring import (ZeroShotConfig, decode, fuse, hysteresis_runs, score_snippets, smooth,
                                       smoothing_width)

torch.set_num_threads(1)
TL = Timeline(fps=2.0, window=2, stride=1)  # window i = [0.5 i, 0.5 i + 1] s, centre 0.5 i + 0.5
HOP = TL.step_seconds
LABELS = ("bell", "drum", "siren")


def bank(k: int = len(LABELS)) -> TextBank:
    eye = torch.eye(k + 1)
    return TextBank(LABELS[:k], eye, eye.clone())


def stream(n: int, spans: dict[int, tuple[float, float]], seed: int, k: int = len(LABELS)) -> torch.Tensor:
    """(n, K+1) embeddings: windows whose centre lies in a label's [start, end] point at it."""
    g = torch.Generator().manual_seed(seed)
    emb = torch.zeros(n, k + 1)
    emb[:, k] = 1.0
    centres = TL.centres(n)
    for label, (a, b) in spans.items():
        inside = (centres >= a) & (centres <= b)
        emb[inside] = 0.0
        emb[inside, label] = 1.0
        emb[inside, k] = 0.3  # real embeddings are never pure
    return F.normalize(emb + 0.02 * torch.randn(n, k + 1, generator=g), dim=-1)


def run(visual_spans, audio_spans, n=30, per_modality=False, **cfg):
    config = ZeroShotConfig(**cfg)
    scores = score_snippets(stream(n, visual_spans, 1), stream(n, audio_spans, 2), bank(), HOP, config)
    return scores, decode(scores, TL.with_duration(0.5 * (n - 1) + 1.0), config, per_modality)


def test_an_event_seen_and_heard_is_found_with_boundaries_within_one_hop():
    scores, events = run({0: (3.0, 7.0)}, {0: (3.0, 7.0)})
    assert [e.label for e in events] == ["bell"] and events[0].modality is None
    assert abs(events[0].start - 3.0) <= HOP and abs(events[0].end - 7.0) <= HOP
    assert 0.5 < events[0].score <= 1.0
    assert scores.av.shape == (30, 3)


def test_single_modality_distractors_are_rejected_but_reported_per_modality():
    vis, aud = {0: (3.0, 7.0), 2: (9.0, 12.0)}, {0: (3.0, 7.0), 1: (9.5, 13.0)}
    _, events = run(vis, aud)
    assert [(e.label, e.modality) for e in events] == [("bell", None)]  # siren only seen, drum only heard
    _, events = run(vis, aud, per_modality=True)
    got = {(e.label, e.modality): e for e in events}
    assert set(got) == {("bell", None), ("drum", "audio"), ("siren", "visual")}
    assert abs(got["drum", "audio"].start - 9.5) <= HOP and abs(got["drum", "audio"].end - 13.0) <= HOP
    assert abs(got["siren", "visual"].start - 9.0) <= HOP and abs(got["siren", "visual"].end - 12.0) <= HOP


def test_overlapping_events_of_different_labels_and_a_modality_lag():
    # audio of drum starts 1 s after its picture: the AV event is where both hold
    _, events = run({0: (2.0, 6.0), 1: (4.0, 10.0)}, {0: (2.0, 6.0), 1: (5.0, 10.0)})
    got = {e.label: e for e in events}
    assert set(got) == {"bell", "drum"}
    assert abs(got["drum"].start - 5.0) <= HOP and abs(got["drum"].end - 10.0) <= HOP


def test_events_at_the_video_edges_start_at_zero_and_end_at_the_last_window():
    n = 20  # last window ends at 10.5 s
    _, events = run({1: (0.0, 2.5), 2: (8.0, 20.0)}, {1: (0.0, 2.5), 2: (8.0, 20.0)}, n=n)
    got = {e.label: e for e in events}
    assert got["drum"].start == 0.0 and abs(got["drum"].end - 2.5) <= HOP
    assert got["siren"].end == pytest.approx(10.5) and abs(got["siren"].start - 8.0) <= HOP


def test_min_duration_drops_short_events():
    spans = {0: (3.0, 3.5)}  # two windows: a 1-s event
    _, events = run(spans, spans, smoothing_seconds=0.0, min_duration=0.0)
    assert len(events) == 1 and events[0].end - events[0].start == pytest.approx(1.0)
    _, events = run(spans, spans, smoothing_seconds=0.0, min_duration=1.5)
    assert events == []


def test_smoothing_bridges_a_one_snippet_dip_that_splits_the_raw_sequence():
    vis = {0: (2.0, 9.0)}
    centres = TL.centres(30)
    head, tail = stream(30, {0: (2.0, 5.0)}, 2), stream(30, {0: (6.0, 9.0)}, 3)
    audio = torch.where((centres > 5.7)[:, None], tail, head)  # only the window centred at 5.5 s is silent
    for smoothing, expected in ((0.0, 2), (1.0, 1)):
        cfg = ZeroShotConfig(smoothing_seconds=smoothing, low_threshold=0.35, threshold=0.35)
        scores = score_snippets(stream(30, vis, 1), audio, bank(), HOP, cfg)
        events = decode(scores, TL, cfg)
        assert len(events) == expected, (smoothing, events)


def test_smooth_is_an_edge_normalised_centred_moving_average():
    x = torch.zeros(7, 2)
    x[3, 0] = 1.0
    x[:, 1] = 0.4
    y = smooth(x, 3)
    assert torch.allclose(y[:, 0], torch.tensor([0, 0, 1 / 3, 1 / 3, 1 / 3, 0, 0]))
    assert torch.allclose(y[:, 1], torch.full((7,), 0.4))  # constants survive at the edges
    assert smoothing_width(1.0, 0.5) == 3 and smoothing_width(0.4, 0.5) == 1 and smoothing_width(2.0, 0.5) == 5


def test_fusion_is_high_only_when_both_agree():
    a = torch.tensor([0.9, 0.9, 0.1, 0.6])
    v = torch.tensor([0.9, 0.1, 0.9, 0.6])
    geo, mn = fuse(a, v, "geometric"), fuse(a, v, "min")
    assert torch.allclose(geo, torch.tensor([0.9, 0.3, 0.3, 0.6]))
    assert torch.allclose(mn, torch.tensor([0.9, 0.1, 0.1, 0.6]))
    assert (mn <= geo + 1e-7).all()
    with pytest.raises(ValueError):
        ZeroShotConfig(fusion="mean")


def test_hysteresis_needs_the_high_level_and_extends_over_the_low_one():
    s = torch.tensor([[0.0, 0.3, 0.5, 0.9, 0.5, 0.3, 0.0, 0.5, 0.5, 0.0]]).T  # one label
    runs = hysteresis_runs(s, high=0.8, low=0.4)
    assert runs.first.tolist() == [2] and runs.last.tolist() == [4]  # the second run never reaches 0.8
    assert runs.score.tolist() == pytest.approx([(0.5 + 0.9 + 0.5) / 3])
    two = torch.cat([s, s.flip(0)], dim=1)  # labels never merge across columns
    runs = hysteresis_runs(two, high=0.8, low=0.4)
    assert sorted(zip(runs.label.tolist(), runs.first.tolist(), runs.last.tolist())) == [(0, 2, 4), (1, 5, 7)]
    trimmed = hysteresis_runs(s, high=0.8, low=0.4, edge_fraction=0.6)  # ends need >= 0.54
    assert (trimmed.first.tolist(), trimmed.last.tolist(), trimmed.score.tolist()) == ([3], [3], [pytest.approx(0.9)])
    assert hysteresis_runs(torch.zeros(0, 3), 0.5, 0.3).first.numel() == 0


def test_threshold_trades_recall_for_precision():
    vis, aud = {0: (3.0, 7.0)}, {0: (3.0, 7.0)}
    soft = dict(visual_temperature=0.5, audio_temperature=0.5)  # unsaturated probabilities
    scores, _ = run(vis, aud, **soft)
    peak = float(scores.av[:, 0].max())
    assert 0.3 < peak < 0.95
    assert run(vis, aud, threshold=peak + 0.01, **soft)[1] == []
    assert len(run(vis, aud, threshold=peak - 0.01, **soft)[1]) == 1


def test_one_confident_modality_cannot_carry_an_uninformative_one():
    n = 20
    vis = stream(n, {0: (2.0, 8.0)}, 1)
    shrug = F.normalize(torch.ones(n, len(LABELS) + 1), dim=-1)  # equally close to every prompt: uniform softmax
    for cfg, found in ((ZeroShotConfig(), 0), (ZeroShotConfig(fusion="geometric"), 0),
                       (ZeroShotConfig(fusion="geometric", chance_correction=False), 1)):
        events = decode(score_snippets(vis, shrug, bank(), HOP, cfg), TL, cfg)
        assert len(events) == found, cfg  # the last one is the failure mode the defaults avoid


def test_chance_correction_maps_chance_to_zero_for_any_vocabulary_size():
    from avlocate.zeroshot.scoring import above_chance

    assert above_chance(torch.tensor([0.5, 0.75, 1.0, 0.2]), 1).tolist() == pytest.approx([0.0, 0.5, 1.0, 0.0])
    assert above_chance(torch.tensor([0.01, 1.0]), 99).tolist() == pytest.approx([0.0, 1.0])
