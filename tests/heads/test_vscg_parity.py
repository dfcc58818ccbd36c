"""VSCG parity with the official code, from ``<reference>/vscg`` (README, cases.npz, state_dict.pt).

Every number comes from the reference files, so these tests run unchanged on another reference
set of the same layout. Official output/intermediate names are mapped to avlocate's by the data
they carry (the fully model's official names are modality-swapped from the LSTM on).
Comparisons are strict float32 on CPU; the tolerance is the one the reference README suggests.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from avlocate.heads.segment.vscg_losses import (
    fully_loss,
    fully_predict,
    fully_targets,
    segment_accuracy,
    video_level_target,
    weakly_loss,
    weakly_predict,
)
from avlocate.heads.segment.official import build_vscg

# official name (after the "case{i}_" prefix) -> function of (outputs, trace) giving ours
FULLY_MAP = {
    "is_event_scores": lambda o, t: o.relevance.unsqueeze(-1),
    "event_scores": lambda o, t: o.class_logits,
    "cross_att": lambda o, t: o.similarity,
    "out": lambda o, t: o.segment_logits,
    "inter_fa_out": lambda o, t: t["audio_proj"],
    "inter_attention_logits": lambda o, t: t["attention_logits"],
    "inter_attention_alpha": lambda o, t: t["attention_weights"],
    "inter_attention_out": lambda o, t: t["attended_visual"],
    "inter_fv_out": lambda o, t: t["visual_proj"],
    "inter_lstm_a_v_out0_lstm_audio_visualstream": lambda o, t: t["visual_lstm"],
    "inter_lstm_a_v_out1_lstm_video_audiostream": lambda o, t: t["audio_lstm"],
    "inter_psp_gamma_va": lambda o, t: t["psp_audio_from_visual"],  # official rows = audio (the "v" argument)
    "inter_psp_gamma_av": lambda o, t: t["psp_visual_from_audio"],
    "inter_psp_out0_v_psp_audiostream": lambda o, t: t["psp_audio"],
    "inter_psp_out1_a_psp_visualstream": lambda o, t: t["psp_visual"],
    "inter_psp_out2_fuse_unused": lambda o, t: 0.5 * (t["psp_audio"] + t["psp_visual"]),
    "inter_escm_a_gru_h0": lambda o, t: t["visual_gru_h0"],
    "inter_escm_v_gru_h0": lambda o, t: t["audio_gru_h0"],
    "inter_escm_a_gru_out_visualstream": lambda o, t: t["visual_gru"],
    "inter_escm_v_gru_out_audiostream": lambda o, t: t["audio_gru"],
    "inter_escm_out0_fusion": lambda o, t: t["fusion"],
    "inter_escm_out1_norm_video_audiostream": lambda o, t: t["audio_norm"],
    "inter_escm_out2_norm_audio_visualstream": lambda o, t: t["visual_norm"],
}
WEAKLY_MAP = {
    "out_avg": lambda o, t: o.video_probs,
    "score": lambda o, t: o.score,
    "hout_avg": lambda o, t: o.smooth_probs,
    "seg_softmax": lambda o, t: torch.softmax(o.score, dim=-1),
    "inter_attention_logits": lambda o, t: t["attention_logits"],
    "inter_attention_alpha": lambda o, t: t["attention_weights"],
    "inter_attention_out": lambda o, t: t["attended_visual"],
    "inter_linear_v_out": lambda o, t: t["visual_proj"],
    "inter_lstm_a_v_out0_audio": lambda o, t: t["audio_lstm"],
    "inter_lstm_a_v_out1_video": lambda o, t: t["visual_lstm"],
    "inter_psp_gamma_va": lambda o, t: t["psp_visual_from_audio"],  # official rows = visual here
    "inter_psp_gamma_av": lambda o, t: t["psp_audio_from_visual"],
    "inter_psp_out0_a_psp": lambda o, t: t["psp_audio"],
    "inter_psp_out1_v_psp": lambda o, t: t["psp_visual"],
    "inter_escm_a_gru_h0_from_video_L2": lambda o, t: t["audio_gru_h0"],
    "inter_escm_v_gru_h0_from_audio_L1": lambda o, t: t["visual_gru_h0"],
    "inter_escm_a_gru_out": lambda o, t: t["audio_gru"],
    "inter_escm_v_gru_out": lambda o, t: t["visual_gru"],
    "inter_escm_out_fusion": lambda o, t: t["fusion"],
    "inter_L2_out_score_before_weighting": lambda o, t: t["raw_segment_logits"],
    "inter_W3_out": lambda o, t: t["temporal_weight_logit"],
}
GAMMAS = ("inter_psp_gamma_va", "inter_psp_gamma_av")


@pytest.fixture(autouse=True)
def strict_float32():
    """TF32 / reduced-precision matmuls would flip PSP pruning decisions (margin ~2e-6)."""
    backends = torch.backends
    saved = (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32, torch.get_float32_matmul_precision())
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[:2]
    torch.set_float32_matmul_precision(saved[2])


def _tolerance(readme: Path) -> float:
    """The README's suggested atol = rtol for float32 CPU comparisons."""
    m = re.search(r"atol\s*=\s*rtol\s*=\s*([0-9.]+e-?[0-9]+)", readme.read_text(encoding="utf-8"))
    assert m, "the reference README no longer states a float32 tolerance"
    return float(m.group(1))


