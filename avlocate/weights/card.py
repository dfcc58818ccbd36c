"""Model cards: what a set of weights is, which features it needs, and where it came from.

A model = architecture (a registered head) + weights (safetensors) + this card (JSON). The card is
the contract between the head and the extractor: ``run`` refuses a card whose feature protocol
does not match the extractor it names.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WeightsError
from .names import name_problem

#: Bounds on what a card file may hold, checked before parsing: a card is a few kilobytes (the
#: largest bundled one lists 100 classes); a hostile one must not exhaust memory or the stack.
MAX_CARD_BYTES = 4 * 1024 * 1024
MAX_CARD_DEPTH = 32
MAX_CLASSES = 100_000
MAX_LABEL_CHARS = 500
#: No size, count or length in a card may exceed this: the largest in any known config is 10,000
#: (a regression range); the weights file bounds the actual tensors (checked before allocating).
MAX_CARD_INT = 1 << 20
#: integer config fields that are sizes or counts of something that must exist (>= 1).
_POSITIVE_INT = re.compile(r"(^|_)(dim|len|classes|heads|kernel|hidden|window|stride|segments|cells|experts|topk)(_|$)")
#: Extractor settings that size what is decoded or batched (a frame of 1e6 x 1e6 pixels, a batch of
#: 1e6 images): bounded far above any real setting (4K frames; batches of a few hundred).
_EXTRACTOR_BOUNDS = ((re.compile(r"(width|height|size|side)$"), 8192),
                     (re.compile(r"(batch|chunk|frames_per|per_window|per_second|iterations|n_mels)"), 4096),
                     (re.compile(r"sample_rate$"), 384_000))
#: decode fields that are probabilities (scores are compared with them).
_PROBABILITIES = ("threshold", "pre_nms_thresh", "min_score", "iou_threshold", "event_threshold")
#: decode fields that are numbers for every decoder that has them.
_NUMERIC_DECODE = (*_PROBABILITIES, "min_duration", "max_gap", "pre_nms_topk", "duration_thresh", "nms_sigma",
                   "max_seg_num")

_OBJECT_FIELDS = ("head_config", "extractor_config", "feature_protocol", "decode", "provenance")


def label_problem(label: str) -> str | None:
    """None when ``label`` can be a class name, else why not: one line each, as labels go into
    subtitle cues, table rows and log lines."""
    if len(label) > MAX_LABEL_CHARS or re.search(r"[\x00-\x1f\x7f]", label):
        return f"must be one line of at most {MAX_LABEL_CHARS} characters, without control characters"
    return None


def _json_depth_problem(text: str, limit: int = MAX_CARD_DEPTH) -> str | None:
    """Nesting beyond ``limit`` (the JSON parser would recurse once per level, 100,000 levels
    crash it): scanned before parsing, skipping string contents."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return f"is nested deeper than {limit} levels"
        elif ch in "]}":
            depth -= 1
    return None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number (strict JSON has no NaN or Infinity)")


def read_json_bounded(path: Path, what: str, error: type[Exception], max_bytes: int = MAX_CARD_BYTES) -> Any:
    """The JSON document at ``path``, or ``error`` in one line: bounded size and depth, strict
    numbers (no bare NaN/Infinity), UTF-8. Shared by model cards and feature sidecars."""
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{what} {path} is not readable ({exc.strerror or exc})") from None
    if len(raw) > max_bytes:
        raise error(f"{what} {path} is larger than {max_bytes // (1024 * 1024)} MiB; not a {what}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not UTF-8 text") from None
    problem = _json_depth_problem(text)
    if problem is not None:
        raise error(f"{what} {path} {problem}; not a {what}")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise error(f"{what} {path} is not readable JSON ({str(exc).splitlines()[0]})") from None


def _number_problem(key: str, value: Any, section: str) -> str | None:
    """What is wrong with one config value (walked recursively through lists and objects)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            problem = _number_problem(f"{key}[{i}]", v, section)
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            problem = _number_problem(f"{key}.{k}", v, section)
            if problem:
                return problem
        return None
    if not isinstance(value, (int, float)):
        return f"{section}.{key} has an unsupported value {value!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{section}.{key} must be a finite number, not {value}"
    if abs(value) > MAX_CARD_INT:
        return f"{section}.{key} = {value} is out of range (at most {MAX_CARD_INT})"
    if value < 0:
        return f"{section}.{key} = {value} must not be negative"
    if section != "decode" and isinstance(value, int) and "[" not in key and _POSITIVE_INT.search(key) and value < 1:
        return f"{section}.{key} = {value} must be at least 1"
    if section == "extractor_config":
        for pattern, bound in _EXTRACTOR_BOUNDS:
            if pattern.search(key) and value > bound:
                return f"{section}.{key} = {value} is out of range (at most {bound})"
    return None


def _check_decode(path: Path, decode: dict[str, Any]) -> None:
    kind = decode.get("kind", "snippet-scores")
    if not isinstance(kind, str) or not kind:
        raise WeightsError(f"model card {path}: 'decode.kind' must be a non-empty string")
    for key, value in decode.items():
        if key == "kind" or (key not in _NUMERIC_DECODE and not isinstance(value, (int, float))):
            continue  # another decoder's own setting (a string, a flag): its decoder checks it
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WeightsError(f"model card {path}: 'decode.{key}' must be a number, not {value!r}")
        if key in _PROBABILITIES and not 0.0 <= value <= 1.0:
            raise WeightsError(f"model card {path}: 'decode.{key}' = {value} must be between 0 and 1")


def _check_field_types(path: Path, data: dict[str, Any]) -> None:
    """Wrong JSON types would otherwise surface later as internal errors (found by fuzzing cards)."""
    problem = name_problem(data["name"])
    if problem is not None:
        # The name becomes a file name (<name>.json) when the card is saved or imported.
        raise WeightsError(f"model card {path}: 'name' {problem}")
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
    for section in ("head_config", "extractor_config", "decode", "feature_protocol"):
        for key, value in (data.get(section) or {}).items():
            problem = _number_problem(key, value, section)
            if problem is not None:
                raise WeightsError(f"model card {path}: {problem}")
    _check_decode(path, data.get("decode") or {})


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
        data = read_json_bounded(Path(path), "model card", WeightsError)
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
                or not all(isinstance(c, str) and c.strip() for c in classes)):
            raise WeightsError(f"model card {path}: 'classes' must be a non-empty list of names")
        if len(classes) > MAX_CLASSES:
            raise WeightsError(f"model card {path}: 'classes' lists {len(classes)} names (at most {MAX_CLASSES})")
        for i, c in enumerate(classes):
            if label_problem(c) is not None:
                raise WeightsError(f"model card {path}: 'classes[{i}]' {label_problem(c)}")
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
