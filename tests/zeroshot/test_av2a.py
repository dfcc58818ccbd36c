"""AV²A (avlocate/zeroshot/av2a.py), step by step on hand-made inputs whose answers are worked out
here, then the whole method on a bundled sample with stand-in encoders (no open_clip/laion_clap)."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from avlocate.errors import UsageError
from avlocate.timeline import Timeline
from avlocate.zeroshot import av2a as A
from avlocate.zeroshot import methods

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the stand-in encoders of test_live_zeroshot.py
from test_live_zeroshot import DEMO, LABELS, BandClap, ColourClip  # noqa: E402

torch.set_num_threads(1)


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# -- step 2: z-score over the labels, then a sigmoid -------------------------------------------
def test_zscore_sigmoid_by_hand():
    # [1, 2, 3]: mean 2, unbiased std 1 -> z = [-1, 0, 1]
    got = A.zscore_sigmoid(torch.tensor([[1.0, 2.0, 3.0], [0.3, 0.3, 0.3]]))
    assert got[0].tolist() == pytest.approx([sig(-1), 0.5, sig(1)], abs=1e-12)
    assert got[1].tolist() == [0.5, 0.5, 0.5]  # no spread: no information
    assert A.zscore_sigmoid(torch.tensor([0.9])).tolist() == [0.5]  # one label: no list to score against
    # scores are per frame: shifting or scaling a frame's similarities changes nothing
    x = torch.tensor([0.1, 0.4, 0.2, 0.3])
    assert torch.allclose(A.zscore_sigmoid(x), A.zscore_sigmoid(3 * x + 1))


def test_two_labels_can_never_reach_the_starting_threshold():
    """Two values z-score to +-1/sqrt(2): sigmoid 0.67 < 0.75, whatever the input (hence the
    8-label minimum of the default choice)."""
    g = torch.Generator().manual_seed(0)
    s = A.zscore_sigmoid(torch.randn(100, 2, generator=g))
    assert float(s.max()) == pytest.approx(sig(1 / math.sqrt(2)), abs=1e-9) and float(s.max()) < 0.75
    text = A.Av2aText(("a", "b"), torch.randn(2, 4, generator=g), torch.randn(2, 3, generator=g))
    assert A.clip_segments(torch.randn(10, 4, generator=g), torch.randn(10, 3, generator=g), text, A.Av2aConfig()) == []


# -- steps 3-4: fusion and the class filter ---------------------------------------------------
def test_fusion_weights_audio_by_alpha_as_the_official_code():
    got = A.fuse(torch.tensor([0.8]), torch.tensor([0.4]), 0.45)
    assert got.tolist() == pytest.approx([0.55 * 0.8 + 0.45 * 0.4])  # 0.62


def test_class_filter_keeps_labels_strictly_above():
    assert A.class_filter(torch.tensor([0.6, 0.5, 0.49, 0.9]), 0.5).tolist() == [0, 3]
    assert A.class_filter(torch.tensor([0.1, 0.2]), 0.5).tolist() == []


def test_pooled_scores_average_the_frames_similarities():
    # two labels on axes x, y; frames at x then y: mean similarities equal -> 0.5 each
    text = A.Av2aText(("x", "y"), torch.eye(2), torch.eye(2))
    frames = torch.eye(2)
    assert A.pooled_scores(frames, frames, text, 0.45).tolist() == pytest.approx([0.5, 0.5])
    # three labels, frames all at x: similarities [1, 0, 0] -> z = [2/sqrt(3), -1/sqrt(3), -1/sqrt(3)]
    text3 = A.Av2aText(("x", "y", "z"), torch.eye(3), torch.eye(3))
    x = torch.tensor([[1.0, 0.0, 0.0]] * 3)
    want = [sig(2 / math.sqrt(3)), sig(-1 / math.sqrt(3)), sig(-1 / math.sqrt(3))]
    assert A.pooled_scores(x, x, text3, 0.45).tolist() == pytest.approx(want)


# -- step 5: thresholds -------------------------------------------------------------------------
S = torch.tensor([[0.8, 0.1], [0.5, 0.05], [0.2, 0.2]], dtype=torch.float64)
E1 = math.exp(-1)


def test_threshold_decay_without_cosine_or_bbse():
    thr = A.dynamic_thresholds(S, 0.75, 1.0, None, use_bbse=False)
    # frame 0: label 0 fires (0.8 > 0.75): counts [1, 0]; steps 0.75 e^-1, 0.75 e^0
    assert thr[0].tolist() == [0.75, 0.75]
    assert thr[1].tolist() == pytest.approx([0.75 - 0.75 * E1, 0.0])
    # frame 1: 0.5 > 0.4741 and 0.05 > 0.0 -> counts [2, 1]
    assert thr[2].tolist() == pytest.approx([0.75 - 0.75 * E1 - 0.75 * math.exp(-2), -0.75 * E1])


def test_threshold_decay_scaled_by_the_cosine_of_consecutive_frames():
    emb = torch.tensor([[1.0, 0.0], [0.5, math.sqrt(0.75)], [0.5, math.sqrt(0.75)]])
    cos = A.consecutive_cosines(emb)
    assert cos.tolist() == pytest.approx([0.5, 1.0])
    thr = A.dynamic_thresholds(S, 0.75, 1.0, cos, use_bbse=False)
    assert thr[1].tolist() == pytest.approx([0.75 - 0.5 * 0.75 * E1, 0.75 - 0.5 * 0.75])
    # frame 1 fires nothing (0.5 < 0.612, 0.05 < 0.375): counts stay [1, 0]
    assert thr[2].tolist() == pytest.approx([0.75 - 1.5 * 0.75 * E1, 0.75 - 1.5 * 0.75])
    # opposite frames: the cosine is clipped to 0 and the thresholds stay
    assert A.consecutive_cosines(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])).tolist() == [0.0]


def test_bbse_ratio_by_hand():
    # C = s^T y = [[0.8, 0], [0.2, 0]]; (C^T C + I) w = C^T mu -> w = [0.56 / 1.68, 0]; ratio w * mu
    got = A.bbse_ratio(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.8, 0.2]]), torch.tensor([0.6, 0.4]))
    assert got.tolist() == pytest.approx([0.6 / 3, 0.0])
    # nothing fired yet: C = 0, the ratio is 0
    assert A.bbse_ratio(torch.zeros(2, 2), torch.rand(2, 2), torch.rand(2)).tolist() == [0.0, 0.0]


def test_threshold_decay_scaled_by_bbse_and_frozen_until_a_first_firing():
    s = torch.tensor([[0.8, 0.2], [0.6, 0.4]], dtype=torch.float64)
    thr = A.dynamic_thresholds(s, 0.75, 1.0, None, use_bbse=True)
    assert thr[1].tolist() == pytest.approx([0.75 - 0.75 * E1 * 0.2, 0.75])
    quiet = torch.full((5, 3), 0.7, dtype=torch.float64)
    assert torch.equal(A.dynamic_thresholds(quiet, 0.75, 1.0, None, True), torch.full((5, 3), 0.75, dtype=torch.float64))


# -- step 6: runs ---------------------------------------------------------------------------------
def test_runs_drop_single_frames_then_merge_across_one_frame_gaps():
    fired = torch.tensor([[1, 1, 0, 1, 1, 0, 0, 1, 0, 1],
                          [0, 1, 0, 0, 0, 0, 0, 0, 1, 1],
                          [1, 1, 0, 0, 1, 1, 0, 0, 0, 0]]).T.bool()
    got = [(g.label, g.first, g.end) for g in A.build_runs(fired)]
    # label 0: [0,2) + [3,5) merged (gap 1), singles at 7 and 9 dropped; label 1: [8,10);
    # label 2: [0,2) and [4,6) stay apart (gap 2)
    assert got == [(0, 0, 5), (2, 0, 2), (2, 4, 6), (1, 8, 10)]


# -- step 7: refinement and fallback --------------------------------------------------------------
def _scores_of(table):
    return lambda first, end: torch.tensor(table[(first, end)], dtype=torch.float64)


def test_refinement_keeps_segments_whose_label_passes():
    cands = [A.Segment(0, 0, 3), A.Segment(1, 4, 8)]
    table = {(0, 3): [0.8, 0.3], (4, 8): [0.9, 0.6]}
    kept = A.refine(cands, _scores_of(table), 0.75)
    assert [(g.label, g.first, g.end, g.score) for g in kept] == [(0, 0, 3, 0.8)]
    # AVE: the segment's label must be its top label
    table2 = {(0, 3): [0.6, 0.3], (4, 8): [0.9, 0.7]}
    assert [(g.label, g.first) for g in A.refine(cands, _scores_of(table2), 0.75, top_label=True)] == [(0, 0)]


def test_refinement_falls_back_to_the_best_segment_and_keeps_a_lone_one():
    cands = [A.Segment(0, 0, 3), A.Segment(1, 4, 8), A.Segment(0, 6, 9)]
    table = {(0, 3): [0.5, 0.1], (4, 8): [0.2, 0.7], (6, 9): [0.6, 0.2]}
    kept = A.refine(cands, _scores_of(table), 0.75)
    assert [(g.label, g.first, g.end, g.score) for g in kept] == [(1, 4, 8, 0.7)]
    lone = A.refine([A.Segment(1, 2, 5)], _scores_of({(2, 5): [0.9, 0.1]}), 0.75)
    assert [(g.label, g.first, g.end, g.score) for g in lone] == [(1, 2, 5, 0.1)]


# -- beyond one clip -------------------------------------------------------------------------------
def test_segments_of_adjacent_clips_are_joined():
    got = A.join([A.Segment(0, 7, 10, 0.8), A.Segment(0, 10, 13, 0.6), A.Segment(1, 5, 10, 0.9),
                  A.Segment(1, 12, 15, 0.9), A.Segment(2, 8, 10, 0.5), A.Segment(2, 11, 14, 0.7)])
    assert [(g.label, g.first, g.end) for g in got] == [(1, 5, 10), (0, 7, 13), (2, 8, 14), (1, 12, 15)]
    assert got[1].score == pytest.approx(0.7) and got[2].score == pytest.approx((0.5 * 2 + 0.7 * 3) / 5)


def test_each_clip_is_analysed_on_its_own():
    """A 25-frame video = clips [0, 10), [10, 20), [20, 25): the result is the clips' results."""
    g = torch.Generator().manual_seed(3)
    k = 9
    text = A.Av2aText(tuple(f"l{i}" for i in range(k)), torch.randn(k, 6, generator=g), torch.randn(k, 5, generator=g))
    rows = torch.tensor([0] * 6 + [3] * 9 + [5] * 10)
    v = text.visual[rows] + 0.2 * torch.randn(25, 6, generator=g)
    a = text.audio[rows] + 0.2 * torch.randn(25, 5, generator=g)
    cfg = A.Av2aConfig()
    whole = A.locate_segments(v, a, text, cfg, clip_frames=10)
    parts = []
    for s in (0, 10, 20):
        parts += [A.Segment(x.label, x.first + s, x.end + s, x.score) for x in A.clip_segments(v[s:s + 10], a[s:s + 10], text, cfg)]
    assert whole == A.join(parts) and whole  # not vacuous
    events = A.to_events(whole, text.labels, Timeline(1.0, 1, 1, 24.6))
    assert all(0 <= e.start < e.end <= 24.6 for e in events)
    assert {e.label for e in events} <= {"l0", "l3", "l5"}


