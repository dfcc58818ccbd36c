"""The restricted unpickler reads whole pickled modules without running code, and refuses the rest.

The "official" modules here are laid out from the parameter list in the reference
``state_dict_keys.json`` (names and shapes only, no official code) and registered under the
official module names, so ``torch.save(model)`` pickles them as an official checkpoint would be.
"""
from __future__ import annotations

import os
import pickle
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from avlocate.errors import WeightsError
from avlocate.heads.segment.official import build_vscg, official_vscg_to_safetensors
from avlocate.weights.convert_vscg import load_official_vscg
from avlocate.weights.restricted_unpickle import load_module_state_dict, restricted_load

FULLY, WEAKLY = "vscgfully_model", "vscgweakly_model"


def _lin(i: int, o: int, bias: bool = False) -> nn.Linear:
    return nn.Linear(i, o, bias=bias)


class Classify(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.L1, self.L2 = _lin(256, 64), _lin(64, 28)


class AVGA(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.affine_audio, self.affine_video = nn.Linear(128, 512), nn.Linear(512, 512)
        self.affine_v, self.affine_g, self.affine_h = _lin(512, 49), _lin(512, 49), _lin(49, 1)


class LSTM_A_V(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm_audio = nn.LSTM(128, 128, 1, batch_first=True, bidirectional=True)
        self.lstm_video = nn.LSTM(128, 128, 1, batch_first=True, bidirectional=True)


class PSP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.v_L1, self.v_L2, self.v_fc = _lin(256, 256), _lin(256, 256), _lin(256, 256)
        self.a_L1, self.a_L2, self.a_fc = _lin(256, 256), _lin(256, 256), _lin(256, 256)
        self.dropout = nn.Dropout(0.2)
        self.layer_norm = nn.LayerNorm(256, eps=1e-6)
        self.thr_val = 0.099


class ESCM(nn.Module):
    def __init__(self, weakly: bool) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv1d(256, 128, 5, 1, 2), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv1d(128, 128, 5, 1, 2), nn.ReLU())
        self.pool = nn.MaxPool1d(2, 2)
        self.a_gru = nn.GRU(256, 128, 1, batch_first=True, bidirectional=True)
        self.v_gru = nn.GRU(256, 128, 1, batch_first=True, bidirectional=True)
        if weakly:
            self.layer_norm1 = nn.LayerNorm(128)
        self.layer_norm = nn.LayerNorm(256, eps=1e-6)
        if weakly:
            self.L1, self.L2 = _lin(128, 128), _lin(128, 128)
        else:
            self.L1 = _lin(9, 10)
        self.v_fc, self.a_fc = _lin(256, 256), _lin(256, 256)


class FullyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fa = nn.Sequential(_lin(128, 256), _lin(256, 128))
        self.fv = nn.Sequential(_lin(512, 256), _lin(256, 128))
        self.linear_v = nn.Linear(512, 128)
        self.attention, self.lstm_a_v, self.psp, self.escm = AVGA(), LSTM_A_V(), PSP(), ESCM(False)
        self.v_classify, self.a_classify = Classify(), Classify()
        self.L1, self.L2, self.L3, self.L4 = _lin(256, 64), _lin(64, 29), nn.Linear(256, 1), nn.Linear(256, 28)
        self.audio_gated = nn.Sequential(nn.Linear(256, 1), nn.Sigmoid())
        self.video_gated = nn.Sequential(nn.Linear(256, 1), nn.Sigmoid())


class WeaklyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear_v = nn.Linear(512, 128)
        self.attention, self.lstm_a_v, self.psp, self.escm = AVGA(), LSTM_A_V(), PSP(), ESCM(True)
        self.W1, self.W2, self.W3 = _lin(256, 1), _lin(64, 1), _lin(29, 1)
        self.L1, self.L2, self.L3 = _lin(256, 64), _lin(64, 29), _lin(128, 64)


def install(monkeypatch, weakly: bool) -> type:
    """Register the layout under the official module name; returns the class named ``vscg_net``."""
    mod = types.ModuleType(WEAKLY if weakly else FULLY)
    top = WeaklyNet if weakly else FullyNet
    classes = {"vscg_net": top, "AVGA": AVGA, "LSTM_A_V": LSTM_A_V, "PSP": PSP, "ESCM": ESCM, "Classify": Classify}
    made = {}
    for name, cls in classes.items():  # fresh subclasses so both modules can coexist
        made[name] = type(name, (cls,), {"__module__": mod.__name__, "__qualname__": name})
        setattr(mod, name, made[name])
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    # Re-point the attribute constructors at the official-named classes so pickles name them.
    net = made["vscg_net"]

    def build() -> nn.Module:
        m = net.__new__(net)
        top.__init__(m)
        for child in m.modules():
            if type(child).__name__ in made and type(child) is not net:
                child.__class__ = made[type(child).__name__]
        return m

    net.build = staticmethod(build)  # type: ignore[attr-defined]
    return net


def _official(monkeypatch, weakly: bool) -> nn.Module:
    torch.manual_seed(0)
    net = install(monkeypatch, weakly).build()
    for p in net.parameters():  # distinctive values, so a mix-up of keys cannot go unnoticed
        nn.init.normal_(p, std=0.05)
    return net


@pytest.mark.parametrize("weakly", [False, True])
def test_whole_module_pickle_gives_its_state_dict(monkeypatch, tmp_path: Path, weakly: bool) -> None:
    net = _official(monkeypatch, weakly)
    path = tmp_path / "VSCG.pt"
    torch.save(net, path)
    monkeypatch.delitem(sys.modules, "vscgweakly_model" if weakly else "vscgfully_model")  # never imported
    got = load_module_state_dict(path)
    expected = net.state_dict()
    assert list(got) == list(expected)  # same keys, same order
    for key, value in expected.items():
        assert torch.equal(got[key], value), key
    # the module classes come back as inert stand-ins, never as the real classes
    root = restricted_load(path)
    assert type(root).__name__ == "vscg_net" and not isinstance(root, nn.Module)


@pytest.mark.parametrize("weakly", [False, True])
def test_pickled_official_module_converts_to_an_avlocate_model(monkeypatch, tmp_path: Path, weakly: bool) -> None:
    net = _official(monkeypatch, weakly)
    path = tmp_path / "VSCG.pt"
    torch.save(net, path)
    variant, state = load_official_vscg(path)
    assert variant == ("weakly" if weakly else "fully")
    model = build_vscg(net.state_dict())
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key
    # modality mapping by data: the fully model's lstm_audio carries the visual stream
    if not weakly:
        assert torch.equal(state["visual_lstm.weight_ih_l0"], net.lstm_a_v.lstm_audio.weight_ih_l0)
        assert torch.equal(state["psp.audio_affinity.weight"], net.psp.v_L2.weight)
    else:
        assert torch.equal(state["escm.audio_summary_to_visual_h0.weight"], net.escm.L1.weight)
    # the one-time import writes safetensors holding exactly the converted weights
    from safetensors.torch import load_file

    got_variant, out = official_vscg_to_safetensors(path, tmp_path / "out" / "vscg.safetensors")
    saved = load_file(str(out))
    assert got_variant == variant and sorted(saved) == sorted(state)
    assert all(torch.equal(saved[k], state[k]) for k in state)


def test_pickled_module_with_reference_weights_reproduces_reference_outputs(
    monkeypatch, tmp_path: Path, reference_dir: Path
) -> None:
    """End to end: official-layout module + reference weights -> pickle -> avlocate -> outputs."""
    ref = reference_dir / "vscg" / "fully"
    net = install(monkeypatch, False).build()
    net.load_state_dict(torch.load(ref / "state_dict.pt", weights_only=True))  # fp16 -> float32 on copy
    path = tmp_path / "VSCG_fully.pt"
    torch.save(net, path)
    variant, state = load_official_vscg(path)
    model = build_vscg(torch.load(ref / "state_dict.pt", weights_only=True))
    model.load_state_dict(state)
    cases = np.load(ref / "cases.npz")
    with torch.no_grad():
        out = model(torch.from_numpy(cases["case0_audio"]), torch.from_numpy(cases["case0_video"]))
    torch.testing.assert_close(out.class_logits, torch.from_numpy(cases["case0_event_scores"]), atol=1e-5, rtol=1e-5)


class _Evil:
    def __init__(self, target: Path, how: str) -> None:
        self.target, self.how = str(target), how

    def __reduce__(self):
        if self.how == "open":
            return (open, (self.target, "w"))
        return (os.system, (f"touch {self.target}",))


@pytest.mark.parametrize("how,forbidden", [("open", "io.open"), ("system", "system")])
def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path: Path, how: str, forbidden: str) -> None:
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(3), "payload": _Evil(target, how)}, path)
    assert not target.exists()
    with pytest.raises(WeightsError, match=r"refused .*needs the global .*" + forbidden.split(".")[-1]) as err:
        load_module_state_dict(path)
    assert forbidden in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(WeightsError):
        load_official_vscg(path)  # the public entry point refuses it too
    assert not target.exists()


