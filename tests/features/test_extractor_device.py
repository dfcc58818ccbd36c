"""Extractors on a chosen device and precision: fp32 unchanged, bf16 close, RAFT flow kept fp32.

The networks are the published structures at test width with seeded random weights, and the
short generated clip (conftest.py: ``i3d_vggish_weights``, ``i3d_video``, ``width_divisor``).
Closeness is measured relative to each stream's norm (random weights give arbitrary scales).

RAFT is most of a CPU extraction, so it runs for real once (the fp32 baseline) and is replayed
in the CPU comparisons: the replay checks that it is called with bit-identical float32 inputs and
with autocast OFF, so its output would be the fp32 flow.
"""
from __future__ import annotations

import pytest
import torch

from avlocate.errors import UsageError
from avlocate.features.i3d_vggish import I3DVGGishConfig, I3DVGGishExtractor
from avlocate.features.vgg19_vggish import VGG19VGGishConfig, VGG19VGGishExtractor
from avlocate.media import open_clip, probe


@pytest.fixture(scope="module")
def video(i3d_video):
    return i3d_video  # 33 frames at 25 fps + stereo 44.1 kHz audio -> 2 snippets


@pytest.fixture(scope="module")
def weights_dir(i3d_vggish_weights):
    return i3d_vggish_weights


class _RaftTape(torch.nn.Module):
    """RAFT that records its calls (``tape=None``) or replays a recording after checking that the
    inputs are bit-identical; it logs whether autocast was on at each call."""

    def __init__(self, raft: torch.nn.Module, tape: list | None = None) -> None:
        super().__init__()
        self.raft, self.tape, self.recorded, self.autocast_on = raft, tape, [], []

    def forward(self, a: torch.Tensor, b: torch.Tensor, num_flow_updates: int) -> list[torch.Tensor]:
        self.autocast_on.append(torch.is_autocast_enabled(a.device.type) or a.dtype != torch.float32)
        if self.tape is None:
            flow = self.raft(a, b, num_flow_updates=num_flow_updates)[-1]
            self.recorded.append((a.clone(), b.clone(), flow.clone()))
            return [flow]
        ra, rb, flow = self.tape[len(self.autocast_on) - 1]
        assert torch.equal(a, ra) and torch.equal(b, rb), "RAFT inputs differ from the fp32 run"
        return [flow]


def _run(video, tape=None, **config):  # noqa: ANN001, ANN202
    """Features, the exact inputs the two I3D networks were given (the quantised flow), the
    extractor and its RAFT wrapper. ``tape``: None records real RAFT, a recording replays it,
    False leaves RAFT unwrapped."""
    ex = I3DVGGishExtractor(I3DVGGishConfig(raft_iterations=2, **config))
    raft = None
    if tape is not False:
        raft = ex.models()["raft"] = _RaftTape(ex.models()["raft"], tape)
    seen: dict[str, list[torch.Tensor]] = {"rgb": [], "flow": []}
    for name in seen:
        ex.models()[name].register_forward_pre_hook(lambda mod, args, n=name: seen[n].append(args[0].cpu().clone()))
    v, a = ex.media_request(probe(video))
    feats = ex.extract(open_clip(video, v, a))
    return feats, {k: torch.cat(x) for k, x in seen.items()}, ex, raft


@pytest.fixture(scope="module")
def fp32_default(video, weights_dir, width_divisor):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AVLOCATE_WEIGHTS", str(weights_dir))
        return _run(video, width_divisor=width_divisor)  # real RAFT, recorded


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_cpu_fp32_is_bit_identical_to_the_default(video, weights_dir, width_divisor, fp32_default, monkeypatch):
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(weights_dir))
    base, _, base_ex, tape = fp32_default
    feats, _, ex, raft = _run(video, tape.recorded, device="cpu", precision="fp32", width_divisor=width_divisor)
    assert len(raft.autocast_on) == len(tape.recorded) > 0
    assert ex.runtime.dtype is None and base_ex.runtime.dtype is None  # fp32 = no autocast at all
    for got, want in ((feats.visual, base.visual), (feats.audio, base.audio)):
        assert got.dtype == torch.float32 and got.device.type == "cpu"
        assert torch.equal(got, want)
    assert feats.visual.shape == (2, 2048) and feats.visual.abs().sum() > 0


#: bf16 convolutions run natively only on CPUs with AVX-512 (bf16) or AMX; on an AVX2-only CPU
#: (AMD EPYC here) torch emulates them: a full-size I3D pass took over 10 minutes, and even at
#: test width the bf16 extraction costs ~2x the fp32 one with RAFT included.
NATIVE_BF16 = torch.backends.cpu.get_cpu_capability() not in ("DEFAULT", "NO AVX", "AVX2")