# -- method choice ---------------------------------------------------------------------------------
def test_default_method_is_av2a_for_a_vocabulary_and_softmax_min_for_a_short_list():
    assert methods.resolve(None, None, 28) == "av2a" and methods.resolve(None, None, 7) == "softmax-min"
    assert methods.resolve("AV2A", None, 2) == "av2a"
    with pytest.raises(UsageError, match="--zs-method"):
        methods.resolve("best", None, 10)
    with pytest.raises(UsageError, match="at least 2 labels"):
        A.check_labels(["dog"])
    cfg = methods.extractor_config("av2a")
    assert (cfg.hop_seconds, cfg.window_hops, cfg.clip_arch, cfg.clip_tag) == (1.0, 1, "ViT-B-32-quickgelu", "openai")
    assert methods.weight_files("av2a")[0] == "clip_ViT-B-32-quickgelu_openai.safetensors"
    assert methods.weight_files("softmax-min")[0] == "clip_ViT-B-32_laion2b_s34b_b79k.safetensors"


# -- the whole method with stand-in encoders -------------------------------------------------------
EIGHT = list(LABELS) + ["piano", "dog barking", "cat", "car horn"]


def av2a_model(**options):  # noqa: ANN201 - a LoadedModel through the one door, stand-in encoders
    from avlocate.features.clip_clap.extractor import ClipClapExtractor
    from door import zeroshot_model

    ex = ClipClapExtractor(methods.extractor_config("av2a", device="cpu"), clip_encoder=ColourClip(),
                           clap_encoder=BandClap())
    return zeroshot_model(EIGHT, extractor=ex, **options)