def _zip_with_pickle(path: Path, data: bytes) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data)
        z.writestr("archive/byteorder", "little")


def test_setting_state_on_anything_but_a_module_is_refused(tmp_path: Path) -> None:
    # OrderedDict() followed by BUILD {}: harmless here, but BUILD on live objects is never allowed.
    data = b"\x80\x02ccollections\nOrderedDict\nq\x00)R}b."
    path = tmp_path / "build.pt"
    _zip_with_pickle(path, data)
    with pytest.raises(WeightsError, match="sets state on a OrderedDict"):
        restricted_load(path)


def test_plain_state_dict_and_non_zip_files(tmp_path: Path) -> None:
    sd = {"a.weight": torch.arange(6.0).reshape(2, 3), "a.bias": torch.ones(2, dtype=torch.float16)}
    path = tmp_path / "sd.pt"
    torch.save(sd, path)
    got = load_module_state_dict(path)
    assert all(torch.equal(got[k], v) and got[k].dtype == v.dtype for k, v in sd.items())
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(WeightsError, match="not a PyTorch zip checkpoint"):
        load_module_state_dict(legacy)
    with pytest.raises(WeightsError, match="not found"):
        load_official_vscg(tmp_path / "missing.pt")


def test_truncated_storage_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "sd.pt"
    torch.save({"w": torch.ones(100)}, path)
    broken = tmp_path / "broken.pt"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data[:10] if "/data/" in info.filename else data)
    with pytest.raises(WeightsError, match="truncated"):
        load_module_state_dict(broken)
