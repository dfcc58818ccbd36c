"""Step 1 of ``--live``: snippets made block by block from decoded chunks, with bounded memory
(see :mod:`avlocate.pipeline.live`).

Why a block's sub-clip gives the same snippets as the whole-file run (tests/cli/test_live.py for
``lite``, tests/features/test_live_block_features.py for ``i3d-vggish``, ``vgg19-vggish`` and
``clip-clap``):

* Frames are counted on the clip's own grid (``VideoSpec.fps``), which need not be the Timeline's:
  ``vgg19-vggish`` decodes 16 frames per 1-s snippet (Timeline fps 1) and ``clip-clap`` 2K frames
  per hop (Timeline fps 1/hop). A sub-clip starts on a snippet start, a whole number of frames and
  (at the usual rates) of audio samples into the stream, so every extractor that frames its
  windows from its clip's start (VGGish examples, VGG-19 segments, CLIP centre frames, CLAP
  windows) finds the same windows in it.
* ``lead`` snippets before the block are extracted and dropped: what the first kept snippet reads
  just before its window (lite's previous frame; the ~4 ms that the resampy-style 16 kHz
  resampler of the VGGish extractors reads left of each output) is then there as in the file run.
  How many is the extractor's ``live_lead_snippets`` (1; 0 for clip-clap, whose windows read
  nothing before themselves: a fifth less work with 0.5-s snippets and a 2-s hop).
* What a snippet reads just AFTER its nominal window is not given to it: an I3D window reads 25
  frames (24 + the flow pair of the last), a VGGish example 0.975 s of audio (> the 0.96-s
  window), the resampler ~4 ms more. The extractor then returns fewer snippets than the block
  asked for; only those it returned are kept and the missing ones come with the next block, whose
  sub-clip reaches further.
* At the end (:meth:`SnippetFeed.finish`) the last sub-clip holds everything received, with the
  clip's own duration, so the file run's partial tail snippets (a VGG-19 segment with half its
  frames, a CLIP/CLAP window within ``end_tolerance_seconds`` of the end) are made the same way.
* The resampy 0.2.x resampler's float time register drifts with the absolute output position
  (a sequential sum; by 0.17 input samples after an hour at 44.1 kHz): the sub-clip tells the
  extractor where its audio starts in the stream (``_BlockClip.audio_offset``) and the resampler
  continues the file run's register from there (:class:`avlocate.features.vggish.resample.KaiserResampler`).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
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
    lead_snippets: int | None = None  # snippets extracted again before each block; None: the extractor's need
                                      # (Extractor.live_lead_snippets: 1, clip-clap 0)
    chunk_seconds: float = 0.5  # decoded chunk size

    @property
    def delay_bound_seconds(self) -> float:
        """Stream time processed past an event's end before its line is printed, at most."""
        return self.guard_seconds + self.max_wait_seconds + self.hop_seconds


class _BlockClip:
    """The frames and audio of one block, served to ``Extractor.extract`` as a one-chunk Clip.

    It looks like a clip of its own (frame and sample indices from 0, ``duration`` its length);
    ``audio_offset`` says how many samples of the stream precede its audio (module doc)."""

    def __init__(self, source: Any, frames: torch.Tensor, fps: float, audio: torch.Tensor, duration: float,
                 audio_offset: int = 0) -> None:
        self.video, self.audio, self.info = source.video, source.audio, source.info
        self.frame_size, self.path = source.frame_size, source.path
        self.duration = duration
        self.audio_offset = audio_offset
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
        # Frames on the clip's grid; the Timeline's window and stride converted to it (module doc).
        self.fps = float(clip.video.fps) if clip.video is not None else float(tl.fps)
        per = self.fps / float(tl.fps)
        self.window, self.stride = max(1, round(int(tl.window) * per)), max(1, round(int(tl.stride) * per))
        self.sr = clip.audio.sample_rate if clip.audio is not None else None
        self.block, self.lead = max(1, block_snippets), max(0, lead)
        w, h = clip.frame_size
        self.frames = torch.zeros((0, h, w, 3), dtype=torch.uint8)
        self.frame0 = 0  # stream frame index of self.frames[0]
        self.audio = torch.zeros(0, dtype=torch.float32)
        self.sample0 = 0  # stream sample index of self.audio[0]
        self.next_snippet = 0  # first snippet not yet extracted
        self.finished = False

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

    def finish(self, duration: float | None = None) -> Features | None:
        """The snippets still missing, from everything received (the file run's tail snippets too).
        ``duration``: the stream's length when the caller knows it (else the clip's, else what
        arrived)."""
        if self.finished:
            return None
        self.finished = True
        return self._extract(final=True, duration=duration)

    def _ready(self) -> int:
        """Snippets whose frames and audio (nominal windows) have all arrived."""
        n = max(0, (self.frames_received - self.window) // self.stride + 1)
        if self.sr:
            have = self.sample0 + self.audio.shape[0]
            while n > self.next_snippet and self._sample((n - 1) * self.stride + self.window) > have:
                n -= 1
        return n

    def _extract(self, final: bool, duration: float | None = None) -> Features | None:
        n = self._ready()
        first = max(0, self.next_snippet - self.lead)
        f0 = first * self.stride
        if final:  # everything received; the extractor decides which snippets it makes of it
            f1 = self.frames_received
            s1 = self.sample0 + self.audio.shape[0] if self.sr else 0
            start = self.next_snippet * self.stride
            if f1 <= start and s1 <= self._sample(start):  # nothing after the last snippet made
                return None
            end = float(duration if duration is not None else self.clip.duration)
            if not math.isfinite(end):  # a stream: its length is what arrived
                end = max(f1 / self.fps, s1 / self.sr if self.sr else 0.0)
            duration = max(0.0, end - f0 / self.fps)
            limit = None
        else:
            if n - self.next_snippet < self.block:
                return None
            f1 = (n - 1) * self.stride + self.window
            s1 = self._sample(f1)
            duration = (f1 - f0) / self.fps
            limit = n - self.next_snippet
        frames = self.frames[f0 - self.frame0: f1 - self.frame0]
        s0 = self._sample(f0)
        audio = self.audio[s0 - self.sample0: s1 - self.sample0] if self.sr else torch.zeros(0)
        clip = _BlockClip(self.clip, frames, self.fps, audio, duration, s0)
        feats = self.extractor.extract(clip)
        skip = self.next_snippet - first
        keep = feats.num_snippets - skip if limit is None else min(limit, feats.num_snippets - skip)
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
