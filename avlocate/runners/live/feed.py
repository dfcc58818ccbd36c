"""Step 1 of ``--live``: snippets made block by block from decoded chunks, with bounded memory
(see :mod:`avlocate.runners.live`)."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch

from ...features.base import Features
from ...media.specs import ClipChunk


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

    def __init__(self, source: Any, frames: torch.Tensor, frame_fps: float, audio: torch.Tensor,
                 duration: float) -> None:
        self.video, self.audio, self.info = source.video, source.audio, source.info
        self.frame_size, self.path = source.frame_size, source.path
        self.duration = duration
        self.warnings: dict[str, str] = {}
        self.stats = source.stats
        self._chunk = ClipChunk(frames, torch.arange(frames.shape[0], dtype=torch.float64) / frame_fps, 0, audio, 0)

    def chunks(self, *args: Any, **kwargs: Any) -> Iterator[ClipChunk]:
        yield self._chunk


class SnippetFeed:
    """Decoded chunks in, features of complete snippets out, block by block (module doc, step 1).

    Two clocks: the snippet Timeline (``fps``/``window``/``stride``, in *timeline units* of
    ``1/fps`` s) and the decoded frames (the clip's VideoSpec fps). They differ for extractors
    that decode a finer grid than their snippet rate: clip-clap decodes 4 frames/s for 0.5-s
    snippets (timeline fps 2), VGG19 16 frames/s for 1-s snippets. Snippet ``i`` spans timeline
    units ``[i*stride, i*stride + window)``, i.e. decoded frames ``[u*ratio, ...)`` with
    ``ratio = frame fps / timeline fps``; every sub-clip starts on a snippet start, where the
    extractor's own grid starts in the whole-file run too.
    """

    def __init__(self, extractor: Any, clip: Any, block_snippets: int, lead: int = 1) -> None:
        tl = extractor.timeline
        self.extractor, self.clip = extractor, clip
        self.fps, self.window, self.stride = float(tl.fps), int(tl.window), int(tl.stride)
        self._tl_rate = Fraction(tl.fps).limit_denominator(100_000)
        self.frame_rate = clip.video.rate if clip.video is not None else self._tl_rate  # decoded frames/s
        self.ratio = self.frame_rate / self._tl_rate  # decoded frames per timeline unit
        self.sr = clip.audio.sample_rate if clip.audio is not None else None
        self.block, self.lead = max(1, block_snippets), max(0, lead)
        w, h = clip.frame_size
        self.frames = torch.zeros((0, h, w, 3), dtype=torch.uint8)
        self.frame0 = 0  # stream (decoded) frame index of self.frames[0]
        self.audio = torch.zeros(0, dtype=torch.float32)
        self.sample0 = 0  # stream sample index of self.audio[0]
        self.next_snippet = 0  # first snippet not yet extracted

    @property
    def frames_received(self) -> int:
        """Decoded frames received (audio only: frames of the decode grid, on the audio clock)."""
        if self.clip.video is None:
            return int((self.sample0 + self.audio.shape[0]) * self.frame_rate / self.sr)
        return self.frame0 + self.frames.shape[0]

    @property
    def units_received(self) -> int:
        """Timeline units (``1/fps`` s) wholly covered by the frames received."""
        return math.floor(self.frames_received / self.ratio)

    @property
    def seconds_received(self) -> float:
        return float(self.frames_received / self.frame_rate)

    def _frame(self, unit: int) -> int:
        """Decoded frame index at the start of timeline unit ``unit`` (first frame at or after it)."""
        return math.ceil(unit * self.ratio)

    def _sample(self, unit: int) -> int:
        return round(unit * self.sr / self._tl_rate) if self.sr else 0

    def push(self, chunk: ClipChunk) -> Features | None:
        if chunk.frames.shape[0]:
            self.frames = torch.cat([self.frames, chunk.frames])
        if chunk.audio.shape[0]:
            self.audio = torch.cat([self.audio, chunk.audio.float()])
        return self._extract(final=False)

    def finish(self, duration: float | None = None) -> Features | None:
        """The snippets left at the end of the stream. With the stream's ``duration`` (known once
        it ended) the extractor decides how many, from everything left, as it does for the whole
        file: clip-clap keeps a window ending up to ``end_tolerance_seconds`` past the end
        (audio zero-padded), which is never complete. Without it (Ctrl-C), complete ones only."""
        if duration is None or not math.isfinite(duration):
            return self._extract(final=True)
        first = max(0, self.next_snippet - self.lead)
        u0 = first * self.stride
        f0, s0 = self._frame(u0), self._sample(u0)
        frames = self.frames[max(0, f0 - self.frame0):]
        audio = self.audio[max(0, s0 - self.sample0):] if self.sr else torch.zeros(0)
        rest = duration - float(u0 / self._tl_rate)
        if rest <= 0:
            return None
        feats = self.extractor.extract(_BlockClip(self.clip, frames, float(self.frame_rate), audio, rest))
        skip = self.next_snippet - first
        keep = feats.num_snippets - skip
        if keep <= 0:
            return None
        self.next_snippet += keep
        return Features(feats.visual[skip:], feats.audio[skip:], feats.timeline.with_duration(None), feats.extractor,
                        {}, feats.visual_shape)

    def _ready(self) -> int:
        """Snippets whose frames and audio have all arrived."""
        n = max(0, (self.units_received - self.window) // self.stride + 1)
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
        u0, u1 = first * self.stride, (n - 1) * self.stride + self.window
        f0, f1 = self._frame(u0), self._frame(u1)
        frames = self.frames[f0 - self.frame0: f1 - self.frame0]
        s0, s1 = self._sample(u0), self._sample(u1)
        audio = self.audio[s0 - self.sample0: s1 - self.sample0] if self.sr else torch.zeros(0)
        clip = _BlockClip(self.clip, frames, float(self.frame_rate), audio, float((u1 - u0) / self._tl_rate))
        feats = self.extractor.extract(clip)
        skip = self.next_snippet - first
        keep = min(n - self.next_snippet, feats.num_snippets - skip)
        if keep <= 0:
            return None
        out = Features(feats.visual[skip:skip + keep], feats.audio[skip:skip + keep], feats.timeline.with_duration(None),
                       feats.extractor, {}, feats.visual_shape)
        self.next_snippet += keep
        # Keep only what the next block needs (from `lead` snippets before it): memory stays flat.
        keep_from = max(0, self.next_snippet - self.lead) * self.stride
        drop_f = self._frame(keep_from) - self.frame0
        if drop_f > 0:
            self.frames = self.frames[drop_f:].clone() if self.clip.video is not None else self.frames
            self.frame0 += drop_f
        drop_s = self._sample(keep_from) - self.sample0
        if drop_s > 0 and self.sr:
            self.audio = self.audio[drop_s:].clone()
            self.sample0 += drop_s
        return out
