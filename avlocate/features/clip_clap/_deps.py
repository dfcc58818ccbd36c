"""Guarded, offline-safe imports of the optional libraries ``open_clip`` and ``laion_clap``.

Why this module exists:

* Neither library may be imported when avlocate is imported (they are optional extras and slow).
* ``laion_clap``'s *import* builds three tokenizers from the Hugging Face hub. Online it
  downloads them; with no network it retries for minutes; with ``HF_HUB_OFFLINE=1`` it returns
  silently EMPTY tokenizers (vocabulary of 5 special tokens). We therefore force offline mode
  before the first import (``setdefault``: a user's explicit ``HF_HUB_OFFLINE=0`` is respected)
  and never use the tokenizers laion_clap builds at import (see ``text.py``).
* ``huggingface_hub`` reads ``HF_HUB_OFFLINE`` once, when it is first imported. If something
  imported it before us without the variable, setting the environment variable is too late; we
  then set the library's constant as well, so no later hub call can hang.
"""
from __future__ import annotations

import os
import sys
import warnings
from types import ModuleType

from ...errors import ModelError

CLIP_EXTRA = "pip install 'avlocate[clip]'  (open_clip_torch)"
CLAP_EXTRA = "pip install 'avlocate[clap]'  (laion-clap)"


def force_offline() -> None:
    """Make every Hugging Face hub call fail fast instead of downloading or retrying."""
    user_choice = os.environ.get("HF_HUB_OFFLINE")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if user_choice is None and "huggingface_hub" in sys.modules:
        try:
            from huggingface_hub import constants

            constants.HF_HUB_OFFLINE = True
        except Exception:  # an unusual huggingface_hub layout: the env var is all we can do
            pass


def is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").strip().lower() in ("1", "true", "yes", "on")


def import_open_clip() -> ModuleType:
    force_offline()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import open_clip
    except ImportError as exc:
        raise ModelError(f"the clip-clap extractor needs open_clip, which is not installed ({exc}); {CLIP_EXTRA}") from None
    return open_clip


def import_laion_clap() -> ModuleType:
    """``laion_clap`` (its import appends its own folder to ``sys.path``: a known quirk of the
    package, whose modules import each other as top-level ``clap_module``/``training``)."""
    force_offline()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import laion_clap
            import laion_clap.hook  # noqa: F401
            import laion_clap.training.data  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"the clip-clap extractor needs laion_clap, which is not installed ({exc}); {CLAP_EXTRA}") from None
    return laion_clap


def have_open_clip() -> bool:
    import importlib.util

    return importlib.util.find_spec("open_clip") is not None


def have_laion_clap() -> bool:
    import importlib.util

    return importlib.util.find_spec("laion_clap") is not None


def require(which: str) -> None:
    """Raise the one-line install hint when the library of ``which`` ("clip"/"clap") is absent,
    without importing it (cheap: lets the extractor check before looking for weights)."""
    present, name, extra = {"clip": (have_open_clip, "open_clip", CLIP_EXTRA),
                            "clap": (have_laion_clap, "laion_clap", CLAP_EXTRA)}[which]
    if not present():
        raise ModelError(f"the clip-clap extractor needs {name}, which is not installed; {extra}")
