"""The ``--live`` loop: decode, feed, analyse, print, until the stream ends, stalls or Ctrl-C."""
from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol


from ...errors import StreamEndedEarlyError
from ...features.base import Features
from ...results import Event
from .feed import LiveConfig, SnippetFeed
from .locator import ClosedEvent, LiveLocator, window_snippets
from .printer import LivePrinter


@dataclass
class LiveOutcome:
    events: int
    stream_seconds: float
    interrupted: bool
    ended_early: str | None  # the warning when the stream stalled or dropped


class Locator(Protocol):
    """Steps 2 and 3: features in, closed events out (LiveLocator; SegmentLiveLocator)."""

    def add(self, feats: Features) -> None: ...

    def step_closed(self) -> list[ClosedEvent]: ...

    def flush(self, end: float | None) -> list[ClosedEvent]: ...


def run_live(clip: Any, extractor: Any, analyze: Callable[[Features], list[Event]] | None, printer: LivePrinter,
             config: LiveConfig | None = None, window: int | None = None, locator: Locator | None = None
             ) -> LiveOutcome:
    """The live loop over an opened clip (media.source.open_input_clip). Events come from
    ``analyze`` over a sliding window (dense heads, zero-shot), or from ``locator`` when given
    (segment heads: :class:`~.segments.SegmentLiveLocator`)."""
    cfg = config or LiveConfig()
    tl = extractor.timeline
    step = float(tl.stride) / float(tl.fps)
    block = max(1, round(cfg.hop_seconds / step))
    lead = cfg.lead_snippets if cfg.lead_snippets is not None else int(getattr(extractor, "live_lead_snippets", 1))
    feed = SnippetFeed(extractor, clip, block, lead)
    if locator is None:
        if analyze is None:
            raise ValueError("run_live needs analyze or locator")
        locator = LiveLocator(analyze, step, window or window_snippets(None, step, cfg), cfg)  # cfg.window_seconds, else 30 s
    fps = clip.video.fps if clip.video is not None else tl.fps
    chunks = clip.chunks(frames_per_chunk=max(1, round(float(fps) * cfg.chunk_seconds)),
                         audio_chunk_seconds=cfg.chunk_seconds)
    interrupted = False
    try:
        for chunk in chunks:
            feats = feed.push(chunk)
            printer.set_anchor(feed.seconds_received)  # the first data: stream time ~ wall clock now
            if feats is not None:
                locator.add(feats)
                for closed in locator.step_closed():
                    printer.event(closed)
            printer.status(feed.seconds_received)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    end = float(clip.duration) if not interrupted and math.isfinite(float(clip.duration)) else None
    tail = feed.finish(end)
    if tail is not None:
        locator.add(tail)
    for closed in locator.flush(end):
        printer.event(closed)
    printer.done()
    return LiveOutcome(printer.count, feed.seconds_received, interrupted, clip.warnings.get("stream"))


def model_analyzer(loaded: Any, threshold: float | None) -> Callable[[Features], list[Event]]:
    return lambda feats: loaded.predict(feats, threshold=threshold)[0]


def run_live_cli(videos: Iterable[str], model: str | None, device: str, threshold: float | None,
                 labels: str | None, vocab: str | None, min_duration: float | None, checkpoint: Any,
                 extractor: str | None, precision: str | None, stream_options: Any, quiet: bool,
                 zs_method: str | None = None) -> int:
    """``avlocate run --live``: exit code 0 (ended, or Ctrl-C), 10 when the stream ended early."""
    from ...errors import UsageError
    from ...media.source import open_input_clip
    from ...pipeline.models import DEFAULT_MODEL, load_model

    videos = list(videos)
    if len(videos) != 1:
        raise UsageError("--live follows one stream: give one URL, file or -")
    video = videos[0]
    loaded = None
    locator: Locator | None = None
    if model == "zeroshot":
        from ...zeroshot import ZeroShotModel

        zs = ZeroShotModel(labels, vocab, device=device, method=zs_method)
        ex = zs.extractor
        if zs.method == "av2a":  # decided clip by clip, as the file run (live/av2a.py)
            from .av2a import Av2aLiveLocator

            analyze, locator = None, Av2aLiveLocator(zs, threshold, min_duration)
        else:
            analyze = zeroshot_analyzer(zs, threshold, min_duration)
    else:
        if labels or vocab or min_duration is not None or zs_method is not None:
            raise UsageError("--labels, --vocab, --min-duration and --zs-method need --model zeroshot")
        loaded = load_model(model or DEFAULT_MODEL, device, None if checkpoint is None else str(checkpoint), extractor,
                            precision)
        ex = loaded.extractor
        analyze = model_analyzer(loaded, threshold)
        if loaded.card.decode.get("kind") == "segments":  # decided second by second (segments.py)
            from .segments import SegmentLiveLocator

            locator = SegmentLiveLocator(loaded, threshold)
    cfg = LiveConfig()
    step = float(ex.timeline.stride) / float(ex.timeline.fps)
    window = window_snippets(loaded, step, cfg)
    clip = open_input_clip(video, ex.media_request, stream_options)
    if not quiet:
        for key, value in clip.warnings.items():
            print(f"avlocate: warning: {video}: {key}: {value}", file=sys.stderr)
    printer = LivePrinter(video, sys.stdout, sys.stderr, progress=sys.stderr.isatty() and not quiet)
    outcome = run_live(clip, ex, analyze, printer, cfg, window, locator)
    if outcome.ended_early:
        if not quiet:
            print(f"avlocate: warning: {video}: stream {outcome.ended_early}; the {outcome.events} event(s) found so far "
                  "were written", file=sys.stderr)
        return StreamEndedEarlyError.exit_code
    return 0


def zeroshot_analyzer(zs: Any, threshold: float | None, min_duration: float | None) -> Callable[[Features], list[Event]]:
    """Zero-shot scoring + decoding of a window of CLIP/CLAP features (as ZeroShotModel.locate),
    for ``--zs-method softmax-min``; av2a runs through :class:`~.av2a.Av2aLiveLocator`."""
    from ...zeroshot.model import with_overrides
    from ...zeroshot.scoring import decode, score_snippets

    cfg = with_overrides(zs.config, threshold, min_duration)
    bank = zs.text_bank()

    def analyze(feats: Features) -> list[Event]:
        scores = score_snippets(feats.visual, feats.audio, bank, feats.timeline.step_seconds, cfg)
        return decode(scores, feats.timeline, cfg)

    return analyze
