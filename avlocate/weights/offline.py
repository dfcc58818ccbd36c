"""The switches that forbid reaching for the network (checked before any download starts)."""
from __future__ import annotations

import os

# TRANSFORMERS_OFFLINE: huggingface_hub treats it as HF_HUB_OFFLINE.
OFFLINE_SWITCHES = ("AVLOCATE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def offline_switch() -> str | None:
    """The environment switch that forbids first-use downloads, if one is set (``--offline``
    sets ``AVLOCATE_OFFLINE``)."""
    for name in OFFLINE_SWITCHES:
        if truthy(os.environ.get(name)):
            return name
    return None
