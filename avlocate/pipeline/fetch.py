"""Moved to :mod:`avlocate.weights.fetch` (every step of a weight's way in one package); this name
stays for callers not yet updated."""
from __future__ import annotations

from ..weights.fetch import (  # noqa: F401
    OFFLINE_SWITCHES,
    ensure_extractor_weights,
    ensure_for_run,
    ensure_model_weights,
    needed_by_extractor,
    needed_by_model,
    offline_switch,
    pull,
)