def test_whole_method_finds_demo1s_bells_with_stand_in_encoders():
    """demo1 (samples/demo1.json): bells at 6.6-9.9 s and 12.8-15.7 s, a drum heard without its
    diamond, a green triangle without engine noise. On the 1-s grid AV²A reports the two bells
    (whole seconds covering them) and neither distractor."""
    zs = av2a_model(scores=True)
    assert zs.head.method == "av2a"  # the default for 8 labels
    res = zs.locate(DEMO)
    assert res.extra["zs_method"] == "av2a" and res.model == "zeroshot"
    assert res.weights == "clip: stand-in colour-coverage; clap: stand-in band-rms"
    assert [(e.label, e.start, e.end) for e in res.events] == [("bell", 7.0, 10.0), ("bell", 13.0, 16.0)]
    assert all(0.75 < e.score <= 1.0 for e in res.events)
    assert len(res.extra["scores"]["values"]) == 18 and len(res.extra["scores"]["values"][0]) == 8
    with pytest.raises(UsageError, match="--per-modality"):
        av2a_model(per_modality=True)
    assert av2a_model(threshold=1.0).locate(DEMO).events == []  # nothing can pass a threshold of 1


def test_av2a_prompts_are_the_papers():
    seen = {}

    class Recorder:
        def __init__(self, key):
            self.key = key

        def encode_text(self, texts, batch_size=64):
            seen[self.key] = list(texts)
            return torch.eye(len(texts), 4)

    text = A.build_text(Recorder("clip"), Recorder("clap"), ["Church bell", "Bark"])
    assert seen == {"clip": ["A Church bell", "A Bark"], "clap": ["This is a sound of Church bell", "This is a sound of Bark"]}
    assert text.labels == ("Church bell", "Bark") and text.visual.shape == (2, 4)
