"""The head's side of importing an official UnAV / CCNet checkpoint: build the head the tensors
fit and load them. The format's side (reading the ``.pth.tar``, renaming keys) is
:mod:`avlocate.weights.convert_dense`; the card, pins and fetching are in :mod:`avlocate.weights`.

Registered as the importers ``official-unav`` and ``official-ccnet`` (``avlocate weights import
--from ...``), so the weights package converts without importing the heads (imports go one way).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import torch

from ...errors import WeightsError
from ...registry import IMPORTERS
from ...weights.convert_dense import MODEL_KEYS, ONE_PEACE_DIMS, feature_dims, load_into, load_official_checkpoint
from ...weights.weight_import import ImportedHead
from .ccnet import CcnetHead
from .config import CcnetConfig, UnavConfig
from .unav import UnavHead

_HEADS = {"unav": (UnavHead, UnavConfig), "ccnet": (CcnetHead, CcnetConfig)}


def load_official_head(model: str, checkpoint: str | Path, config: Mapping[str, object] | None = None,
                       prefer_ema: bool = True) -> torch.nn.Module:
    """An avlocate head (eval mode) with an official checkpoint's weights.

    ``config`` is the official config dict (the yaml merged with the defaults, as in
    ``config.json["config"]``); without it the paper configuration of ``model`` is used, at the
    features its first embedding layers were trained on (I3D+VGGish or ONE-PEACE).
    """
    if model not in _HEADS:
        raise WeightsError(f"unknown official model {model!r}; expected one of {', '.join(MODEL_KEYS)}")
    head_cls, cfg_cls = _HEADS[model]
    state = load_official_checkpoint(checkpoint, model, prefer_ema)
    if config is not None:
        cfg = cfg_cls.from_official(dict(config))
    else:
        cfg = cfg_cls.onepeace() if feature_dims(state) == ONE_PEACE_DIMS else cfg_cls()
    head = head_cls(cfg)
    load_into(head, state)
    return head.eval()


def _importer(model: str):  # noqa: ANN202
    def import_dense(checkpoint: Path, config: Mapping[str, object] | None) -> ImportedHead:
        from ...decode.dense import DenseDecodeConfig

        head = load_official_head(model, checkpoint, config)
        c = head.cfg
        dims = (c.input_dim_visual, c.input_dim_audio)
        # the features the checkpoint expects, read from its first embedding layers
        extractor = "one-peace" if dims == ONE_PEACE_DIMS else "i3d-vggish" if dims == (2048, 128) else \
            ("one-peace" if model == "ccnet" else "i3d-vggish")
        test_cfg = (config or {}).get("model", {}).get("test_cfg")  # type: ignore[union-attr]
        decode_cfg = DenseDecodeConfig.from_official(test_cfg) if test_cfg else DenseDecodeConfig()
        return ImportedHead(
            module=head, head=model, head_config=c.to_dict(), decode={"kind": "dense", **asdict(decode_cfg)},
            feature_protocol={"extractor": extractor, "fps": c.fps, "window": c.window, "stride": c.stride,
                              "visual_dim": c.input_dim_visual, "audio_dim": c.input_dim_audio},
            extractor=extractor, event_classes=int(c.num_classes))

    return import_dense


IMPORTERS.register("official-unav")(_importer("unav"))
IMPORTERS.register("official-ccnet")(_importer("ccnet"))
