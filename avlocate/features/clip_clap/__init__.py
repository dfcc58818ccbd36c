"""CLIP image / CLAP audio embeddings per snippet, plus text embeddings of label prompts.

The ``clip-clap`` extractor (AVSGN's features, and the encoders of the zero-shot model). The
third-party libraries (``open_clip_torch``, ``laion-clap``) are optional extras and are imported
only when an encoder is built (see :mod:`._deps`): importing this package costs nothing and
works without them.
"""
from __future__ import annotations

__all__ = ["ClipClapConfig", "ClipClapExtractor"]


def __getattr__(name: str):  # noqa: ANN202 - lazy re-export, so `import` stays cheap
    if name in __all__:
        from . import extractor

        return getattr(extractor, name)
    raise AttributeError(name)
