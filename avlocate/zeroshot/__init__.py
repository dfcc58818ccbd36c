"""Zero-shot, open-vocabulary audio-visual event localization (CLIP + CLAP, no training).

Importing this package needs neither open_clip nor laion_clap; they are loaded only when the
encoders are built (``locate_zeroshot``).
"""
from __future__ import annotations

from .model import MODEL_NAME, ZeroShotModel, locate_zeroshot
from .prompts import PromptSet, TextBank, build_text_bank
from .scoring import ZeroShotConfig, ZeroShotScores, decode, score_snippets
from .vocab import BUILTIN_VOCABS, builtin_vocab, load_vocab, parse_label_list, resolve_labels

__all__ = [
    "MODEL_NAME", "ZeroShotModel", "locate_zeroshot", "PromptSet", "TextBank", "build_text_bank", "ZeroShotConfig",
    "ZeroShotScores", "decode", "score_snippets", "BUILTIN_VOCABS", "builtin_vocab", "load_vocab",
    "parse_label_list", "resolve_labels",
]
