"""Model cards: what a set of weights is, which features it needs, and where it came from.

A model = architecture (a registered head) + weights (safetensors) + this card (JSON). The card is
the contract between the head and the extractor: ``run`` refuses a card whose feature protocol
does not match the extractor it names.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WeightsError


_OBJECT_FIELDS = ("head_config", "extractor_config", "feature_protocol", "decode", "provenance")


def _check_field_types(path: Path, data: dict[str, Any]) -> None:
    """Wrong JSON types would otherwise surface later as internal errors (found by fuzzing cards)."""
    for key in ("name", "head", "extractor"):
        if not isinstance(data[key], str) or not data[key]:
            raise WeightsError(f"model card {path}: {key!r} must be a non-empty string")
    for key in _OBJECT_FIELDS:
        if key in data and not isinstance(data[key], dict):
            raise WeightsError(f"model card {path}: {key!r} must be a JSON object, not {type(data[key]).__name__}")
    sha = data.get("sha256")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise WeightsError(f"model card {path}: 'sha256' must be 64 lower-case hex digits or null")
    if data.get("description") is None:
        data["description"] = ""
    elif not isinstance(data["description"], str):
        raise WeightsError(f"model card {path}: 'description' must be a string")


@dataclass
class ModelCard:
    name: str  # the --model name
    head: str  # registered head architecture
    extractor: str  # registered extractor
    classes: list[str]
    weights_file: str | None  # safetensors file name, looked up in the weights search path; None: no head weights
    sha256: str | None = None  # of weights_file; None = unknown (pinned on first verified download)
    head_config: dict[str, Any] = field(default_factory=dict)
    extractor_config: dict[str, Any] = field(default_factory=dict)
    feature_protocol: dict[str, Any] = field(default_factory=dict)
    decode: dict[str, Any] = field(default_factory=dict)  # e.g. threshold, min_duration
    provenance: dict[str, Any] = field(default_factory=dict)  # trained by/on, metric, licence
    description: str = ""
    # The model options (avlocate.pipeline.options) this model takes beyond every model's, e.g.
    # zero-shot's ["labels", "vocab", "per_modality", "min_duration"]; any other is refused.
    options: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> "ModelCard":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WeightsError(f"model card {path} is not readable JSON ({exc})") from None
        if not isinstance(data, dict):
            raise WeightsError(f"model card {path} must be a JSON object")
        missing = [k for k in ("name", "head", "extractor", "classes", "weights_file") if k not in data]
        if missing:
            raise WeightsError(f"model card {path} lacks {', '.join(missing)}")
        options = data.get("options", [])
        if not isinstance(options, list) or not all(isinstance(o, str) and o for o in options):
            raise WeightsError(f"model card {path}: 'options' must be a list of option names")
        classes = data["classes"]
        # A model that names its events at run time (it takes "labels") may leave its classes empty.
        open_vocabulary = "labels" in options
        if (not isinstance(classes, list) or not (classes or open_vocabulary)
                or not all(isinstance(c, str) and c for c in classes)):
            raise WeightsError(f"model card {path}: 'classes' must be a non-empty list of names")
        if len(set(classes)) != len(classes):
            raise WeightsError(f"model card {path}: 'classes' has duplicates")
        weights_file = data["weights_file"]
        if weights_file is None and open_vocabulary:
            pass  # a head without trained weights (zero-shot similarity): nothing to load
        elif not isinstance(weights_file, str) or weights_file in ("", ".", "..") or Path(weights_file).name != weights_file:
            # A card from elsewhere must not point the loader at arbitrary files (../../, /dev/...).
            raise WeightsError(f"model card {path}: 'weights_file' must be a plain file name, not {weights_file!r}")
        _check_field_types(path, data)
        known = {f for f in cls.__dataclass_fields__}
        card = cls(**{k: v for k, v in data.items() if k in known})
        # Not a field (never saved): lets `--model path/to/card.json` find weights next to the card.
        card.source_dir = Path(path).resolve().parent
        return card

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
