"""End to end: the bundled demo model finds the audio-visual events of synthetic videos.

The bar of the foundation issue: every ground-truth event found (right label, tIoU >= 0.5) and
no distractor reported — on the committed samples and on fresh videos made with seeds that were
never used for training (training uses 1000+).
"""
import json

import pytest

import avlocate
from avlocate.metrics.evaluation import match_events, tiou


def _check(result, gt):
    m = match_events(result.events, gt["events"], min_tiou=0.5)
    assert not m.missed, f"missed {m.missed}; found {result.events}"
    for d in gt["distractors"]:
        for ev in m.false_positives:
            assert not (ev.label == d["label"] and tiou((ev.start, ev.end), (d["start"], d["end"])) > 0.0), (
                f"distractor {d} reported as {ev}"
            )
    assert not m.false_positives, f"events without ground truth: {m.false_positives}"


MODELS = [None, "lite-demo"]  # the default (esgnet-demo: a small ESG-Net, a paper architecture), and the lite demo


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", ["demo1", "demo2", "demo3"])
def test_committed_samples(repo_root, name, model):
    video = repo_root / "samples" / f"{name}.mp4"
    gt = json.loads((repo_root / "samples" / f"{name}.json").read_text())
    result = avlocate.locate(str(video), model=model)
    assert result.duration == pytest.approx(gt["duration"], abs=0.1)
    _check(result, gt)


@pytest.fixture(scope="module")
def fresh_samples(tmp_path_factory):
    from avlocate.synth import make_samples

    paths = make_samples(tmp_path_factory.mktemp("fresh"), seed=517, count=4)
    assert len(paths) == 4
    return paths


@pytest.mark.parametrize("model", MODELS)
def test_fresh_unseen_samples(fresh_samples, model):
    for video in fresh_samples:
        gt = json.loads(video.with_suffix(".json").read_text())
        _check(avlocate.locate(str(video), model=model), gt)
