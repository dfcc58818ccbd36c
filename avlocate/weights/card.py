"""Model cards: what a set of weights is, which features it needs, and where it came from.

A model = architecture (a registered head) + weights (safetensors) + this card (JSON). The card is
the contract between the head and the extractor: ``run`` refuses a card whose feature protocol
does not match the extractor it names.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WeightsError


@dataclass
class ModelCard:
    name: str  # the --model name
    head: str  # registered head architecture
    extractor: str  # registered extractor
    classes: list[str]
    weights_file: str  # safetensors file name, looked up in the weights search path
    sha256: str | None = None  # of weights_file; None = unknown (pinned on first verified download)
    head_config: dict[str, Any] = field(default_factory=dict)
    extractor_config: dict[str, Any] = field(default_factory=dict)
    feature_protocol: dict[str, Any] = field(default_factory=dict)
    decode: dict[str, Any] = field(default_factory=dict)  # e.g. threshold, min_duration
    provenance: dict[str, Any] = field(default_factory=dict)  # trained by/on, metric, licence
    description: str = ""

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
        classes = data["classes"]
        if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes):
            raise WeightsError(f"model card {path}: 'classes' must be a non-empty list of names")
        if len(set(classes)) != len(classes):
            raise WeightsError(f"model card {path}: 'classes' has duplicates")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
