"""Official checkpoint converter: wrappers, prefixes, EMA preference, safe loading, clear errors."""
from __future__ import annotations

import collections

import pytest
import torch

from avlocate.errors import WeightsError
from avlocate.heads.dense.config import UnavConfig
from avlocate.heads.dense.parity import ReferenceSet
from avlocate.heads.dense.unav import UnavHead
from avlocate.weights.convert_dense import convert_state_dict, load_into, load_official_checkpoint, official_to_avlocate_key


@pytest.fixture(scope="module")
def ref(reference_dir):
    return ReferenceSet(reference_dir / "dense" / "unav" / "small")


def test_training_checkpoint_prefers_ema_and_strips_module(ref, tmp_path):
    bare = torch.load(ref.state_dict_path, weights_only=True)
    ckpt = {
        "epoch": 7,
        "state_dict": {f"module.{k}": torch.zeros_like(v) for k, v in bare.items()},
        "state_dict_ema": {f"module.{k}": v for k, v in bare.items()},
    }
    path = tmp_path / "epoch_007.pth.tar"
    torch.save(ckpt, path)
    direct = convert_state_dict(bare, "unav")
    ema = load_official_checkpoint(path, "unav")
    assert ema.keys() == direct.keys() and all(torch.equal(ema[k], direct[k]) for k in direct)
    raw = load_official_checkpoint(path, "unav", prefer_ema=False)
    assert all(not torch.any(v) for v in raw.values())
    load_into(UnavHead(UnavConfig.from_official(ref.full_config)), ema)


def test_examples_of_the_naming_map():
    assert official_to_avlocate_key("backbone.cross_att_Va.3.attn.query_conv.conv.weight", "unav") == \
        "backbone.visual_down.3.attn.q_conv.weight"
    assert official_to_avlocate_key("backbone.audio_TCG.2.gate_linear.conv.bias", "ccnet") == \
        "backbone.audio_gate.2.gate.bias"
    assert official_to_avlocate_key("backbone.visual_TCG.0.value.weight", "ccnet") == \
        "backbone.visual_gate.0.attn.v_proj.weight"
    assert official_to_avlocate_key("MTGC_block.temporal_branch.mlp.3.bias", "ccnet") == \
        "mtgc.fusion.temporal.mlp.fc2.bias"
    assert official_to_avlocate_key("reg_head.scale.5.scale", "unav") == "reg_head.scales.5.scale"
    with pytest.raises(WeightsError):
        official_to_avlocate_key("x", "actionformer")


def test_unsafe_or_broken_files_are_refused(tmp_path):
    evil = tmp_path / "evil.pth"
    torch.save({"state_dict": collections.Counter(a=1)}, evil)  # a non-tensor object: unpickling refused
    with pytest.raises(WeightsError):
        load_official_checkpoint(evil, "unav")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="weights-only"):
        load_official_checkpoint(junk, "unav")
    with pytest.raises(WeightsError, match="not found"):
        load_official_checkpoint(tmp_path / "missing.pth", "unav")


def test_load_into_names_what_does_not_fit(ref):
    state = load_official_checkpoint(ref.state_dict_path, "unav")
    net = UnavHead(UnavConfig.from_official(ref.full_config))
    broken = dict(state)
    broken.pop("cls_head.out.bias")
    with pytest.raises(WeightsError, match="1 missing.*cls_head.out.bias"):
        load_into(net, broken)
    with pytest.raises(WeightsError, match="wrong shape"):
        load_into(UnavHead(UnavConfig.from_official(ref.full_config).replace(num_classes=11)), state)


def test_load_official_head_from_config_and_checkpoint(ref):
    from avlocate.heads.dense.official import load_official_head

    head = load_official_head("unav", ref.state_dict_path, ref.full_config)
    assert not head.training and head.cfg.num_classes == ref.full_config["model"]["num_classes"]
    with pytest.raises(WeightsError, match="unknown official model"):
        load_official_head("esgnet", ref.state_dict_path)
