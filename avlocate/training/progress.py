"""Training progress: a rich bar (epoch, loss, ETA) on a terminal, one log line per epoch otherwise."""
from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType


class TrainProgress:
    """Context manager; ``advance(loss)`` after every step, ``epoch_done(...)`` after every epoch.

    ``enabled=None`` shows the bar only when stderr is a terminal (logs and pipes get the lines).
    """

    def __init__(self, total_steps: int, done_steps: int, total_epochs: int, log: Callable[[str], None],
                 enabled: bool | None = None) -> None:
        self.total_steps, self.total_epochs, self.log = total_steps, total_epochs, log
        self.done = done_steps
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._progress = None
        self._task = None
        self._epoch = 0
        self._loss = float("nan")

    def __enter__(self) -> "TrainProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
                TimeRemainingColumn

            self._progress = Progress(
                TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=Console(stderr=True), transient=False)
            self._progress.__enter__()
            self._task = self._progress.add_task("train", total=self.total_steps, completed=self.done,
                                                 epoch=self._epoch, epochs=self.total_epochs, loss="-")
        return self

    def start_epoch(self, epoch: int) -> None:
        """``epoch`` counts from 1."""
        self._epoch = epoch
        if self._progress is not None:
            self._progress.update(self._task, epoch=epoch)

    def advance(self, loss: float) -> None:
        self.done += 1
        self._loss = loss
        if self._progress is not None:
            self._progress.update(self._task, advance=1, loss=f"{loss:.4f}")

    def epoch_done(self, epoch: int, losses: dict[str, float]) -> None:
        text = f"epoch {epoch}/{self.total_epochs} (step {self.done}/{self.total_steps}): " + \
            ", ".join(f"{k} {v:.4f}" for k, v in losses.items())
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            self.log(text)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)
