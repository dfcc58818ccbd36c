"""What the HTML page and the PNG picture both draw, computed once: lanes, rows, curves, axis.

One lane per event label (in order of first appearance, so the lanes read top-down in the
order things happen). Events of one label may overlap (Soft-NMS keeps decayed duplicates), so a
lane is split into rows: each event goes to the first row where it overlaps nothing, which keeps
every bar visible and clickable instead of stacking bars on top of each other.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ...results import Event, Result


@dataclass
class Lane:
    label: str
    events: list[Event]
    rows: list[int]  # row index of each event inside the lane
    curve: list[float] | None = None  # per-snippet score of this label, aligned with Layout.curve_times

    @property
    def num_rows(self) -> int:
        return max(self.rows, default=0) + 1


@dataclass
class Layout:
    """Everything to draw for one video; ``duration`` is the length of the time axis (seconds)."""

    duration: float
    lanes: list[Lane]
    curve_times: list[float] = field(default_factory=list)


def assign_rows(events: list[Event]) -> list[int]:
    """Greedy interval packing: first row whose last event ended before this one starts."""
    row_ends: list[float] = []
    rows = []
    for ev in sorted(range(len(events)), key=lambda i: (events[i].start, events[i].end)):
        e = events[ev]
        end = max(e.end, e.start + 1e-9)  # a zero-length event still takes room (drawn 2 px wide)
        for r, row_end in enumerate(row_ends):
            if row_end <= e.start:
                row_ends[r] = end
                rows.append((ev, r))
                break
        else:
            row_ends.append(end)
            rows.append((ev, len(row_ends) - 1))
    out = [0] * len(events)
    for ev, r in rows:
        out[ev] = r
    return out


def axis_duration(result: Result) -> float:
    """The result's duration; without one, the last thing to draw (event end or score time)."""
    ends = [e.end for e in result.events]
    scores = result.extra.get("scores") or {}
    ends += [float(t) for t in (scores.get("times") or [])[-1:]]
    if result.duration is not None and result.duration > 0:
        return float(result.duration)
    return max(ends + [0.0]) or 1.0


def build(result: Result) -> Layout:
    labels: list[str] = []
    for e in result.events:
        if e.label not in labels:
            labels.append(e.label)
    lanes = []
    times, columns = _score_columns(result)
    for label in labels:
        evs = [e for e in result.events if e.label == label]
        lanes.append(Lane(label, evs, assign_rows(evs), columns.get(label)))
    return Layout(axis_duration(result), lanes, times if any(l.curve for l in lanes) else [])


def _score_columns(result: Result) -> tuple[list[float], dict[str, list[float]]]:
    """``extra["scores"]`` = {"times": [T], "classes": [C], "values": [T][C]} -> one column per class.

    Malformed or absent scores give no curves rather than an error: the events are what matter.
    """
    s = result.extra.get("scores")
    if not isinstance(s, dict):
        return [], {}
    try:
        times = [float(t) for t in s["times"]]
        classes = [str(c) for c in s["classes"]]
        values = s["values"]
        if len(values) != len(times) or any(len(row) != len(classes) for row in values):
            return [], {}
        cols = {c: [min(1.0, max(0.0, float(row[j]))) for row in values] for j, c in enumerate(classes)}
    except (KeyError, TypeError, ValueError):
        return [], {}
    return times, cols


def nice_ticks(duration: float, max_ticks: int = 12) -> list[float]:
    """Tick positions at 1/2/5 x 10^k seconds, at most ``max_ticks`` of them, from 0."""
    if duration <= 0:
        return [0.0]
    raw = duration / max_ticks
    # Below 10 s steps of 1/2/5 x 10^k; above, steps people read on a clock (15 s, 1 min, 5 min ...).
    clock = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600]
    mag = 10 ** math.floor(math.log10(raw))
    decimal = [m * mag for m in (1, 2, 5, 10)]
    step = next((s for s in (decimal if raw < 10 else clock) if s >= raw), 3600 * math.ceil(raw / 3600))
    n = int(math.floor(duration / step + 1e-9))
    return [round(i * step, 6) for i in range(n + 1)]


def fmt_time(t: float) -> str:
    """Seconds for an axis label: ``12``, ``2.5``, or ``1:05`` / ``1:05.5`` from a minute on."""
    if t < 60:
        return f"{round(t, 3):g}"
    m, s = divmod(round(t, 3), 60)
    return f"{int(m)}:{int(s):02d}" + (f"{s % 1:.3g}"[1:] if s % 1 else "")


# Lane colours (colour-blind-safe Okabe-Ito order, then a few more); the page and the PNG agree.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#7F3C8D", "#11A579"]
