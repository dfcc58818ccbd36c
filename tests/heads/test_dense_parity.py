"""UnAV and CCNet: parity with the official code on the small reference models (README tolerances).

Every value (model config, test config, cases, lengths, video timing) is read from the reference
folder, so the same tests run on any reference set of the same layout.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from avlocate.decode.dense import DenseDecodeConfig, candidates, decode_video, nms
from avlocate.errors import ModelError
from avlocate.heads.dense.ccnet import CcnetHead
from avlocate.heads.dense.parity import ReferenceSet, match_detections
from avlocate.heads.dense.unav import UnavHead
from avlocate.timeline import Timeline
from avlocate.weights.convert_dense import load_into, load_official_checkpoint

# README section 8 "Recommended checks" (float32)
FEAT_TOL = dict(atol=1e-4, rtol=1e-4)
OUT_TOL = dict(atol=2e-5, rtol=0.0)
SCORE_ATOL = 1e-6
SEG_ATOL = 1e-4
HEADS = {"unav": UnavHead, "ccnet": CcnetHead}
MODELS = list(HEADS)


def build(ref: ReferenceSet, model: str, official_batch_mask: bool = False) -> torch.nn.Module:
    head = HEADS[model]
    cfg = head.config_class.from_official(ref.full_config).replace(official_batch_mask=official_batch_mask)
    net = head(cfg).eval()
    load_into(net, load_official_checkpoint(ref.state_dict_path, model))
    return net


class Fixture:
    """One model's reference set, our models, and our forward of every stored case."""

    def __init__(self, reference_dir, model: str) -> None:
        self.model = model
        self.ref = ReferenceSet(reference_dir / "dense" / model / "small")
        self.nets = {flag: build(self.ref, model, flag) for flag in (False, True)}
        self.out = {}
        with torch.no_grad():
            for case in self.ref.cases_with_outputs():
                v, a, m = (torch.from_numpy(x) for x in self.ref.inputs(case))
                # a mixed-length batch is compared in official-mask mode (the official numbers)
                self.out[case] = self.nets[self.ref.mixed_lengths(case)](v, a, m)


@pytest.fixture(scope="module", params=MODELS)
def fx(request, reference_dir) -> Fixture:
    return Fixture(reference_dir, request.param)


def _batch_cases(ref: ReferenceSet) -> list[str]:
    """The cases of several videos in one batch, mixed-length ones first."""
    batches = [c for c in ref.cases_with_outputs() if len(ref.videos(c)) > 1]
    return sorted(batches, key=lambda c: not ref.mixed_lengths(c))


def _masks_are_unequal(ref: ReferenceSet, case: str) -> bool:
    """Read from the stored batch mask itself, not from the metadata."""
    mask = ref.inputs(case)[2]
    return len({int(row.sum()) for row in mask.reshape(mask.shape[0], -1)}) > 1


def test_reference_has_the_cases(fx):
    """The set has single-video cases and a batch case; a batch is of unequal lengths exactly
    where its metadata says so (the stored masks agree with cases_meta.json)."""
    cases = fx.ref.cases_with_outputs()
    assert any(len(fx.ref.videos(c)) == 1 for c in cases)
    assert _batch_cases(fx.ref), "the reference set has no batch case to check batch invariance on"
    for case in _batch_cases(fx.ref):
        assert fx.ref.mixed_lengths(case) == _masks_are_unequal(fx.ref, case), case


def test_every_official_key_is_used(fx):
    state = load_official_checkpoint(fx.ref.state_dict_path, fx.model)
    assert set(state) == set(fx.nets[False].state_dict())
    assert len(state) == len(torch.load(fx.ref.state_dict_path, weights_only=True))


def test_raw_outputs_match_official(fx):
    ref, a = fx.ref, fx.ref.arrays
    for case, out in fx.out.items():
        assert len(out.logits) == ref.num_levels(case)
        for lv in range(ref.num_levels(case)):
            np.testing.assert_array_equal(out.masks[lv].numpy(), a[f"{case}_fpn_mask_l{lv}"])
            for name, ours, tol in [("backbone_V", out.visual[lv], FEAT_TOL), ("backbone_A", out.audio[lv], FEAT_TOL),
                                    ("fused", out.fused[lv], FEAT_TOL), ("cls_logits", out.logits[lv], OUT_TOL),
                                    ("reg_offsets", out.offsets[lv], OUT_TOL)]:
                theirs = a[f"{case}_{name}_l{lv}"]
                assert tuple(ours.shape) == theirs.shape, (case, name, lv)
                np.testing.assert_allclose(ours.numpy(), theirs, **tol, err_msg=f"{case} {name} l{lv}")
            pts = a[f"{case}_points_l{lv}"]
            np.testing.assert_array_equal(out.points(lv).numpy(), pts[:, 0])
            assert np.all(pts[:, 3] == out.strides[lv])


def test_regression_before_level_scale(fx):
    ref = fx.ref
    for case, out in fx.out.items():
        net = fx.nets[ref.mixed_lengths(case)]
        with torch.no_grad():
            for lv in range(ref.num_levels(case)):
                raw = net.reg_head.raw(out.fused[lv], out.masks[lv][:, None])
                np.testing.assert_allclose(raw.numpy(), ref.arrays[f"{case}_reg_raw_l{lv}"], **OUT_TOL)


