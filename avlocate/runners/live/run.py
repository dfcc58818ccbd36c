"""``avlocate run --live``: follow one stream with a loaded model, print each event as it closes."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable

from ...errors import StreamEndedEarlyError
from ...pipeline.live import LiveConfig, LiveStream
from .printer import LivePrinter


@dataclass
class LiveOutcome:
    events: int
    stream_seconds: float
    interrupted: bool
    ended_early: str | None  # the warning when the stream stalled or dropped


def run_live(stream: LiveStream, printer: LivePrinter,
             on_warning: Callable[[str, str], None] | None = None) -> LiveOutcome:
    """Print the events of ``stream`` (``LoadedModel.stream``) as they close; ``on_warning(key,
    text)`` hears each warning the stream adds or changes on the way (a timestamp jump found
    mid-stream), once, when it appears ("stream", the reason it ended, is the caller's)."""
    told = dict(stream.warnings)

    def tick(seconds: float) -> None:
        printer.set_anchor(seconds)  # the first data: stream time ~ wall clock now
        printer.status(seconds)
        if on_warning is not None:
            for key, text in list(stream.warnings.items()):
                if key != "stream" and told.get(key) != text:
                    told[key] = text
                    on_warning(key, text)

    stream.on_chunk = tick
    events = iter(stream)
    try:
        for closed in events:
            printer.event(closed)
    except KeyboardInterrupt:  # Ctrl-C while an event was printed: the loop stops there
        events.close()
        for closed in stream.interrupt():
            printer.event(closed)
    printer.done()
    return LiveOutcome(printer.count, stream.seconds_received, stream.interrupted, stream.ended_early)


def run_live_cli(videos: list[str], model: str | None, options: Any, quiet: bool,
                 config: LiveConfig | None = None) -> int:
    """``avlocate run --live``: exit code 0 (ended, or Ctrl-C), 10 when the stream ended early.
    ``options``: the run's :class:`~avlocate.pipeline.options.RunOptions`."""
    from ...errors import UsageError
    from ...pipeline.models import load

    if len(videos) != 1:
        raise UsageError("--live follows one stream: give one URL, file or -")
    video = videos[0]
    loaded = load(model, options)  # the same door, and first-use fetch, as a file run
    stream = loaded.stream(video, config)
    if not quiet:
        for key, value in stream.warnings.items():
            print(f"avlocate: warning: {video}: {key}: {value}", file=sys.stderr)
    printer = LivePrinter(video, sys.stdout, sys.stderr, progress=sys.stderr.isatty() and not quiet)

    def warn(key: str, text: str) -> None:
        if not quiet:
            print(f"avlocate: warning: {video}: {key}: {text}", file=sys.stderr, flush=True)

    outcome = run_live(stream, printer, warn)
    if outcome.ended_early:
        if not quiet:
            print(f"avlocate: warning: {video}: stream {outcome.ended_early}; the {outcome.events} event(s) found so far "
                  "were written", file=sys.stderr)
        return StreamEndedEarlyError.exit_code
    return 0
