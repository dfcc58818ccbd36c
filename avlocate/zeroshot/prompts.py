"""Prompt sets of the zero-shot model, and the text "classifier" they give per modality.

Each label is embedded with several templates per modality; the embeddings of one label are
averaged *in embedding space* and re-normalised (prompt ensembling, as CLIP's zero-shot
evaluation does), which is steadier than any single phrasing. Templates say what the encoder
sees: CLIP sees a still frame ("a photo of ..."), CLAP hears a clip ("the sound of ...").

Background: a set of phrases describing "nothing of interest" per modality, averaged into ONE
extra class. It gives the softmax somewhere to put its mass when no label fits, so a snippet
that matches no label gets a low probability for every label instead of a confident vote for
the least-bad one. The phrases are ours (no published zero-shot AVEL prompt set exists).

Nothing here imports open_clip or laion_clap: the encoders are anything with
``encode_text(list[str]) -> (n, D)`` (the clip-clap extractor's ClipEncoder / ClapEncoder).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import torch
import torch.nn.functional as F

VISUAL_TEMPLATES: tuple[str, ...] = (
    "a photo of {}.",
    "a video frame showing {}.",
    "a blurry photo of {}.",
    "a close-up photo of {}.",
    "a photo of the scene: {}.",
)
AUDIO_TEMPLATES: tuple[str, ...] = (
    "the sound of {}.",
    "this is a sound of {}.",
    "a recording of {}.",
    "{} can be heard.",
)
VISUAL_BACKGROUND: tuple[str, ...] = (
    "a photo of an empty scene.",
    "a photo of nothing in particular.",
    "a blank, dark video frame.",
    "a photo of a plain background.",
)
AUDIO_BACKGROUND: tuple[str, ...] = (
    "silence.",
    "quiet background noise.",
    "the sound of nothing in particular.",
    "faint room tone.",
)


class TextEncoder(Protocol):
    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor: ...


@dataclass(frozen=True)
class PromptSet:
    visual_templates: tuple[str, ...] = VISUAL_TEMPLATES
    audio_templates: tuple[str, ...] = AUDIO_TEMPLATES
    visual_background: tuple[str, ...] = VISUAL_BACKGROUND
    audio_background: tuple[str, ...] = AUDIO_BACKGROUND

    def __post_init__(self) -> None:
        for name in ("visual_templates", "audio_templates"):
            templates = getattr(self, name)
            if not templates or any(t.count("{}") != 1 for t in templates):
                raise ValueError(f"{name} must be non-empty strings with exactly one '{{}}' each")
        if not self.visual_background or not self.audio_background:
            raise ValueError("background prompt sets must not be empty")

    def label_texts(self, label: str, modality: str) -> list[str]:
        templates = self.visual_templates if modality == "visual" else self.audio_templates
        return [t.format(label) for t in templates]


@dataclass(frozen=True)
class TextBank:
    """Per-modality class embeddings: rows 0..K-1 are the labels, row K is background."""

    labels: tuple[str, ...]
    visual: torch.Tensor  # (K+1, Dv), unit rows
    audio: torch.Tensor  # (K+1, Da), unit rows
    prompts: PromptSet = field(default_factory=PromptSet)

    def __post_init__(self) -> None:
        k = len(self.labels)
        if self.visual.shape[0] != k + 1 or self.audio.shape[0] != k + 1:
            raise ValueError(f"text bank needs {k}+1 rows per modality, got {self.visual.shape[0]} / {self.audio.shape[0]}")


def ensemble(encoder: TextEncoder, groups: Sequence[Sequence[str]]) -> torch.Tensor:
    """(len(groups), D): each group's texts embedded, averaged, re-normalised. One batched call."""
    flat = [t for g in groups for t in g]
    emb = F.normalize(encoder.encode_text(flat).float(), dim=-1)  # unit rows even if an encoder is lax
    out, start = [], 0
    for g in groups:
        out.append(emb[start:start + len(g)].mean(dim=0))
        start += len(g)
    return F.normalize(torch.stack(out), dim=-1)


def build_text_bank(visual_encoder: TextEncoder, audio_encoder: TextEncoder, labels: Sequence[str],
                    prompts: PromptSet | None = None) -> TextBank:
    """Label + background embeddings for both modalities (the label names are used as given:
    the text encoders lower-case and tokenize them themselves)."""
    p = prompts or PromptSet()
    if not labels:
        raise ValueError("no labels to embed")
    visual = ensemble(visual_encoder, [p.label_texts(n, "visual") for n in labels] + [list(p.visual_background)])
    audio = ensemble(audio_encoder, [p.label_texts(n, "audio") for n in labels] + [list(p.audio_background)])
    return TextBank(tuple(labels), visual, audio, p)