@pytest.mark.skipif(not NATIVE_BF16, reason="bf16 is emulated on this CPU (AVX2 only): slow")
def test_bf16_on_cpu_is_close_and_keeps_the_flow_fp32(video, weights_dir, width_divisor, fp32_default, monkeypatch):
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(weights_dir))
    base, base_inputs, _, tape = fp32_default
    feats, inputs, _, raft = _run(video, tape.recorded, device="cpu", precision="bf16", width_divisor=width_divisor)
    # RAFT is called with the same fp32 frames and autocast off (so it computes the fp32 flow),
    # and the quantised flow and the rgb input the I3D networks see are those of the fp32 path.
    assert raft.autocast_on and not any(raft.autocast_on)
    assert torch.equal(inputs["flow"], base_inputs["flow"]) and inputs["flow"].dtype == torch.float32
    assert torch.equal(inputs["rgb"], base_inputs["rgb"])
    assert feats.visual.dtype == torch.float32 and feats.audio.dtype == torch.float32
    assert not torch.equal(feats.visual, base.visual)  # autocast really ran in bf16
    # Measured: 4.0e-3 (rgb), 4.0e-3 (flow), 2.9e-3 (audio) relative L2 error at the published size
    # (default init); 5.1e-3, 4.7e-3, 1.1e-2 with these test-width He-initialised weights (bf16
    # emulated on an AVX2 CPU). bf16 keeps 8 mantissa bits (unit roundoff 3.9e-3), so this is
    # about one to three rounding errors surviving the networks; 3e-2 leaves a 3-7x margin and
    # still fails for a wrong layout or stream (errors of order 1).
    for got, want in ((feats.visual[:, :1024], base.visual[:, :1024]), (feats.visual[:, 1024:], base.visual[:, 1024:]),
                      (feats.audio, base.audio)):
        assert _rel(got, want) < 3e-2


def test_fp16_on_cpu_and_unknown_values_are_refused_in_one_line():
    with pytest.raises(UsageError, match="fp16 needs a CUDA GPU") as err:
        I3DVGGishExtractor(I3DVGGishConfig(device="cpu", precision="fp16"))
    assert "\n" not in str(err.value)
    with pytest.raises(UsageError, match="fp16 needs a CUDA GPU"):
        VGG19VGGishExtractor(VGG19VGGishConfig(device="cpu", precision="fp16"))
    with pytest.raises(UsageError, match="unknown precision 'int8'"):
        I3DVGGishExtractor(I3DVGGishConfig(precision="int8"))
    with pytest.raises(UsageError, match="unknown device"):
        I3DVGGishExtractor(I3DVGGishConfig(device="gpu0"))


def _card(tmp_path, extractor: str, visual_dim: int, audio_dim: int, protocol: dict) -> str:  # noqa: ANN001
    from avlocate.heads.lite import LiteAVHead, LiteHeadConfig
    from avlocate.weights.card import ModelCard
    from avlocate.weights.store import save_weights

    cfg = LiteHeadConfig(visual_dim=visual_dim, audio_dim=audio_dim, num_classes=2, hidden=8)
    card = ModelCard(name=f"dev-{extractor}", head="lite-av", extractor=extractor, classes=["a", "b"],
                     weights_file=f"dev-{extractor}.safetensors", head_config=vars(cfg),
                     decode={"kind": "snippet-scores", "threshold": 0.5}, feature_protocol=protocol)
    torch.manual_seed(0)
    save_weights(LiteAVHead(cfg).state_dict(), card, tmp_path)
    return str(tmp_path / f"dev-{extractor}.json")


def test_the_loaded_models_device_and_precision_reach_the_extractor(tmp_path, monkeypatch):
    from avlocate.pipeline.models import load_model

    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    protocol = {"fps": 25.0, "window": 24, "stride": 8, "visual_dim": 2048, "audio_dim": 128}
    card = _card(tmp_path, "i3d-vggish", 2048, 128, protocol)
    model = load_model(card, device="cpu")
    assert model.device.type == "cpu" and model.extractor.config.device == "cpu"
    assert model.extractor.config.precision == "fp32" and model.extractor.runtime.device.type == "cpu"
    model = load_model(card, device="cpu", precision="bf16")
    assert model.extractor.config.precision == "bf16" and model.extractor.runtime.dtype == torch.bfloat16
    with pytest.raises(UsageError, match="fp16 needs a CUDA GPU"):
        load_model(card, device="cpu", precision="fp16")
    # An extractor without device/precision fields (lite, like many plugins) loads as before;
    # only fp32 may be asked of it.
    from avlocate.features.lite import LiteExtractor

    lite = LiteExtractor()
    card = _card(tmp_path, "lite", lite.visual_dim, lite.audio_dim, {})
    assert not hasattr(load_model(card, device="cpu", precision="fp32").extractor.config, "device")
    with pytest.raises(UsageError, match="takes no precision option"):
        load_model(card, device="cpu", precision="bf16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fp32_matches_cpu_fp32(video, weights_dir, width_divisor, fp32_default, monkeypatch):
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(weights_dir))
    base, base_inputs, _, _ = fp32_default
    # real RAFT on the GPU
    feats, inputs, ex, _ = _run(video, False, device="cuda", precision="fp32", width_divisor=width_divisor)
    assert next(ex.models()["rgb"].parameters()).device.type == "cuda"
    assert feats.visual.device.type == "cpu" and feats.visual.dtype == torch.float32
    # Random-weight features have an arbitrary scale: 1e-4 is taken relative to each stream's.
    for got, want in ((feats.visual, base.visual), (feats.audio, base.audio)):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    # RAFT on the GPU (IEEE fp32, no TF32) may move a rare pixel across a rounding boundary only.
    assert float((inputs["flow"] != base_inputs["flow"]).float().mean()) < 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_reduced_precision_runs(video, weights_dir, width_divisor, fp32_default, monkeypatch):
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(weights_dir))
    base, _, _, _ = fp32_default
    for precision in ("bf16", "fp16"):
        feats, _, _, raft = _run(video, None, device="cuda", precision=precision, width_divisor=width_divisor)
        assert not any(raft.autocast_on)  # RAFT stays fp32 on the GPU too
        assert feats.visual.dtype == torch.float32 and feats.visual.device.type == "cpu"
        assert _rel(feats.visual, base.visual) < 3e-2 and _rel(feats.audio, base.audio) < 3e-2
