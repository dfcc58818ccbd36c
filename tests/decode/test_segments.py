import pytest
import torch

from avlocate.decode.segments import close_gaps, find_runs, labels_to_events, scores_to_events
from avlocate.timeline import Timeline


def test_find_runs_matches_a_python_reference():
    g = torch.Generator().manual_seed(0)
    active = torch.rand(3, 50, generator=g) > 0.5
    cls, first, last = find_runs(active)
    expected = []
    for k in range(3):
        row = active[k].tolist()
        t = 0
        while t < len(row):
            if row[t]:
                s = t
                while t + 1 < len(row) and row[t + 1]:
                    t += 1
                expected.append((k, s, t))
            t += 1
    assert list(zip(cls.tolist(), first.tolist(), last.tolist())) == expected


def test_close_gaps_only_inner_short_gaps():
    a = torch.tensor([[False, True, False, True, False, False, False, True, False]])
    filled = close_gaps(a, 1)
    assert filled.tolist() == [[False, True, True, True, False, False, False, True, False]]


def test_scores_to_events_threshold_min_duration_and_score():
    tl = Timeline(fps=4, window=2, stride=1, duration=10.0)  # centres 0.25 + 0.25 i
    p = torch.zeros(20, 2)
    p[4:10, 0] = 0.9
    p[12, 1] = 0.95  # a single-snippet blip, removed by min_duration
    events = scores_to_events(p, ["a", "b"], tl, threshold=0.5, min_duration=0.5)
    assert len(events) == 1
    ev = events[0]
    assert ev.label == "a" and ev.score == pytest.approx(0.9)
    assert ev.start == pytest.approx(1.25 - 0.125) and ev.end == pytest.approx(2.5 + 0.125)


def test_labels_to_events_merges_runs_and_drops_background():
    tl = Timeline(fps=1, window=1, stride=1)
    labels = torch.tensor([3, 0, 0, 3, 1, 1, 1, 3])
    scores = torch.tensor([0.1, 0.8, 0.6, 0.2, 0.5, 0.7, 0.9, 0.1])
    events = labels_to_events(labels, scores, ["x", "y", "z", "bg"], tl, background=3)
    assert [(e.label, e.start, e.end) for e in events] == [("x", 1.0, 3.0), ("y", 4.0, 7.0)]
    assert events[1].score == pytest.approx(0.7)
