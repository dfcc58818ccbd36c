"""Checks that a model card, its head and its weights belong together, with messages that name
the mismatch (the first differing key or shape, the class counts) instead of PyTorch's
multi-line ``load_state_dict`` report.

Meant to be called by ``models.load_model`` right after building the head:

    problem = describe_state_mismatch(head, state)          # before head.load_state_dict
    if problem: raise WeightsError(f"weights {weights_id} do not fit head {card.head!r}: {problem}")
    check_card_fits_head(card, head)                         # after
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from ..errors import WeightsError
from .card import ModelCard


def describe_state_mismatch(head: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> str | None:
    """None when ``state`` fits ``head`` exactly (keys and shapes), else what differs, in one line."""
    expected = head.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    parts = []
    if shapes:
        k = shapes[0]
        parts.append(f"{len(shapes)} tensor(s) have another shape, e.g. {k!r}: "
                     f"{tuple(state[k].shape)} in the file, {tuple(expected[k].shape)} in the head")
    if missing:
        parts.append(f"{len(missing)} tensor(s) missing, e.g. {missing[0]!r}")
    if unexpected:
        parts.append(f"{len(unexpected)} unknown tensor(s), e.g. {unexpected[0]!r} (weights of another architecture?)")
    return "; ".join(parts) or None


def event_classes(head: torch.nn.Module) -> int | None:
    """How many event classes ``head`` scores (background excluded), when its config says."""
    config = getattr(head, "config", None) or getattr(head, "cfg", None)
    if config is None:
        return None
    if hasattr(config, "num_events"):
        return int(config.num_events)
    if hasattr(config, "background"):  # segment heads: the last class is background
        return int(config.num_classes) - 1
    if hasattr(config, "num_classes"):
        return int(config.num_classes)
    return None


def check_card_fits_head(card: ModelCard, head: torch.nn.Module) -> None:
    """Raise WeightsError when the card's class list does not match the head's outputs."""
    scored = event_classes(head)
    if scored is not None and scored != len(card.classes):
        raise WeightsError(
            f"model card {card.name!r} lists {len(card.classes)} classes but head {card.head!r} scores {scored}; "
            "the card does not belong to these weights"
        )


def config_value_problem(config_cls: type, config: Mapping[str, object]) -> str | None:
    """None when each value of ``config`` has the JSON type of its dataclass field's default (an
    int where an int is, a number where a float is, ...), else the first field that does not: a
    card's ``"max_seq_len": "abc"`` or ``1e9`` must be refused when the card is read, not crash
    inside a network's constructor."""
    import dataclasses

    for f in dataclasses.fields(config_cls):
        if f.name not in config or f.default is dataclasses.MISSING:
            continue
        value, default = config[f.name], f.default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif isinstance(default, str):
            ok = isinstance(value, str)
        elif isinstance(default, (tuple, list)):
            ok = isinstance(value, (tuple, list))
        else:
            ok = True
        if not ok:
            return f"field {f.name!r} must be a {type(default).__name__}, not {value!r}"
    return None


def skeleton(build: "Callable[[], torch.nn.Module]") -> torch.nn.Module:
    """The module ``build`` makes, on the meta device: its parameter shapes without their memory,
    so a card asking for a dimension of 1e9 is compared with its weights before anything is
    allocated (a real build would ask for hundreds of GB first)."""
    with torch.device("meta"):
        return build()