def _triple(ref: ReferenceSet, prefix: str, kind: str):
    a = ref.arrays
    segs = a[f"{prefix}_det_segments"] if kind == "det" else a[f"{prefix}_{kind}_segs_grid"]
    return segs, a[f"{prefix}_{kind}_scores"], a[f"{prefix}_{kind}_labels"]


def test_detections_match_official(fx):
    ref = fx.ref
    for case, out in fx.out.items():
        cfg = DenseDecodeConfig.from_official(ref.test_cfg(case))
        for vid, video in enumerate(ref.videos(case)):
            prefix = f"{case}_v{vid}"
            cands = candidates(out.logits, out.offsets, out.masks, out.strides, vid, cfg)
            assert len(cands) == video["num_candidates_pre_nms"], prefix
            got = (cands.segments.numpy(), cands.scores.numpy(), cands.labels.numpy())
            assert not match_detections(_triple(ref, prefix, "cand"), got, SEG_ATOL, SCORE_ATOL, ordered=False), prefix
            kept = nms(cands, cfg)
            got = (kept.segments.numpy(), kept.scores.numpy(), kept.labels.numpy())
            assert not match_detections(_triple(ref, prefix, "nms"), got, SEG_ATOL, SCORE_ATOL), prefix
            tl = Timeline(video["fps"], video["feat_num_frames"], video["feat_stride"], video["duration_s"])
            dets = decode_video(out, vid, tl, cfg)
            assert len(dets) == video["num_detections"], prefix
            got = (dets.segments.numpy(), dets.scores.numpy(), dets.labels.numpy())
            assert not match_detections(_triple(ref, prefix, "det"), got, SEG_ATOL, SCORE_ATOL), prefix


def _single_case_of(ref: ReferenceSet, video_id: str) -> str | None:
    return next((c for c in ref.cases_with_outputs()
                 if len(ref.videos(c)) == 1 and ref.videos(c)[0]["video_id"] == video_id), None)


def test_batch_does_not_change_a_video(fx):
    """Default (correct) mask: each video of a batch gives its single-video outputs, on whatever
    batch case the set has; where the set also has the video alone, the official numbers too."""
    ref = fx.ref
    case = _batch_cases(ref)[0]
    net = fx.nets[False]
    v, a, m = (torch.from_numpy(x) for x in ref.inputs(case))
    with torch.no_grad():
        batched = net(v, a, m)
        for vid, video in enumerate(ref.videos(case)):
            single = _single_case_of(ref, video["video_id"])
            alone = net(v[vid:vid + 1], a[vid:vid + 1], m[vid:vid + 1])
            for lv in range(ref.num_levels(case)):
                np.testing.assert_allclose(batched.logits[lv][vid].numpy(), alone.logits[lv][0].numpy(),
                                           atol=1e-5, rtol=0)
                if single is None:
                    continue
                np.testing.assert_allclose(batched.logits[lv][vid].numpy(),
                                           ref.arrays[f"{single}_cls_logits_l{lv}"][0], **OUT_TOL)
                np.testing.assert_allclose(batched.offsets[lv][vid].numpy(),
                                           ref.arrays[f"{single}_reg_offsets_l{lv}"][0], **OUT_TOL)
    if ref.mixed_lengths(case):
        # the official-mask mode really differs on unequal lengths: the recorded defect, not a no-op
        diff = max(float((fx.out[case].logits[lv] - batched.logits[lv]).abs().max())
                   for lv in range(len(batched.logits)))
        assert diff > 1e-3


def test_equal_length_batch_equals_official_in_both_modes(fx):
    ref = fx.ref
    case = next(c for c in ref.cases_with_outputs() if len(ref.videos(c)) == 1
                and ref.videos(c)[0]["num_features"] == ref.meta["cases"][c]["run"]["padded_length"])
    v, a, m = (torch.cat([x, x]) for x in (torch.from_numpy(y) for y in ref.inputs(case)))
    with torch.no_grad():
        for net in fx.nets.values():
            out = net(v, a, m)
            for lv in range(ref.num_levels(case)):
                for b in range(2):
                    np.testing.assert_allclose(out.logits[lv][b].numpy(), ref.arrays[f"{case}_cls_logits_l{lv}"][0],
                                               **OUT_TOL)


def test_raw_features_are_padded_like_the_official_loader(fx):
    """Unpadded (C, T) features of a short case give that case's outputs once the head pads them."""
    ref, a = fx.ref, fx.ref.arrays
    case = next(c for c in ref.cases_with_outputs() if len(ref.videos(c)) == 1
                and ref.videos(c)[0]["num_features"] < ref.meta["cases"][c]["run"]["padded_length"])
    with torch.no_grad():
        out = fx.nets[False](torch.from_numpy(a[f"{case}_feats_visual"])[None],
                             torch.from_numpy(a[f"{case}_feats_audio"])[None])
    np.testing.assert_allclose(out.logits[0].numpy(), a[f"{case}_cls_logits_l0"], **OUT_TOL)


def test_cases_the_official_code_cannot_run(fx):
    """UnAV runs everything (c2 parity is above). CCNet refuses over-length input with a clear error."""
    ref = fx.ref
    failed = ref.cases_failed()
    if fx.model == "unav":
        assert not failed
        return
    assert failed
    for case in failed:
        a = ref.arrays
        with pytest.raises(ModelError, match="max_seq_len"):
            fx.nets[False](torch.from_numpy(a[f"{case}_feats_visual"])[None],
                           torch.from_numpy(a[f"{case}_feats_audio"])[None])
