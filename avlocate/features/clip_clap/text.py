"""Text embeddings of label prompts from both encoders (AVSGN label texts, zero-shot classifiers).

AVSGN: one prompt per event class and encoder (``label_text.py`` beside this module builds them:
"This photo contains the [CLS]" for CLIP, "This sound contains the [CLS]" for CLAP).

Zero-shot: several templates per class; their embeddings are averaged *in embedding space* and
re-normalised (the usual CLIP prompt ensembling), so each class gets one unit vector per encoder.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import torch
import torch.nn.functional as F

from .label_text import clean_name, label_prompts


class TextEncoder(Protocol):
    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor: ...


@dataclass(frozen=True)
class LabelTextEmbeddings:
    classes: tuple[str, ...]  # event classes, in the head's output order
    clip: torch.Tensor  # (K, D) from the CLIP text tower, L2-normalised
    clap: torch.Tensor  # (K, 512) from the CLAP text tower, L2-normalised


def label_text_embeddings(clip: TextEncoder, clap: TextEncoder, class_names: Sequence[str],
                          background: str | None = "auto") -> LabelTextEmbeddings:
    """AVSGN's label texts: one CLIP and one CLAP embedding per event class."""
    prompts = label_prompts(class_names, background)
    return LabelTextEmbeddings(prompts.classes, clip.encode_text(list(prompts.clip)),
                               clap.encode_text(list(prompts.clap)))


def ensemble_text_embeddings(encoder: TextEncoder, names: Sequence[str], templates: Sequence[str]) -> torch.Tensor:
    """(K, D): for each name, the re-normalised mean of the embeddings of all ``templates``
    (each a format string with one ``{}``) filled with the readable name."""
    if not names:
        raise ValueError("no names to embed")
    if not templates or any(t.count("{}") != 1 for t in templates):
        raise ValueError("templates must be a non-empty list of strings with exactly one '{}' each")
    readable = [clean_name(n) for n in names]
    texts = [t.format(n) for n in readable for t in templates]
    emb = encoder.encode_text(texts).reshape(len(readable), len(templates), -1)
    return F.normalize(emb.mean(dim=1), dim=-1)
