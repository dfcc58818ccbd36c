"""What a run produces: events and the metadata of the run that found them.

Writers see only these objects. Times are seconds, rounded to milliseconds when serialised;
events are kept sorted by start (then end, then label) so every format lists them alike.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def _ms(x: float) -> float:
    return round(float(x), 3)


@dataclass(frozen=True)
class Event:
    label: str
    start: float  # seconds
    end: float  # seconds
    score: float  # in [0, 1]
    modality: str | None = None  # None = audio-visual; "audio"/"visual" for single-modality reports

    def __post_init__(self) -> None:
        # Times are milliseconds everywhere (README, "Output formats"): Python sees what JSON says.
        object.__setattr__(self, "start", _ms(self.start))
        object.__setattr__(self, "end", _ms(self.end))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "label": self.label,
            "start": _ms(self.start),
            "end": _ms(self.end),
            "score": round(float(self.score), 4),
        }
        if self.modality is not None:
            d["modality"] = self.modality
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Event":
        return cls(str(d["label"]), float(d["start"]), float(d["end"]), float(d.get("score", 1.0)), d.get("modality"))


def sort_events(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.start, e.end, e.label, -e.score))


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None: strict JSON has no NaN, and a
    strict parser rejects the whole file over one bare ``NaN``."""
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _finite(value: Any) -> bool:
    import math

    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def result_dict_problem(d: Any) -> str | None:
    """None when ``d`` (one parsed results line) has the types :meth:`Result.from_dict` and the
    writers rely on, else the first field that does not, in a phrase (a results file may come from
    elsewhere: a wrong type must be one line, not a crash deep inside a writer)."""
    if not isinstance(d, dict):
        return "not a JSON object"
    if not isinstance(d.get("video"), str) or not d["video"]:
        return "'video' must be a non-empty string"
    if d.get("duration") is not None and not (_finite(d["duration"]) and d["duration"] >= 0):
        return "'duration' must be a finite number >= 0 or null"
    events = d.get("events", [])
    if not isinstance(events, list):
        return "'events' must be a list"
    for i, e in enumerate(events):
        if not isinstance(e, dict) or not isinstance(e.get("label"), str):
            return f"'events[{i}]' must be an object with a 'label' string"
        if not all(_finite(e.get(k)) for k in ("start", "end")) or not _finite(e.get("score", 1.0)):
            return f"'events[{i}]' start, end and score must be finite numbers"
    for key in ("warnings",):
        value = d.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            return f"{key!r} must be an object of strings"
    for key in ("feature_protocol", "timing"):
        if not isinstance(d.get(key, {}), dict):
            return f"{key!r} must be an object"
    if not all(_finite(v) for v in d.get("timing", {}).values()):
        return "'timing' values must be finite numbers"
    for key in ("model", "weights", "extractor", "device", "error"):
        if d.get(key) is not None and not isinstance(d[key], str):
            return f"{key!r} must be a string or null"
    if d.get("error_code") is not None and not (isinstance(d["error_code"], int) and not isinstance(d["error_code"], bool)):
        return "'error_code' must be a whole number or null"
    return None


@dataclass
class Result:
    """One video's events plus everything needed to know how they were found."""

    video: str
    duration: float | None
    events: list[Event]
    model: str | None = None
    weights: str | None = None  # weights id (file name + sha256 prefix)
    extractor: str | None = None
    feature_protocol: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    warnings: dict[str, str] = field(default_factory=dict)  # e.g. {"audio": "missing"}
    timing: dict[str, float] = field(default_factory=dict)  # seconds per stage + "total"
    error: str | None = None  # set (with error_code) when the video failed in a batch
    error_code: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. per-snippet scores when asked for

    def __post_init__(self) -> None:
        self.events = sort_events(list(self.events))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "video": self.video,
            "duration": None if self.duration is None else _ms(self.duration),
            "model": self.model,
            "weights": self.weights,
            "extractor": self.extractor,
            "feature_protocol": self.feature_protocol,
            "device": self.device,
            "events": [e.to_dict() for e in self.events],
            "warnings": self.warnings,
            "timing": {k: _ms(v) for k, v in self.timing.items()},
        }
        if self.error is not None:
            d["error"] = self.error
            d["error_code"] = self.error_code
        d.update(self.extra)
        return json_safe(d)  # no bare NaN/Infinity in any output (scores of broken weights, a live stream's duration)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Result":
        known = {"video", "duration", "model", "weights", "extractor", "feature_protocol", "device",
                 "events", "warnings", "timing", "error", "error_code"}
        return cls(
            video=d["video"],
            duration=d.get("duration"),
            events=[Event.from_dict(e) for e in d.get("events", [])],
            model=d.get("model"),
            weights=d.get("weights"),
            extractor=d.get("extractor"),
            feature_protocol=d.get("feature_protocol", {}),
            device=d.get("device"),
            warnings=d.get("warnings", {}),
            timing=d.get("timing", {}),
            error=d.get("error"),
            error_code=d.get("error_code"),
            extra={k: v for k, v in d.items() if k not in known},
        )

    @classmethod
    def failure(cls, video: str, error: str, code: int) -> "Result":
        from .errors import naming  # a failure line's error names its video once, at the start

        return cls(video=video, duration=None, events=[], error=naming(video, error), error_code=code)


__all__ = ["Event", "Result", "sort_events", "asdict"]
