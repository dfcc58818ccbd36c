"""The model and the pipeline for one video (layer 5 of the package).

* :mod:`.options` - ``RunOptions``: a run's options, one frozen object validated in one place;
* :mod:`.models` - ``load``: a model by name or card (head + weights + extractor + decoding),
  loaded once: the one door (``avlocate.load``), with ``.locate(video)`` and ``.stream(source)``;
* :mod:`.video` - what ``.locate`` runs: one video in, one :class:`~avlocate.results.Result` out;
* :mod:`.live` - what ``.stream`` runs: the live loop (``avlocate run --live``);
* fetching and converting weights is :mod:`avlocate.weights` (``fetch``, ``weight_import``).

Nothing heavy is imported here, so that ``import avlocate`` stays cheap: the names below load on first use.
"""
from __future__ import annotations

from typing import Any

#: the model a run uses when none is named (a plain constant here: reading it must not load torch)
DEFAULT_MODEL = "esgnet-demo"


def check_threshold(threshold: float | None, name: str = "--threshold") -> None:
    """A score threshold in [0, 1] or none; ``name`` as the caller knows the option. Here, not in
    :mod:`.video`, so that the batch process checks its options without loading torch."""
    from ..errors import UsageError

    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise UsageError(f"{name} {float(threshold):g} is outside [0, 1]; give a score between 0 and 1")


_LAZY = {"locate": ".video", "load": ".models", "load_model": ".models", "LoadedModel": ".models",
         "RunOptions": ".options"}


def __getattr__(name: str) -> Any:
    """``from avlocate.pipeline import locate`` works, loading torch only when it is asked for."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
