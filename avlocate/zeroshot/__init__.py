"""Zero-shot, open-vocabulary audio-visual event localization (CLIP + CLAP, no training).

A model like the others: its card is ``assets/weights/zeroshot.json`` and its head the
similarity scorer :class:`ZeroShotModel` (``avlocate.load("zeroshot", labels=[...])``). Importing
this package needs neither open_clip nor laion_clap; they are loaded only when the encoders are
built (when the model is loaded).
"""
from __future__ import annotations

from .model import MODEL_NAME, ZeroShotModel
from .prompts import PromptSet, TextBank, build_text_bank
from .scoring import ZeroShotConfig, ZeroShotScores, decode, score_snippets
from .vocab import BUILTIN_VOCABS, builtin_vocab, load_vocab, parse_label_list, resolve_labels

__all__ = [
    "MODEL_NAME", "ZeroShotModel", "PromptSet", "TextBank", "build_text_bank", "ZeroShotConfig",
    "ZeroShotScores", "decode", "score_snippets", "BUILTIN_VOCABS", "builtin_vocab", "load_vocab",
    "parse_label_list", "resolve_labels",
]
