import pytest
import torch

from avlocate.timeline import Timeline


def test_unav_official_conversion():
    tl = Timeline(fps=25, window=24, stride=8)
    t = tl.to_seconds(torch.arange(5), clip=False)
    assert torch.allclose(t, 0.32 * torch.arange(5, dtype=torch.float64) + 0.48)
    assert tl.step_seconds == pytest.approx(0.32)


def test_inverse_and_clipping():
    tl = Timeline(fps=16, window=16, stride=4, duration=3.0)
    idx = torch.tensor([0.0, 1.5, 7.0])
    assert torch.allclose(tl.to_index(tl.to_seconds(idx, clip=False)), idx.double())
    assert tl.to_seconds(-10.0).item() == 0.0
    assert tl.to_seconds(1000.0).item() == 3.0


@pytest.mark.parametrize("frames,expected", [(23, 0), (24, 1), (25, 1), (31, 1), (32, 2), (100, 10)])
def test_num_snippets_drops_partial_window(frames, expected):
    assert Timeline(25, 24, 8).num_snippets(frames) == expected


def test_spans_and_runs():
    tl = Timeline(fps=8, window=4, stride=2)
    spans = tl.spans(3)
    assert spans.tolist() == [[0.0, 0.5], [0.25, 0.75], [0.5, 1.0]]
    start, end = tl.run_to_seconds(torch.tensor([1]), torch.tensor([3]))
    # centres 0.5 .. 1.0, each standing for one 0.25-s step
    assert start.item() == pytest.approx(0.375) and end.item() == pytest.approx(1.125)
