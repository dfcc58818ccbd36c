"""Official VSCG weights (Bravo5542/VSCG) -> avlocate's :class:`VSCG` / :class:`VSCGWeakly`.

The official fully-supervised model feeds the *visual* sequence into modules named for audio
(``lstm_a_v.lstm_audio``, ``psp.a_*``, ``escm.a_gru``, ``escm.v_fc``) and vice versa from the
LSTM on; avlocate names modules by the data they see, so keys are mapped by data, not by name.
PSP's affinity/message projections are also named by argument position officially: the stream
passed first (``a``) uses ``L1`` for the affinity and ``L2`` for messages, the second (``v``)
the other way round.

Building avlocate's module from the converted tensors (and checking it fits) is the head's side:
:mod:`avlocate.heads.segment.official`. Official checkpoints come either as plain state dicts (``torch.load(weights_only=True)``) or as
whole pickled modules (``torch.save(model)``), which :mod:`.restricted_unpickle` reads without
executing code. Parameters the official forward never uses are dropped (listed in
``OFFICIAL_UNUSED_*``); any other unexpected key, missing key or wrong shape is a WeightsError.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import torch

from ..errors import WeightsError

Variant = Literal["fully", "weakly"]
#: the class name of both official models (vscgfully_model.vscg_net, vscgweakly_model.vscg_net)
OFFICIAL_VSCG_CLASS = "vscg_net"

_ATTENTION = {
    "attention.affine_audio.": "attention.audio_hidden.",
    "attention.affine_video.": "attention.visual_hidden.",
    "attention.affine_v.": "attention.visual_to_map.",
    "attention.affine_g.": "attention.audio_to_map.",
    "attention.affine_h.": "attention.cell_score.",
    "escm.conv1.0.": "escm.cere.conv1.",
    "escm.conv2.0.": "escm.cere.conv2.",
    "escm.layer_norm.": "escm.norm.",
    "psp.layer_norm.": "psp.norm.",
    "L1.": "segment_head.0.",
    "L2.": "segment_head.2.",
}

#: official key prefix -> avlocate prefix, fully-supervised model (visual flows through "a" names).
FULLY_PREFIXES: dict[str, str] = {
    **_ATTENTION,
    "fa.": "audio_proj.",
    "fv.": "visual_proj.",
    "lstm_a_v.lstm_audio.": "visual_lstm.",
    "lstm_a_v.lstm_video.": "audio_lstm.",
    "psp.a_L1.": "psp.visual_affinity.",
    "psp.a_L2.": "psp.visual_message.",
    "psp.a_fc.": "psp.visual_fc.",
    "psp.v_L1.": "psp.audio_message.",
    "psp.v_L2.": "psp.audio_affinity.",
    "psp.v_fc.": "psp.audio_fc.",
    "escm.a_gru.": "escm.visual_gru.",
    "escm.v_gru.": "escm.audio_gru.",
    "escm.v_fc.": "escm.visual_fc.",  # crossed names: applied to the a_gru (visual) output
    "escm.a_fc.": "escm.audio_fc.",
    "L3.": "relevance.",
    "L4.": "classifier.",
}

#: the same for the weakly-supervised model (names match the modalities).
WEAKLY_PREFIXES: dict[str, str] = {
    **_ATTENTION,
    "linear_v.": "visual_proj.",
    "lstm_a_v.lstm_audio.": "audio_lstm.",
    "lstm_a_v.lstm_video.": "visual_lstm.",
    "psp.a_L1.": "psp.audio_affinity.",
    "psp.a_L2.": "psp.audio_message.",
    "psp.a_fc.": "psp.audio_fc.",
    "psp.v_L1.": "psp.visual_message.",
    "psp.v_L2.": "psp.visual_affinity.",
    "psp.v_fc.": "psp.visual_fc.",
    "escm.a_gru.": "escm.audio_gru.",
    "escm.v_gru.": "escm.visual_gru.",
    "escm.L1.": "escm.audio_summary_to_visual_h0.",  # audio summary initialises the visual GRU
    "escm.L2.": "escm.visual_summary_to_audio_h0.",
    "W3.": "temporal_weight.",
}


#: parameters of the official fully model that its forward never touches (key -> shape).
OFFICIAL_UNUSED_FULLY: dict[str, tuple[int, ...]] = {
    "linear_v.weight": (128, 512), "linear_v.bias": (128,), "escm.L1.weight": (10, 9),
    "v_classify.L1.weight": (64, 256), "v_classify.L2.weight": (28, 64),
    "a_classify.L1.weight": (64, 256), "a_classify.L2.weight": (28, 64),
    "audio_gated.0.weight": (1, 256), "audio_gated.0.bias": (1,),
    "video_gated.0.weight": (1, 256), "video_gated.0.bias": (1,),
}

#: parameters of the official weakly model that its forward never touches (key -> shape).
OFFICIAL_UNUSED_WEAKLY: dict[str, tuple[int, ...]] = {
    "escm.layer_norm1.weight": (128,), "escm.layer_norm1.bias": (128,),
    "escm.v_fc.weight": (256, 256), "escm.a_fc.weight": (256, 256),
    "W1.weight": (1, 256), "W2.weight": (1, 64), "L3.weight": (64, 128),
}


def _unused(variant: Variant) -> dict[str, tuple[int, ...]]:
    return OFFICIAL_UNUSED_FULLY if variant == "fully" else OFFICIAL_UNUSED_WEAKLY


def detect_variant(state: Mapping[str, torch.Tensor]) -> Variant:
    """``fa.*`` exists only in the fully model, ``escm.L2.*`` only in the weakly one."""
    if "fa.0.weight" in state:
        return "fully"
    if "escm.L2.weight" in state:
        return "weakly"
    raise WeightsError("not an official VSCG state dict (neither fa.0.weight nor escm.L2.weight is present); "
                       "give the checkpoint saved by the official VSCG training code")


def convert_vscg_state_dict(
    state: Mapping[str, torch.Tensor], variant: Variant | None = None
) -> tuple[Variant, dict[str, torch.Tensor]]:
    """Official keys -> avlocate keys (float32). Unused official parameters are dropped."""
    variant = variant or detect_variant(state)
    table = FULLY_PREFIXES if variant == "fully" else WEAKLY_PREFIXES
    unused = _unused(variant)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key in unused:
            continue
        prefix = max((p for p in table if key.startswith(p)), key=len, default=None)
        if prefix is None:
            raise WeightsError(f"unexpected key {key!r} in an official VSCG-{variant} state dict")
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"{key!r} is not a tensor in the official VSCG-{variant} state dict")
        out[table[prefix] + key[len(prefix):]] = value.detach().to(torch.float32)
    return variant, out


def load_official_vscg(path: str | Path) -> tuple[Variant, dict[str, torch.Tensor]]:
    """Read an official checkpoint (state dict or whole pickled module) -> converted state dict.

    Never executes pickle code: a plain state dict goes through ``torch.load(weights_only=True)``;
    anything else through the restricted unpickler, which refuses unknown globals.
    """
    from .restricted_unpickle import load_module_state_dict

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"official VSCG checkpoint {path} not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a whole pickled module: weights_only refuses it
        # `vscg_net` is accepted under any module path of the checkpoint's own code (the older
        # copies in the repository's history were saved by an earlier layout), and its state must
        # then have VSCG's keys and shapes (convert_vscg_state_dict / build_vscg_from_converted).
        obj = load_module_state_dict(path, root_class=OFFICIAL_VSCG_CLASS)
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path} holds a {type(obj).__name__}, not a VSCG model or state dict; give the "
                           "checkpoint saved by the official VSCG training code")
    return convert_vscg_state_dict(obj)