class Ref:
    def __init__(self, root: Path, variant: str) -> None:
        self.dir = root / "vscg" / variant
        if not self.dir.is_dir():
            pytest.skip(f"{self.dir} not present")
        self.tol = _tolerance(root / "vscg" / "README.md")
        self.cases = np.load(self.dir / "cases.npz")
        state = torch.load(self.dir / "state_dict.pt", map_location="cpu", weights_only=True)
        self.model = build_vscg(state, variant)  # stored fp16 -> float32 inside the converter
        self.n = len(self.cases["batch_sizes"])

    def get(self, i: int, name: str) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.cases[f"case{i}_{name}"]))

    def has(self, i: int, name: str) -> bool:
        return f"case{i}_{name}" in self.cases.files

    def run(self, i: int):
        trace: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            out = self.model(self.get(i, "audio"), self.get(i, "video"), trace)
        return out, trace


@pytest.fixture(scope="module", params=["fully", "weakly"])
def ref(request, reference_dir: Path) -> Ref:
    return Ref(reference_dir, request.param)


def _where(i: int, name: str):
    return lambda message: f"case{i} {name}: {message}"


def _mapping(ref: Ref) -> dict:
    return FULLY_MAP if ref.dir.name == "fully" else WEAKLY_MAP


def test_every_stored_float_array_is_compared(ref: Ref) -> None:
    # A new array in the reference must get a mapping here rather than be silently ignored.
    non_float = {"audio", "video", "pred", "labels", "labels_targets", "segment_label", "labels_BCE",
                 "labels_event", "segment_avps_gt", "prob_labels", "mil_labels"}
    for key in ref.cases.files:
        m = re.fullmatch(r"case\d+_(.+)", key)
        if m and m.group(1) not in non_float and not m.group(1).startswith(("loss_", "official_accuracy")):
            assert m.group(1) in _mapping(ref), f"reference array {key} has no avlocate counterpart"


def test_forward_outputs_and_intermediates(ref: Ref) -> None:
    mapping = _mapping(ref)
    for i in range(ref.n):
        out, trace = ref.run(i)
        compared = 0
        for name, ours in mapping.items():
            if not ref.has(i, name):
                continue
            expected = ref.get(i, name)
            got = ours(out, trace)
            assert got.dtype == torch.float32
            torch.testing.assert_close(got, expected, atol=ref.tol, rtol=ref.tol, msg=_where(i, name))
            compared += 1
        assert compared >= 4, f"case{i}: too few arrays found in the reference"
        for name in GAMMAS:  # every pruning decision must agree, not just the values
            assert torch.equal(mapping[name](out, trace) > 0, ref.get(i, name) > 0), f"case{i} {name} support"


def test_predictions_exact(ref: Ref) -> None:
    for i in range(ref.n):
        out, _ = ref.run(i)
        if ref.dir.name == "fully":
            pred = fully_predict(out.relevance, out.class_logits, ref.model.config.event_threshold)
        else:
            pred = weakly_predict(out.score)
        assert torch.equal(pred, ref.get(i, "pred")), f"case{i}"
        # the window-merging route (probabilities -> labels) must give the same decisions
        probs = ref.model.segment_probs(ref.get(i, "audio"), ref.get(i, "video"))
        assert torch.equal(ref.model.labels_from_probs(probs), ref.get(i, "pred")), f"case{i} via probs"


