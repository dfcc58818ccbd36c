"""Sliding 10-segment windows over videos of any length (generated inputs)."""
from __future__ import annotations

import pytest
import torch

from avlocate.decode.segments import labels_to_events
from avlocate.heads.segment import VSCG, VSCGWeakly
from avlocate.heads.segment.windows import sliding_segment_probs, window_starts
from avlocate.timeline import Timeline

SECONDS = Timeline(fps=1.0, window=1, stride=1)  # one AVE segment per second


class FeatureEcho(torch.nn.Module):
    """Stand-in head: the class of a segment is read from its audio features (first 29 dims).

    Records the largest batch it was given, to check memory stays bounded.
    """

    def __init__(self) -> None:
        super().__init__()
        self.max_segments_seen = 0

    def segment_probs(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        assert audio.shape[1] == 10 and visual.shape[1] == 10
        self.max_segments_seen = max(self.max_segments_seen, audio.shape[0] * audio.shape[1])
        return torch.softmax(audio[..., :29] * 10.0, dim=-1)

    def labels_from_probs(self, probs: torch.Tensor) -> torch.Tensor:
        return probs.argmax(-1)


class LazySegments:
    """A long video's features, generated per slice and never held at once (like a memmap)."""

    def __init__(self, n: int, shape: tuple[int, ...], event: tuple[int, int, int] | None = None) -> None:
        self.n, self.shape, self.event = n, shape, event

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, sl: slice) -> torch.Tensor:
        idx = torch.arange(self.n)[sl]
        x = torch.zeros(len(idx), *self.shape)
        if self.event is not None and len(self.shape) == 1:
            cls, first, last = self.event
            x[:, 28] = 1.0  # background
            on = (idx >= first) & (idx <= last)
            x[on, 28], x[on, cls] = 0.0, 1.0
        return x


def test_window_starts_cover_everything() -> None:
    assert window_starts(7) == [0]
    assert window_starts(10) == [0]
    assert window_starts(23) == [0, 5, 10, 13]
    assert window_starts(20, hop=10) == [0, 10]
    for n in range(1, 60):
        covered = set()
        for s in window_starts(n, 10, 3):
            covered.update(range(s, min(s + 10, n)))
        assert covered == set(range(n))


def test_event_crossing_a_window_border_is_one_event() -> None:
    n, event = 40, (3, 7, 16)  # class 3 on seconds 7..16: crosses the borders at 10 and 15
    model = FeatureEcho()
    probs = sliding_segment_probs(model, LazySegments(n, (128,), event), LazySegments(n, (1,)), hop=5)
    assert probs.shape == (n, 29)
    labels = model.labels_from_probs(probs)
    scores = probs.gather(1, labels[:, None]).squeeze(1)
    events = labels_to_events(labels, scores, [f"c{i}" for i in range(29)], SECONDS, background=28)
    assert [(e.label, e.start, e.end) for e in events] == [("c3", 7.0, 17.0)]


def test_short_clip_is_padded_and_only_its_segments_come_back() -> None:
    torch.manual_seed(0)
    model = VSCG().eval()
    audio = torch.randn(7, 128)
    visual = torch.relu(torch.randn(7, 7, 7, 512) - 0.5)
    probs = sliding_segment_probs(model, audio, visual)
    assert probs.shape == (7, 29)
    torch.testing.assert_close(probs.sum(-1), torch.ones(7))
    padded_a = torch.cat([audio, audio[-1:].expand(3, 128)])[None]
    padded_v = torch.cat([visual, visual[-1:].expand(3, 7, 7, 512)])[None]
    with torch.no_grad():
        direct = model.segment_probs(padded_a, padded_v)[0, :7]
    torch.testing.assert_close(probs, direct)
    zero = sliding_segment_probs(model, audio, visual, pad="zero")
    assert zero.shape == (7, 29) and not torch.allclose(zero, probs)


def test_one_window_equals_the_plain_forward_and_overlaps_are_averaged() -> None:
    torch.manual_seed(0)
    model = VSCGWeakly()
    model.train()  # the wrapper must switch to eval and back
    audio = torch.randn(15, 128)
    visual = torch.relu(torch.randn(15, 7, 7, 512) - 0.5)
    probs = sliding_segment_probs(model, audio, visual, hop=5)
    assert model.training
    model.eval()
    with torch.no_grad():
        w0 = model.segment_probs(audio[None, :10], visual[None, :10])[0]
        w1 = model.segment_probs(audio[None, 5:], visual[None, 5:])[0]
        torch.testing.assert_close(sliding_segment_probs(model, audio[:10], visual[:10]), w0)
    torch.testing.assert_close(probs[:5], w0[:5])
    torch.testing.assert_close(probs[5:10], 0.5 * (w0[5:] + w1[:5]))
    torch.testing.assert_close(probs[10:], w1[5:])


def test_one_hour_runs_in_bounded_memory() -> None:
    n = 3600
    model = FeatureEcho()
    probs = sliding_segment_probs(model, LazySegments(n, (128,), (5, 100, 3000)), LazySegments(n, (1,)),
                                  batch_windows=16)
    assert probs.shape == (n, 29)
    assert model.max_segments_seen <= 16 * 10  # never more than one batch of windows at once
    labels = probs.argmax(-1)
    assert (labels[100:3001] == 5).all() and (labels[:100] == 28).all() and (labels[3001:] == 28).all()


def test_bad_inputs() -> None:
    model = FeatureEcho()
    with pytest.raises(ValueError, match="segments but visual"):
        sliding_segment_probs(model, torch.zeros(5, 128), torch.zeros(4, 1))
    with pytest.raises(ValueError, match="no complete"):
        sliding_segment_probs(model, torch.zeros(0, 128), torch.zeros(0, 1))
    with pytest.raises(ValueError, match="hop"):
        window_starts(30, hop=0)
