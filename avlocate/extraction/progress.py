"""Progress of a folder extraction: a bar (videos done of all, ETA) on a terminal, else a line
every twentieth of the videos, so a log of an hours-long extraction (AVE: 4,143 clips) still
shows that it moves. Shared by ``avlocate extract`` and ``train-segment --dataset``."""
from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ..errors import naming


class ExtractProgress:
    """Context manager; its ``done`` is ``extract_many``'s ``on_done`` callback.

    ``enabled=None`` shows the bar only when stderr is a terminal; without the bar, ``lines``
    logs a line every ``ceil(total / 20)`` videos. A failed video is always logged."""

    def __init__(self, total: int, description: str, log: Callable[[str], None], enabled: bool | None = None,
                 lines: bool = True, transient: bool = True) -> None:
        self.total, self.description, self.log = total, description, log
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.lines, self.transient = lines, transient
        self.counts = {"done": 0, "skipped": 0, "failed": 0}
        self._every = max(1, -(-total // 20))
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> "ExtractProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      TextColumn("{task.completed}/{task.total}"), TimeRemainingColumn(),
                                      console=Console(stderr=True), transient=self.transient)
            self._progress.__enter__()
            self._task = self._progress.add_task(self.description, total=self.total)
        return self

    def done(self, status: str, record: dict[str, Any]) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        if status == "failed":
            # said through log even under the bar: rich's live display redirects stderr above it
            self.log(f"failed: {naming(record['video'], record['error'])}")
        if self._progress is not None:
            self._progress.advance(self._task)
            return
        seen = sum(self.counts.values())
        if self.lines and (seen % self._every == 0 or seen == self.total):
            self.log(f"{self.description}: {seen}/{self.total} videos ({self.counts['done']} extracted, "
                     f"{self.counts['skipped']} already there, {self.counts['failed']} failed)")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)
