"""``--live`` with a 1-second segment head (VSCG): every second decided once, as the file run.

A seeded random VSCG whose relevance bias sits near its 0.7 event threshold, so that the
seconds fall into events of several labels and into background: the events the live locator
prints, block by block, must be the file run's (``LoadedModel.predict`` on all features at
once), for streams shorter than one window, exactly one window, and longer ones with and
without an end-aligned last window.
"""
from __future__ import annotations

import pytest
import torch

from avlocate.features.base import Features
from avlocate.pipeline.models import LoadedModel
from avlocate.runners.live.segments import SegmentLiveLocator
from avlocate.timeline import Timeline
from avlocate.weights.card import ModelCard

CLASSES = [f"class{i}" for i in range(28)]


@pytest.fixture(scope="module")
def model() -> LoadedModel:
    from avlocate.heads.segment.vscg import VSCG

    torch.manual_seed(0)
    head = VSCG().eval()
    with torch.no_grad():
        head.relevance.bias.fill_(0.85)  # around the 0.7 rule: some seconds background, some events
    card = ModelCard(name="tiny-vscg", head="vscg", extractor="test", classes=CLASSES, weights_file="none",
                     decode={"kind": "segments"})
    return LoadedModel(card, head, extractor=None, weights_id="none", device=torch.device("cpu"))


def _features(seconds: int, seed: int) -> Features:
    g = torch.Generator().manual_seed(seed)
    # slow changes (a new "scene" every 3 s) so that labels form runs, as in a real video
    scene = torch.randint(0, 4, (seconds,), generator=g) if seconds else torch.zeros(0, dtype=torch.long)
    scene = torch.repeat_interleave(scene[::3], 3)[:seconds] if seconds else scene
    protos_v = torch.relu(torch.randn(4, 7 * 7 * 512, generator=g))
    protos_a = torch.randn(4, 128, generator=g)
    visual = protos_v[scene] + 0.1 * torch.relu(torch.randn(seconds, 7 * 7 * 512, generator=g))
    audio = protos_a[scene] + 0.1 * torch.randn(seconds, 128, generator=g)
    return Features(visual, audio, Timeline(1, 1, 1, duration=float(seconds)), "test", visual_shape=(7, 7, 512))


def _live(model: LoadedModel, feats: Features, block: int, threshold: float | None = None):
    locator = SegmentLiveLocator(model, threshold)
    printed, most_held = [], 0
    for first in range(0, feats.num_snippets, block):
        part = Features(feats.visual[first:first + block], feats.audio[first:first + block],
                        feats.timeline.with_duration(None), "test", visual_shape=feats.visual_shape)
        locator.add(part)
        printed += locator.step_closed()
        most_held = max(most_held, len(locator.audio), len(locator.sums))
    printed += locator.flush(feats.timeline.duration)
    return printed, most_held


@pytest.mark.parametrize("seconds", [7, 10, 19, 25, 41])
@pytest.mark.parametrize("block", [1, 2, 3])
def test_live_segments_equal_the_file_run(model, seconds, block):
    feats = _features(seconds, seed=seconds)
    want, _ = model.predict(feats)
    printed, most_held = _live(model, feats, block)
    got = [c.event for c in printed]
    assert [(e.label, e.start, e.end) for e in got] == [(e.label, e.start, e.end) for e in want]
    for g, w in zip(got, want):
        assert g.score == pytest.approx(w.score, abs=1e-5)
    assert most_held <= 10 + 5 + block  # a window and a hop of seconds, however long the stream


def test_live_segments_cover_several_labels_and_background(model):
    """The comparison above is only worth something if the file run has varied events."""
    feats = _features(41, seed=41)
    events, extra = model.predict(feats)
    assert len({e.label for e in events}) >= 2
    assert sum(e.end - e.start for e in events) < 41  # some background seconds


def test_each_event_is_printed_within_the_stated_delay(model):
    feats = _features(41, seed=41)
    printed, _ = _live(model, feats, block=2)
    mid_stream = [c for c in printed if not c.final]
    assert mid_stream, "events must come out before the stream ends"
    for c in mid_stream:
        # decided when the second after the event is out of every window's reach: size + 1
        # seconds of stream past the event's end, plus the block the features come in
        assert c.stream_time - c.event.end <= 10 + 1 + 2, c


def test_threshold_drops_low_scoring_events_as_the_file_run(model):
    feats = _features(25, seed=25)
    scores = sorted(e.score for e in model.predict(feats)[0])
    threshold = scores[len(scores) // 2]
    want = model.predict(feats, threshold=threshold)[0]
    printed, _ = _live(model, feats, block=2, threshold=threshold)
    assert 0 < len(want) < len(scores)
    assert [(c.event.label, c.event.start, c.event.end) for c in printed] == [(e.label, e.start, e.end) for e in want]
