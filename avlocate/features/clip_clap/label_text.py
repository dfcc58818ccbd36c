"""Label-text prompts for AVSGN, built from any class list (the model card's).

The paper embeds every event label twice: with the CLIP text encoder from the prompt
"This photo contains the [CLS]" (the prompt of its ref. [49]) and with the CLAP text encoder from
"This sound contains the [CLS]". Only the *event* classes get a prompt: the background class is
the absence of an event, not something a photo or sound "contains", and the head's label-text
projection has one input row per event class (K = num_classes - 1).

Choices where the paper is silent: no trailing full stop (the prompts are printed without one);
class names are used as written in the card except that underscores become spaces and runs of
whitespace collapse (AVE-style names such as "Church bell" or "Race car, auto racing" stay as
they are; casing is kept, since CLAP's text tokenizer is case-sensitive and the card is the
authority on how a class is named).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

CLIP_TEMPLATE = "This photo contains the {}"
CLAP_TEMPLATE = "This sound contains the {}"
#: names treated as the background class when it is given in the class list.
BACKGROUND_NAMES = ("background", "bg", "none", "other")


@dataclass(frozen=True)
class LabelPrompts:
    classes: tuple[str, ...]  # the event classes, in the order of the head's outputs
    clip: tuple[str, ...]  # one prompt per event class, for the CLIP text encoder
    clap: tuple[str, ...]  # the same for the CLAP text encoder


def clean_name(name: str) -> str:
    """Readable class name: underscores -> spaces, whitespace collapsed, ends stripped."""
    cleaned = " ".join(name.replace("_", " ").split())
    if not cleaned:
        raise ValueError(f"class name {name!r} is empty")
    return cleaned


def event_classes(class_names: Sequence[str], background: str | None = "auto") -> list[str]:
    """The event classes of a card's class list, without its background entry.

    ``background="auto"`` drops a *last* entry whose name is one of :data:`BACKGROUND_NAMES`
    (case-insensitive; the AVE convention puts background last); a string drops exactly that
    entry wherever it is; ``None`` keeps every name.
    """
    names = list(class_names)
    if background == "auto":
        if names and names[-1].strip().lower() in BACKGROUND_NAMES:
            names = names[:-1]
    elif background is not None:
        if background not in names:
            raise ValueError(f"background class {background!r} is not in the class list")
        names.remove(background)
    if not names:
        raise ValueError("the class list has no event class")
    if len(set(names)) != len(names):
        raise ValueError("the class list names a class twice")
    return names


def label_prompts(class_names: Sequence[str], background: str | None = "auto",
                  clip_template: str = CLIP_TEMPLATE, clap_template: str = CLAP_TEMPLATE) -> LabelPrompts:
    """Prompt lists for both text encoders, one entry per event class, in class-list order."""
    events = event_classes(class_names, background)
    readable = [clean_name(n) for n in events]
    return LabelPrompts(
        classes=tuple(events),
        clip=tuple(clip_template.format(n) for n in readable),
        clap=tuple(clap_template.format(n) for n in readable),
    )
