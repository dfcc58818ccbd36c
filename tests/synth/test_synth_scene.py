"""Ground-truth invariants of synthetic scenes (no encoding: fast)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from avlocate.synth import LABELS, scene_from_seed
from avlocate.synth.scene import Interval, Scene

SEEDS = range(500, 560)


def _scenes() -> list[tuple[int, bool, float | None, Scene]]:
    out = []
    for seed in SEEDS:
        overlap = seed % 3 == 0
        duration = None if seed % 2 else 6.0 + (seed % 5) * 0.5  # default 12-24 s and short 6-8 s
        out.append((seed, overlap, duration, scene_from_seed(seed, duration=duration, overlap=overlap)))
    return out


SCENES = _scenes()


def _overlap(a: dict, b: dict) -> float:
    return min(a["end"], b["end"]) - max(a["start"], b["start"])


def test_same_seed_same_scene_and_seeds_differ() -> None:
    for seed, overlap, duration, scene in SCENES[:10]:
        again = scene_from_seed(seed, duration=duration, overlap=overlap)
        assert again == scene
        assert again.ground_truth("v.mp4") == scene.ground_truth("v.mp4")
    gts = {str(s.ground_truth("v.mp4")) for *_, s in SCENES}
    assert len(gts) == len(SCENES)


@pytest.mark.parametrize("seed,overlap,duration,scene", SCENES, ids=[str(s[0]) for s in SCENES])
def test_ground_truth_invariants(seed: int, overlap: bool, duration: float | None, scene: Scene) -> None:
    gt = scene.ground_truth("clip.mp4")
    assert set(gt) == {"video", "duration", "events", "distractors"} and gt["video"] == "clip.mp4"
    if duration is None:
        assert 12.0 <= gt["duration"] <= 24.0
    else:
        assert gt["duration"] == pytest.approx(duration)
    events, distractors = gt["events"], gt["distractors"]
    assert 1 <= len(events) <= 3
    assert [e["start"] for e in events] == sorted(e["start"] for e in events)
    for row in events + distractors:
        assert row["label"] in LABELS
        assert 0.0 <= row["start"] < row["end"] <= gt["duration"]
        for key in ("start", "end"):
            assert row[key] == round(row[key], 3)
    for e in events:
        assert e["end"] - e["start"] >= 1.5 - 1e-9
    for d in distractors:
        assert d["modality"] in ("audio", "visual")
        assert d["end"] - d["start"] >= 1.0 - 1e-9
    assert any(d["modality"] == "visual" for d in distractors)
    assert any(d["modality"] == "audio" for d in distractors)
    # A class's distractor never overlaps that class's audio-visual event (it may touch it when it
    # is the non-overlapping part of a partly overlapping occurrence).
    for d, e in itertools.product(distractors, events):
        if d["label"] == e["label"]:
            assert _overlap(d, e) <= 1e-9
    # Occurrences of one class: never overlapping, >= 1 s apart.
    for a, b in itertools.combinations(scene.occurrences, 2):
        if a.label == b.label:
            assert a.span.end + 1.0 <= b.span.start + 1e-9 or b.span.end + 1.0 <= a.span.start + 1e-9
    # At most two classes active at any instant (checked at every boundary's midpoints).
    bounds = sorted({t for o in scene.occurrences for t in (o.span.start, o.span.end)})
    for lo, hi in zip(bounds, bounds[1:]):
        mid = (lo + hi) / 2
        assert len({o.label for o in scene.occurrences if o.span.contains(mid)}) <= 2
    if overlap:
        assert any(a["label"] != b["label"] and _overlap(a, b) >= 1.5 - 1e-9
                   for a, b in itertools.combinations(events, 2))


def test_ground_truth_is_the_intersection_of_visible_and_audible() -> None:
    """Re-derive the GT from the occurrence intervals on a 1 ms grid and compare."""
    for seed, _, _, scene in SCENES[:20]:
        gt = scene.ground_truth("v.mp4")
        t = np.arange(0, scene.duration, 0.001) + 0.0005
        act = scene.activity(t)
        for k, label in enumerate(LABELS):
            occ = [o for o in scene.occurrences if o.label == label]
            vis = np.zeros(t.size, bool)
            aud = np.zeros(t.size, bool)
            for o in occ:
                if o.visible:
                    vis |= o.visible.contains(t)
                if o.audible:
                    aud |= o.audible.contains(t)

            def mask(rows: list[dict]) -> np.ndarray:
                m = np.zeros(t.size, bool)
                for r in rows:
                    m |= Interval(r["start"], r["end"]).contains(t)
                return m

            ev = mask([e for e in gt["events"] if e["label"] == label])
            dv = mask([d for d in gt["distractors"] if d["label"] == label and d["modality"] == "visual"])
            da = mask([d for d in gt["distractors"] if d["label"] == label and d["modality"] == "audio"])
            assert np.array_equal(ev, vis & aud), (seed, label)
            assert np.array_equal(dv, vis & ~aud), (seed, label)
            assert np.array_equal(da, aud & ~vis), (seed, label)
            assert np.array_equal(act[:, k, 0], vis) and np.array_equal(act[:, k, 1], aud)


def test_partial_overlap_happens() -> None:
    """Some events come from partly overlapping intervals: a same-class distractor touches them."""
    touching = 0
    for *_, scene in SCENES:
        gt = scene.ground_truth("v.mp4")
        touching += sum(1 for d, e in itertools.product(gt["distractors"], gt["events"])
                        if d["label"] == e["label"] and (d["end"] == e["start"] or d["start"] == e["end"]))
    assert touching >= 3


def test_all_classes_appear_in_every_role() -> None:
    roles = {(o.label, o.event is not None, o.visible is not None, o.audible is not None)
             for *_, s in SCENES for o in s.occurrences}
    for label in LABELS:
        assert (label, True, True, True) in roles
        assert (label, False, True, False) in roles
        assert (label, False, False, True) in roles


def test_too_short_duration_is_refused() -> None:
    with pytest.raises(ValueError):
        scene_from_seed(500, duration=3.0)
