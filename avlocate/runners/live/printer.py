"""``--live`` output: one flushed JSON line per closed event (stream seconds and wall-clock ISO
times), and the progress line on a terminal."""
from __future__ import annotations

import datetime as dt
import json
import time
from typing import IO


from ...pipeline.live.locator import ClosedEvent


class LivePrinter:
    """JSONL lines (flushed) on ``out``; progress on a terminal ``err``."""

    def __init__(self, video: str, out: IO[str], err: IO[str] | None, progress: bool) -> None:
        self.video, self.out, self.err, self.progress = video, out, err, progress
        self.anchor: float | None = None  # wall-clock epoch seconds of stream time 0
        self.started = time.time()
        self.count = 0

    def set_anchor(self, stream_seconds: float) -> None:
        if self.anchor is None:
            self.anchor = time.time() - stream_seconds

    def _iso(self, seconds: float) -> str:
        anchor = self.anchor if self.anchor is not None else self.started
        return dt.datetime.fromtimestamp(anchor + seconds, dt.timezone.utc).isoformat(timespec="milliseconds")

    def event(self, closed: ClosedEvent) -> None:
        e = closed.event
        line = {"video": self.video, "label": e.label, "start": e.start, "end": e.end, "score": round(e.score, 4),
                **({"modality": e.modality} if e.modality else {}),
                "start_time": self._iso(e.start), "end_time": self._iso(e.end),
                "stream_time": round(closed.stream_time, 3), "final": closed.final}
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()
        self.count += 1

    def status(self, stream_seconds: float) -> None:
        if not self.progress or self.err is None:
            return
        lag = max(0.0, time.time() - (self.anchor or self.started) - stream_seconds)
        h, rem = divmod(int(stream_seconds), 3600)
        self.err.write(f"\rlive: {h:02d}:{rem // 60:02d}:{rem % 60:02d} of stream processed, lag {lag:.1f} s, "
                       f"{self.count} event(s)  ")
        self.err.flush()

    def done(self) -> None:
        if self.progress and self.err is not None:
            self.err.write("\n")
            self.err.flush()
