"""``avlocate run --live``: a stream that never ends, events printed as soon as they are closed.

Three steps, each with bounded memory, for as long as the stream runs:

1. **Snippets, block by block** (:class:`SnippetFeed`). Decoded chunks (small: ~0.5 s) go into
   a buffer; every ``hop_seconds`` of new complete snippets, the extractor runs on a short
   sub-clip holding just those snippets' frames and audio, starting ``lead`` snippets early so
   that the first kept snippet sees its preceding frame (motion features) as in the file run.
   Extractors whose snippets depend only on their own window (lite, I3D, VGGish, CLIP/CLAP per
   window) give the same features as the whole-file run; frames before the next block go away.
2. **Analysis over a sliding window** (:class:`LiveLocator`). Every hop, the model runs on the
   newest ``window`` snippets (a dense head's ``max_seq_len``, as long files are cut; 30 s
   otherwise; segment heads decide per second inside it) and its events are shifted to stream
   time.
3. **Closing** an event: it is printed once it ends ``guard_seconds`` before the newest snippet
   AND two analyses in a row agree on it (same label, ends within ``stable_tolerance``); one
   still changing is printed anyway ``max_wait_seconds`` later. Events cut by the window's start
   are the ones already printed. An event matching a printed one (same label, overlap IoU >=
   ``duplicate_iou``) is not printed again.

Delay bound (README): an event's line is printed when the processed stream time is at most
``guard + max_wait + hop`` (6 s by default) past the event's end, plus the time decoding and the
models lag behind (shown on a terminal). At the end of the stream, on Ctrl-C, or when a network
stream stalls, the last analysis runs on what was received and the events still open are printed
(``"final": true``).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import torch

from ..errors import StreamEndedEarlyError
from ..features.base import Features
from ..media.specs import ClipChunk
from ..results import Event


@dataclass(frozen=True)
class LiveConfig:
    hop_seconds: float = 2.0  # analysis every this much stream time (a head call each: cheap enough on a CPU)
    guard_seconds: float = 2.0  # an event must end this long before the newest snippet
    max_wait_seconds: float = 2.0  # ...and is printed at the latest this much later, stable or not
    stable_tolerance: float = 0.1  # two analyses agree when starts and ends differ by at most this
    window_seconds: float | None = None  # analysis window; default: the head's max_seq_len, else 30 s
    duplicate_iou: float = 0.3
    lead_snippets: int = 1  # snippets extracted before each block and dropped (see SnippetFeed)
    chunk_seconds: float = 0.5  # decoded chunk size

    @property
    def delay_bound_seconds(self) -> float:
        """Stream time processed past an event's end before its line is printed, at most."""
        return self.guard_seconds + self.max_wait_seconds + self.hop_seconds


class _BlockClip:
    """The frames and audio of one block, served to ``Extractor.extract`` as a one-chunk Clip."""

    def __init__(self, source: Any, frames: torch.Tensor, fps: float, audio: torch.Tensor, duration: float) -> None:
        self.video, self.audio, self.info = source.video, source.audio, source.info
        self.frame_size, self.path = source.frame_size, source.path
        self.duration = duration
        self.warnings: dict[str, str] = {}
        self.stats = source.stats
        self._chunk = ClipChunk(frames, torch.arange(frames.shape[0], dtype=torch.float64) / fps, 0, audio, 0)

    def chunks(self, *args: Any, **kwargs: Any) -> Iterator[ClipChunk]:
        yield self._chunk


