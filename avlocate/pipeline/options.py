"""The options of a run: one frozen object, validated here and nowhere else.

The CLI builds it from its flags (``avlocate run``, ``--live``, ``batch``), Python from keywords
(``avlocate.load`` / ``avlocate.locate``: :data:`avlocate.LOCATE_OPTIONS` is derived from the
fields below). A batch records :meth:`RunOptions.settings` in each line and hands the object to
its workers (it pickles, and :meth:`to_dict` / :meth:`from_dict` carry it as JSON).

Two kinds of option:

* options every model takes (device, threshold, ...);
* **model options**, marked ``model_option`` in their field's metadata, which only the models
  whose card lists them in ``options`` take (zero-shot: labels, vocab, per_modality,
  min_duration, zs_method). Adding one is one field here plus its name in the cards that take it (and its
  flag in the CLI); :meth:`RunOptions.check_model` then refuses it for every other model with
  the same line.

Torch-free: a batch checks its options before any worker loads torch.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputNotFoundError, UsageError
from . import check_threshold


def _model_option(default: Any, flag: str) -> Any:
    return field(default=default, metadata={"model_option": True, "flag": flag})


def _option(default: Any, flag: str) -> Any:
    return field(default=default, metadata={"flag": flag})


PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class RunOptions:
    """A run's options under their CLI names (``--per-modality`` is ``per_modality``)."""

    device: str = _option("auto", "--device")
    threshold: float | None = _option(None, "--threshold")
    scores: bool = _option(False, "--scores")
    features: str | None = _option(None, "--features")  # a folder written by `avlocate extract`
    checkpoint: str | None = _option(None, "--checkpoint")  # a .safetensors file instead of the card's
    extractor: str | None = _option(None, "--extractor")  # another registered extractor than the card's
    precision: str | None = _option(None, "--precision")  # None: the extractor's default (fp32)
    stall_timeout: float = _option(30.0, "--stall-timeout")  # URL or pipe: seconds without data
    # model options: taken only by the models whose card lists them
    labels: str | tuple[str, ...] | None = _model_option(None, "--labels")
    vocab: str | None = _model_option(None, "--vocab")
    per_modality: bool = _model_option(False, "--per-modality")
    min_duration: float | None = _model_option(None, "--min-duration")
    zs_method: str | None = _model_option(None, "--zs-method")  # zero-shot: av2a or softmax-min

    def __post_init__(self) -> None:
        # Normalise what Python callers may pass in other shapes (frozen: object.__setattr__).
        if self.labels is not None and not isinstance(self.labels, str):
            object.__setattr__(self, "labels", tuple(str(x) for x in self.labels))
        for name in ("features", "checkpoint"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                object.__setattr__(self, name, str(value))
        self._validate()

    def _validate(self) -> None:
        """Every value on its own: one message per mistake, the same from the CLI and Python."""
        check_threshold(self.threshold, "--threshold")
        if self.min_duration is not None and not float(self.min_duration) >= 0:
            raise UsageError(f"--min-duration must be >= 0, got {self.min_duration}")
        if not float(self.stall_timeout) > 0:
            raise UsageError(f"--stall-timeout {float(self.stall_timeout):g} must be positive (seconds)")
        if self.precision is not None and self.precision not in PRECISIONS:
            raise UsageError(f"--precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if not isinstance(self.device, str) or not self.device:
            raise UsageError(f"--device must be a name such as auto, cpu or cuda[:N], not {self.device!r}")
        if self.features is not None and not Path(self.features).is_dir():
            raise InputNotFoundError(f"{self.features}: no such features folder; check the path, or write it first "
                                     "with `avlocate extract VIDEO -e EXTRACTOR -o DIR`")

    # -- which options a model takes ---------------------------------------------------------

    @classmethod
    def model_option_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("model_option"))

    def given_model_options(self) -> list[str]:
        """The model options set to something else than their default, in field order."""
        return [f.name for f in dataclasses.fields(self)
                if f.metadata.get("model_option") and getattr(self, f.name) != f.default]

    def check_model(self, model_name: str, takes: tuple[str, ...] | list[str]) -> None:
        """An option the model does not take is a usage error, worded the same for every model
        and every command (exit 2)."""
        for name in self.given_model_options():
            if name not in takes:
                flags = ", ".join(flag(n) for n in takes) or "none"
                takers = models_taking(name)
                hint = f"; it needs {' or '.join('--model ' + m for m in takers)}" if takers else ""
                raise UsageError(f"{flag(name)} does not apply to model {model_name!r} "
                                 f"(its model options: {flags}){hint}")

    def check_for(self, model: str) -> None:
        """:meth:`check_model` against the card of ``model`` (a name or a card path), torch-free."""
        from ..errors import WeightsError
        from ..weights.store import load_card

        try:
            card = load_card(model)
        except WeightsError:
            return  # not installed yet (an official model, fetched on first use): load() checks it then
        self.check_model(card.name, card.options)

    # -- carrying it -------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """What a batch line records of its options: the keys resume compares (resume_check)."""
        return {"threshold": self.threshold, "precision": self.precision}

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if isinstance(out["labels"], tuple):
            out["labels"] = list(out["labels"])
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "RunOptions":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def from_keywords(cls, caller: str = "locate()", **keywords: Any) -> "RunOptions":
        """Python's keywords, under the CLI's names (and two earlier names that still work)."""
        given: dict[str, Any] = {}
        for key, value in keywords.items():
            name = OLD_NAMES.get(key, key)
            if name not in OPTION_NAMES:
                raise UsageError(f"{caller} has no option {key!r}; it takes {', '.join(OPTION_NAMES)}")
            given[name] = value
        return cls(**given)


def models_taking(option: str) -> list[str]:
    """The installed models (cards) that take model option ``option``, by name."""
    from ..weights.inventory import installed_cards

    return sorted(name for name, (card, _) in installed_cards().items() if option in card.options)


def flag(name: str) -> str:
    """The CLI flag of option ``name``."""
    for f in dataclasses.fields(RunOptions):
        if f.name == name:
            return str(f.metadata.get("flag", "--" + name.replace("_", "-")))
    return "--" + name.replace("_", "-")


#: every option's name, in field order (``avlocate.LOCATE_OPTIONS``)
OPTION_NAMES = tuple(f.name for f in dataclasses.fields(RunOptions))
OLD_NAMES = {"keep_scores": "scores", "features_dir": "features"}  # earlier keyword names still work
