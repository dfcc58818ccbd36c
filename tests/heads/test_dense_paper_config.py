"""Paper configurations: exact parameter counts and a 1:1 key/shape map of the official state dicts.

Models are built on the ``meta`` device (no memory, no init cost), so the 140-240 M parameter
paper configurations are checked in well under a second.
"""
from __future__ import annotations

import json

import pytest
import torch

from avlocate.heads.dense.ccnet import CcnetHead
from avlocate.heads.dense.unav import UnavHead
from avlocate.weights.convert_dense import official_to_avlocate_key

HEADS = {"unav": UnavHead, "ccnet": CcnetHead}
PRESETS = {"i3d_vggish": lambda cls: cls(), "onepeace": lambda cls: cls.onepeace()}
TOP_LEVEL = {"backbone": "backbone", "dependency_block": "fusion", "MTGC_block": "mtgc",
             "cls_head": "cls_head", "reg_head": "reg_head"}


def _meta_model(model: str, variant: str) -> torch.nn.Module:
    head = HEADS[model]
    with torch.device("meta"):
        return head(PRESETS[variant](head.config_class))


@pytest.mark.parametrize("variant", list(PRESETS))
@pytest.mark.parametrize("model", list(HEADS))
def test_parameter_counts_equal_the_official(reference_dir, model, variant):
    summary = json.loads((reference_dir / "dense" / "summary.json").read_text())["models"][model][variant]
    net = _meta_model(model, variant)
    assert sum(p.numel() for p in net.parameters()) == summary["total_params"]
    for official, ours in TOP_LEVEL.items():
        if official in summary["params_by_top_level_module"]:
            n = sum(p.numel() for p in getattr(net, ours).parameters())
            assert n == summary["params_by_top_level_module"][official], official


@pytest.mark.parametrize("variant", list(PRESETS))
@pytest.mark.parametrize("model", list(HEADS))
def test_official_keys_map_one_to_one(reference_dir, model, variant):
    keys = json.loads((reference_dir / "dense" / model / f"state_dict_keys_{variant}.json").read_text())
    official = {e["key"]: tuple(e["shape"]) for e in keys["state_dict"]}
    mapped = {official_to_avlocate_key(k, model): s for k, s in official.items()}
    assert len(mapped) == len(official)  # no two official keys share a name
    ours = {k: tuple(v.shape) for k, v in _meta_model(model, variant).state_dict().items()}
    assert mapped == ours


@pytest.mark.parametrize("model", list(HEADS))
def test_paper_config_matches_official_config(reference_dir, model):
    """Our dataclass defaults / ONE-PEACE preset equal the official paper configs read as configs."""
    cls = HEADS[model].config_class
    for variant, make in PRESETS.items():
        paper = json.loads((reference_dir / "dense" / model / f"paper_config_{variant}.json").read_text())
        assert make(cls) == cls.from_official(paper["config"]), variant
