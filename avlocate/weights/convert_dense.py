"""Official UnAV / CCNet checkpoints -> avlocate state dicts of the dense heads.

Accepted inputs: an official ``*.pth.tar`` training checkpoint (a dict with ``state_dict_ema``
and/or ``state_dict``; the EMA weights are what the official eval uses, so they are preferred),
or a bare state dict. ``module.`` prefixes (nn.DataParallel) are stripped. Files are read with
``torch.load(weights_only=True)``: loading never executes code.

avlocate names its modules after what they do; every official key is renamed by the explicit
table below (checked 1:1 against the model by the tests). Shapes are unchanged. Building the head
from the converted tensors is the head's side: :mod:`avlocate.heads.dense.official`.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from ..errors import WeightsError

MODEL_KEYS = ("unav", "ccnet")
Rule = tuple[str, "str | Callable[[re.Match[str]], str]"]

# Renames inside transformer / attention / gate blocks (any prefix).
_BLOCK_RULES: list[Rule] = [
    (r"\.ln11\.", ".norm_kv."),
    (r"\.ln12\.", ".norm_q."),
    (r"\.ln2\.", ".norm_mlp."),
    (r"\.(query|key|value)_conv\.conv\.", lambda m: f".{m.group(1)[0]}_conv."),
    (r"\.(query|key|value)_norm\.", lambda m: f".{m.group(1)[0]}_norm."),
    (r"\.(query|key|value)\.(weight|bias)$",
     lambda m: f".{m.group(1)[0]}_proj.{m.group(2)}"),
    (r"\.proj\.(weight|bias)$", r".out_proj.\1"),
    (r"\.mlp\.0\.", ".mlp.fc1."),
    (r"\.mlp\.3\.", ".mlp.fc2."),
    (r"\.drop_path_attn\.scale$", ".scale_attn.scale"),
    (r"\.drop_path_mlp\.scale$", ".scale_mlp.scale"),
]

_STEM_RULES: list[Rule] = [
    (r"^backbone\.embd_V\.(\d+)\.conv\.", r"backbone.visual.embed.convs.\1."),
    (r"^backbone\.embd_A\.(\d+)\.conv\.", r"backbone.audio.embed.convs.\1."),
    (r"^backbone\.embd_norm_V\.(\d+)\.", r"backbone.visual.embed.norms.\1."),
    (r"^backbone\.embd_norm_A\.(\d+)\.", r"backbone.audio.embed.norms.\1."),
    (r"^backbone\.self_att_V\.", "backbone.visual.blocks."),
    (r"^backbone\.self_att_A\.", "backbone.audio.blocks."),
]

_HEAD_RULES: list[Rule] = [
    (r"^(cls|reg)_head\.head\.(\d+)\.conv\.", r"\1_head.tower.convs.\2."),
    (r"^(cls|reg)_head\.norm\.(\d+)\.", r"\1_head.tower.norms.\2."),
    (r"^cls_head\.cls_head\.conv\.", "cls_head.out."),
    (r"^reg_head\.offset_head\.conv\.", "reg_head.out."),
    (r"^reg_head\.scale\.(\d+)\.scale$", r"reg_head.scales.\1.scale"),
]


def _fusion_rules(official: str, ours: str) -> list[Rule]:
    return [
        (rf"^{official}\.feature_expand\.conv\.", f"{ours}.expand."),
        (rf"^{official}\.feature_squeeze\.conv\.", f"{ours}.squeeze."),
        (rf"^{official}\.temporal_branch\.", f"{ours}.temporal."),
        (rf"^{official}\.cooccur_branch\.", f"{ours}.cooccur."),
    ]


_MODEL_RULES: dict[str, list[Rule]] = {
    "unav": [
        (r"^backbone\.ori_cross_att_Va\.", "backbone.visual_cross."),
        (r"^backbone\.ori_cross_att_Av\.", "backbone.audio_cross."),
        (r"^backbone\.cross_att_Va\.", "backbone.visual_down."),
        (r"^backbone\.cross_att_Av\.", "backbone.audio_down."),
        *_fusion_rules(r"dependency_block", "fusion"),
    ],
    "ccnet": [
        (r"^backbone\.ori_CMI_Visual\.", "backbone.visual_cross."),
        (r"^backbone\.ori_CMI_Audio\.", "backbone.audio_cross."),
        (r"^backbone\.CMI_Visual\.", "backbone.visual_down."),
        (r"^backbone\.CMI_Audio\.", "backbone.audio_down."),
        # TCG blocks have their attention at top level; avlocate nests it under ".attn".
        (r"^backbone\.(visual|audio)_TCG\.(\d+)\.gate_linear\.conv\.", r"backbone.\1_gate.\2.gate."),
        (r"^backbone\.(visual|audio)_TCG\.(\d+)\.(query|key|value|proj|query_conv|key_conv|value_conv|"
         r"query_norm|key_norm|value_norm)\.", r"backbone.\1_gate.\2.attn.\3."),
        (r"^backbone\.(visual|audio)_TCG\.(\d+)\.", r"backbone.\1_gate.\2."),
        *_fusion_rules(r"MTGC_block", "mtgc.fusion"),
        (r"^MTGC_block\.C2F_attention\.", "mtgc.c2f_attn."),
        (r"^MTGC_block\.F2C_attention_block\.", "mtgc.f2c_blocks."),
        (r"^MTGC_block\.C2F_linear\.", "mtgc.c2f_upsample."),
        (r"^MTGC_block\.feature_tem_press\.conv\.", "mtgc.press."),
        (r"^MTGC_block\.feature_tem_block\.", "mtgc.class_expand."),
        (r"^MTGC_block\.channel_att\.", "mtgc.channel_att."),
    ],
}


def official_to_avlocate_key(key: str, model: str) -> str:
    """The avlocate name of one official state-dict key (``module.`` prefix already stripped)."""
    if model not in _MODEL_RULES:
        raise WeightsError(f"unknown official model {model!r}; expected one of {', '.join(MODEL_KEYS)}")
    out = key
    for pattern, repl in _STEM_RULES + _HEAD_RULES + _MODEL_RULES[model]:
        out = re.sub(pattern, repl, out)
    for pattern, repl in _BLOCK_RULES:
        out = re.sub(pattern, repl, out)
    return out


def unwrap_checkpoint(obj: object, prefer_ema: bool = True) -> dict[str, torch.Tensor]:
    """The bare official state dict inside a training checkpoint or a state dict."""
    if not isinstance(obj, Mapping):
        raise WeightsError(f"checkpoint is a {type(obj).__name__}, not a dict of tensors; give the training "
                           "checkpoint file itself (a .pth/.pth.tar holding the model's state dict)")
    order = ("state_dict_ema", "state_dict") if prefer_ema else ("state_dict", "state_dict_ema")
    for name in order:
        if isinstance(obj.get(name), Mapping):
            obj = obj[name]
            break
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsError("checkpoint holds no tensors (expected state_dict_ema / state_dict or a state dict)")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in tensors.items()}


def convert_state_dict(official: Mapping[str, torch.Tensor], model: str) -> dict[str, torch.Tensor]:
    """Rename every key; two official keys landing on one avlocate key is an error."""
    out: dict[str, torch.Tensor] = {}
    for key, value in unwrap_checkpoint(official).items():
        new = official_to_avlocate_key(key, model)
        if new in out:
            raise WeightsError(f"official keys collide on {new!r}")
        out[new] = value
    return out


def load_official_checkpoint(path: str | Path, model: str, prefer_ema: bool = True) -> dict[str, torch.Tensor]:
    """Read an official checkpoint safely (weights_only) and return avlocate-named tensors."""
    try:
        obj = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"checkpoint not found: {path}") from None
    except Exception as exc:  # unpickling refused or corrupt file
        raise WeightsError(f"cannot read {path} as a weights-only PyTorch checkpoint ({_first_words(exc)}); give an "
                           "undamaged checkpoint saved by torch.save (avlocate never runs code from a pickle)") from None
    return convert_state_dict(unwrap_checkpoint(obj, prefer_ema), model)


#: (visual, audio) input dims of the ONE-PEACE features; I3D+VGGish are (2048, 128)
ONE_PEACE_DIMS = (1536, 1536)


def feature_dims(state: Mapping[str, torch.Tensor]) -> tuple[int, int] | None:
    """(visual, audio) input dims read from the first embedding convolutions (avlocate names),
    whose weights are (embed_dim, input_dim, kernel). The released CCNet checkpoint's features are
    unknown (its yaml says I3D+VGGish dims, its loader reads ONE-PEACE files): this decides."""
    v, a = state.get("backbone.visual.embed.convs.0.weight"), state.get("backbone.audio.embed.convs.0.weight")
    if v is None or a is None or v.dim() != 3 or a.dim() != 3:
        return None
    return int(v.shape[1]), int(a.shape[1])


def load_into(module: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Strict load with a one-line error naming what is missing / unexpected / mis-shaped."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if shapes:
            k = shapes[0]
            parts.append(f"{len(shapes)} with wrong shape (e.g. {k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)})")
        raise WeightsError("weights do not fit the model: " + "; ".join(parts) + "; check that the file is the official checkpoint that --from names (and --config matches it)")
    module.load_state_dict(dict(state), strict=True)


def _first_words(exc: BaseException) -> str:
    """The gist of a load error: torch's own text for a refused pickle is a page of advice about
    ``weights_only=False``, which avlocate must not follow (it would run code from the file)."""
    text = str(exc)
    if "Weights only load failed" in text:
        return "not a checkpoint that loads without running code"
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:200]