class SnippetFeed:
    """Decoded chunks in, features of complete snippets out, block by block (module doc, step 1)."""

    def __init__(self, extractor: Any, clip: Any, block_snippets: int, lead: int = 1) -> None:
        tl = extractor.timeline
        self.extractor, self.clip = extractor, clip
        self.fps, self.window, self.stride = float(tl.fps), int(tl.window), int(tl.stride)
        self.sr = clip.audio.sample_rate if clip.audio is not None else None
        self.block, self.lead = max(1, block_snippets), max(0, lead)
        w, h = clip.frame_size
        self.frames = torch.zeros((0, h, w, 3), dtype=torch.uint8)
        self.frame0 = 0  # stream frame index of self.frames[0]
        self.audio = torch.zeros(0, dtype=torch.float32)
        self.sample0 = 0  # stream sample index of self.audio[0]
        self.next_snippet = 0  # first snippet not yet extracted

    @property
    def frames_received(self) -> int:
        if self.clip.video is None:  # audio only: frames are counted on the audio clock
            return int((self.sample0 + self.audio.shape[0]) * self.fps / self.sr)
        return self.frame0 + self.frames.shape[0]

    @property
    def seconds_received(self) -> float:
        return self.frames_received / self.fps

    def _sample(self, frame: int) -> int:
        return round(frame * self.sr / self.fps) if self.sr else 0

    def push(self, chunk: ClipChunk) -> Features | None:
        if chunk.frames.shape[0]:
            self.frames = torch.cat([self.frames, chunk.frames])
        if chunk.audio.shape[0]:
            self.audio = torch.cat([self.audio, chunk.audio.float()])
        return self._extract(final=False)

    def finish(self) -> Features | None:
        return self._extract(final=True)

    def _ready(self) -> int:
        """Snippets whose frames and audio have all arrived."""
        n = max(0, (self.frames_received - self.window) // self.stride + 1)
        if self.sr:
            have = self.sample0 + self.audio.shape[0]
            while n > self.next_snippet and self._sample((n - 1) * self.stride + self.window) > have:
                n -= 1
        return n

    def _extract(self, final: bool) -> Features | None:
        n = self._ready()
        if n - self.next_snippet < (1 if final else self.block):
            return None
        first = max(0, self.next_snippet - self.lead)
        f0, f1 = first * self.stride, (n - 1) * self.stride + self.window
        frames = self.frames[f0 - self.frame0: f1 - self.frame0]
        s0, s1 = self._sample(f0), self._sample(f1)
        audio = self.audio[s0 - self.sample0: s1 - self.sample0] if self.sr else torch.zeros(0)
        clip = _BlockClip(self.clip, frames, self.fps, audio, (f1 - f0) / self.fps)
        feats = self.extractor.extract(clip)
        skip = self.next_snippet - first
        keep = min(n - self.next_snippet, feats.num_snippets - skip)
        if keep <= 0:
            return None
        out = Features(feats.visual[skip:skip + keep], feats.audio[skip:skip + keep], feats.timeline.with_duration(None),
                       feats.extractor, {}, feats.visual_shape)
        self.next_snippet += keep
        # Keep only what the next block needs (from `lead` snippets before it): memory stays flat.
        drop_f = max(0, self.next_snippet - self.lead) * self.stride - self.frame0
        if drop_f > 0:
            self.frames = self.frames[drop_f:].clone() if self.clip.video is not None else self.frames
            self.frame0 += drop_f
        drop_s = self._sample(max(0, self.next_snippet - self.lead) * self.stride) - self.sample0
        if drop_s > 0 and self.sr:
            self.audio = self.audio[drop_s:].clone()
            self.sample0 += drop_s
        return out


def _iou(a: Event, b: Event) -> float:
    inter = min(a.end, b.end) - max(a.start, b.start)
    union = max(a.end, b.end) - min(a.start, b.start)
    return inter / union if inter > 0 and union > 0 else 0.0


@dataclass
class ClosedEvent:
    event: Event
    stream_time: float  # stream seconds analysed when it was printed
    final: bool  # printed by the last analysis (end of stream, Ctrl-C, stall)


class LiveLocator:
    """Features in, closed events out (module doc, steps 2 and 3). ``analyze(features)`` gives the
    events of a window of features in that window's own seconds."""

    def __init__(self, analyze: Callable[[Features], list[Event]], step_seconds: float, window_snippets: int,
                 config: LiveConfig) -> None:
        self.analyze, self.step, self.window, self.cfg = analyze, step_seconds, max(1, window_snippets), config
        self.visual: deque[torch.Tensor] = deque()
        self.audio: deque[torch.Tensor] = deque()
        self.count = 0  # snippets received so far
        self.held = 0  # snippets held (<= window)
        self.printed: list[Event] = []  # recent printed events (pruned: flat memory)
        self.previous: list[Event] = []  # events of the previous analysis
        self.template: Features | None = None

    def add(self, feats: Features) -> None:
        self.template = feats
        for i in range(feats.num_snippets):
            self.visual.append(feats.visual[i])
            self.audio.append(feats.audio[i])
            self.count += 1
        while len(self.visual) > self.window:
            self.visual.popleft()
            self.audio.popleft()

    @property
    def analysed_seconds(self) -> float:
        """Stream time covered by the snippets received (end of the newest snippet's window)."""
        if self.template is None or self.count == 0:
            return 0.0
        tl = self.template.timeline
        return ((self.count - 1) * tl.stride + tl.window) / tl.fps

    def _events(self, end: float | None) -> tuple[list[Event], float]:
        if not self.visual or self.template is None:
            return [], 0.0
        first = self.count - len(self.visual)
        offset = first * self.step
        tl = self.template.timeline
        feats = Features(torch.stack(list(self.visual)), torch.stack(list(self.audio)), tl.with_duration(None),
                         self.template.extractor, {}, self.template.visual_shape)
        out = []
        for e in self.analyze(feats):
            start, stop = e.start + offset, e.end + offset
            if end is not None:
                start, stop = min(start, end), min(stop, end)
            out.append(dataclasses.replace(e, start=round(start, 3), end=round(stop, 3)))
        return out, offset

    def _is_printed(self, e: Event) -> bool:
        return any(p.label == e.label and _iou(p, e) >= self.cfg.duplicate_iou for p in self.printed)

    def _stable(self, e: Event) -> bool:
        tol = self.cfg.stable_tolerance
        return any(p.label == e.label and abs(p.start - e.start) <= tol and abs(p.end - e.end) <= tol
                   for p in self.previous)

    def step_closed(self) -> list[ClosedEvent]:
        """Analyse the current window; the events closed by it."""
        now = self.analysed_seconds
        events, offset = self._events(None)
        closed = []
        for e in sorted(events, key=lambda e: (e.end, e.start)):
            if offset > 0 and e.start <= offset + self.step:
                continue  # cut by the window's start: printed earlier from a window that held it all
            if self._is_printed(e):
                continue
            waited = now - self.cfg.guard_seconds - e.end
            if waited >= 0 and (self._stable(e) or waited >= self.cfg.max_wait_seconds):
                closed.append(ClosedEvent(e, now, False))
                self.printed.append(e)
        self.previous = events
        # Events ending well before the window can never be matched again: flat memory over hours.
        self.printed = [p for p in self.printed if p.end >= offset - 60.0]
        return closed

    def flush(self, end: float | None) -> list[ClosedEvent]:
        """The last analysis (end of stream, Ctrl-C, stall): every event not printed yet."""
        events, offset = self._events(end)
        now = end if end is not None else self.analysed_seconds
        out = []
        for e in sorted(events, key=lambda e: (e.end, e.start)):
            if offset > 0 and e.start <= offset + self.step:
                continue
            if not self._is_printed(e):
                out.append(ClosedEvent(e, now, True))
                self.printed.append(e)
        return out


def window_snippets(loaded: Any, step_seconds: float, config: LiveConfig) -> int:
    if config.window_seconds is not None:
        return max(1, round(config.window_seconds / step_seconds))
    max_len = getattr(getattr(getattr(loaded, "head", None), "cfg", None), "max_seq_len", None)
    if max_len:
        return int(max_len)
    return max(1, round(30.0 / step_seconds))


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


@dataclass
class LiveOutcome:
    events: int
    stream_seconds: float
    interrupted: bool
    ended_early: str | None  # the warning when the stream stalled or dropped


def run_live(clip: Any, extractor: Any, analyze: Callable[[Features], list[Event]], printer: LivePrinter,
             config: LiveConfig | None = None, window: int | None = None) -> LiveOutcome:
    """The live loop over an opened clip (media.source.open_input_clip)."""
    cfg = config or LiveConfig()
    tl = extractor.timeline
    step = float(tl.stride) / float(tl.fps)
    block = max(1, round(cfg.hop_seconds / step))
    feed = SnippetFeed(extractor, clip, block, cfg.lead_snippets)
    locator = LiveLocator(analyze, step, window or max(1, round(30.0 / step)), cfg)
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
    tail = feed.finish()
    if tail is not None:
        locator.add(tail)
    end = float(clip.duration) if not interrupted and math.isfinite(float(clip.duration)) else None
    for closed in locator.flush(end):
        printer.event(closed)
    printer.done()
    return LiveOutcome(printer.count, feed.seconds_received, interrupted, clip.warnings.get("stream"))


def model_analyzer(loaded: Any, threshold: float | None) -> Callable[[Features], list[Event]]:
    return lambda feats: loaded.predict(feats, threshold=threshold)[0]


def run_live_cli(videos: Iterable[str], model: str | None, device: str, threshold: float | None,
                 labels: str | None, vocab: str | None, min_duration: float | None, checkpoint: Any,
                 extractor: str | None, precision: str | None, stream_options: Any, quiet: bool) -> int:
    """``avlocate run --live``: exit code 0 (ended, or Ctrl-C), 10 when the stream ended early."""
    from ..errors import UsageError
    from ..media.source import open_input_clip
    from ..pipeline.models import DEFAULT_MODEL, load_model

    videos = list(videos)
    if len(videos) != 1:
        raise UsageError("--live follows one stream: give one URL, file or -")
    video = videos[0]
    loaded = None
    if model == "zeroshot":
        from ..zeroshot import ZeroShotModel

        zs = ZeroShotModel(labels, vocab, device=device)
        ex = zs.extractor
        analyze = zeroshot_analyzer(zs, threshold, min_duration)
    else:
        if labels or vocab or min_duration is not None:
            raise UsageError("--labels, --vocab and --min-duration need --model zeroshot")
        loaded = load_model(model or DEFAULT_MODEL, device, None if checkpoint is None else str(checkpoint), extractor,
                            precision)
        ex = loaded.extractor
        analyze = model_analyzer(loaded, threshold)
    cfg = LiveConfig()
    step = float(ex.timeline.stride) / float(ex.timeline.fps)
    window = window_snippets(loaded, step, cfg)
    clip = open_input_clip(video, ex.media_request, stream_options)
    if not quiet:
        for key, value in clip.warnings.items():
            print(f"avlocate: warning: {video}: {key}: {value}", file=sys.stderr)
    printer = LivePrinter(video, sys.stdout, sys.stderr, progress=sys.stderr.isatty() and not quiet)
    outcome = run_live(clip, ex, analyze, printer, cfg, window)
    if outcome.ended_early:
        if not quiet:
            print(f"avlocate: warning: {video}: stream {outcome.ended_early}; the {outcome.events} event(s) found so far "
                  "were written", file=sys.stderr)
        return StreamEndedEarlyError.exit_code
    return 0


def zeroshot_analyzer(zs: Any, threshold: float | None, min_duration: float | None) -> Callable[[Features], list[Event]]:
    """Zero-shot scoring + decoding of a window of CLIP/CLAP features (as ZeroShotModel.locate)."""
    from ..zeroshot.model import with_overrides
    from ..zeroshot.scoring import decode, score_snippets

    cfg = with_overrides(zs.config, threshold, min_duration)
    bank = zs.text_bank()

    def analyze(feats: Features) -> list[Event]:
        scores = score_snippets(feats.visual, feats.audio, bank, feats.timeline.step_seconds, cfg)
        return decode(scores, feats.timeline, cfg)

    return analyze