def _label_cases(ref: Ref) -> list[int]:
    cases = [i for i in range(ref.n) if ref.has(i, "labels")]
    assert cases, "no labelled case in the reference"
    return cases


def test_fully_accuracy_targets_and_losses(reference_dir: Path) -> None:
    ref = Ref(reference_dir, "fully")
    for i in _label_cases(ref):
        out, _ = ref.run(i)
        labels = ref.get(i, "labels")
        pred = fully_predict(out.relevance, out.class_logits)
        assert segment_accuracy(pred, labels) == pytest.approx(float(ref.get(i, "official_accuracy_percent")), abs=1e-9)
        tg = fully_targets(labels)
        assert torch.equal(labels.argmax(-1), ref.get(i, "labels_targets"))
        assert torch.equal(tg.is_event, ref.get(i, "labels_BCE"))
        assert torch.equal(tg.video_class, ref.get(i, "labels_event"))
        torch.testing.assert_close(tg.avps, ref.get(i, "segment_avps_gt"), atol=1e-7, rtol=0)
        losses = fully_loss(out.relevance, out.class_logits, out.similarity, labels)
        for name in ("is_event", "event_class", "avps", "total"):
            torch.testing.assert_close(losses[name], ref.get(i, f"loss_{name}"), atol=ref.tol, rtol=ref.tol)


def test_weakly_accuracy_targets_and_losses(reference_dir: Path) -> None:
    ref = Ref(reference_dir, "weakly")
    for i in _label_cases(ref):
        out, _ = ref.run(i)
        labels = ref.get(i, "labels")
        # the official weakly code prints a fraction; avlocate reports percent in both settings
        acc = segment_accuracy(weakly_predict(out.score), labels)
        assert acc == pytest.approx(100.0 * float(ref.get(i, "official_accuracy_fraction")), abs=1e-9)
        target = ref.get(i, "prob_labels")
        torch.testing.assert_close(video_level_target(labels), target, atol=1e-7, rtol=0)
        losses = weakly_loss(out.video_probs, out.smooth_probs, target, ref.model.config.smooth_loss_weight)
        for ours, theirs in (("cls_prob", "loss_cls_prob"), ("smooth", "loss_smooth"), ("total", "loss_total")):
            torch.testing.assert_close(losses[ours], ref.get(i, theirs), atol=ref.tol, rtol=ref.tol)


def test_parameter_counts_match_the_official_accounting(ref: Ref) -> None:
    """Ours = official parameters reached by the forward; + the unused ones = the official total."""
    import json

    from avlocate.heads.segment.vscg import OFFICIAL_UNUSED_FULLY
    from avlocate.heads.segment.vscg_weakly import OFFICIAL_UNUSED_WEAKLY

    keys = json.loads((ref.dir / "state_dict_keys.json").read_text(encoding="utf-8"))
    ours = sum(p.numel() for p in ref.model.parameters())
    assert ours == keys["params_reaching_forward_outputs"]
    unused = OFFICIAL_UNUSED_FULLY if ref.dir.name == "fully" else OFFICIAL_UNUSED_WEAKLY
    assert sorted(unused) == sorted(keys["unused_param_keys"])
    assert ours + sum(int(np.prod(s)) for s in unused.values()) == keys["total_params"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_strict_float32_on_cuda(ref: Ref) -> None:
    """Same outputs and identical decisions on the GPU once TF32 is off (fixture above)."""
    import copy

    model = copy.deepcopy(ref.model).cuda()
    fully = ref.dir.name == "fully"
    names = ("is_event_scores", "event_scores", "cross_att", "out") if fully else ("out_avg", "score", "hout_avg")
    for i in range(ref.n):
        with torch.no_grad():
            out = model(ref.get(i, "audio").cuda(), ref.get(i, "video").cuda())
        for name in names:
            got = _mapping(ref)[name](out, {}).cpu()
            torch.testing.assert_close(got, ref.get(i, name), atol=ref.tol, rtol=ref.tol, msg=_where(i, name))
        if ref.dir.name == "fully":
            pred = fully_predict(out.relevance, out.class_logits).cpu()
        else:
            pred = weakly_predict(out.score).cpu()
        assert torch.equal(pred, ref.get(i, "pred")), f"case{i}"
