"""Audio as one mono float32 track at the requested rate, aligned to the clip origin.

* Resampling and mixdown: ``av.AudioResampler(format="flt", layout="mono", rate=R)`` (swresample),
  for any input layout (mono, stereo, 5.1, ...) and rate. swresample's default float downmix is
  NOT normalised (stereo -> 0.707 L + 0.707 R, which reaches 1.41 on loud correlated input), so
  we pass ``rematrix_maxval=1``: the matrix is scaled so its coefficients sum to at most 1
  (stereo -> (L + R) / 2, the channel mean most audio front-ends use). Values are clipped to
  [-1, 1] afterwards so the contract holds for any input.
* Placement: the first decoded audio frame's timestamp fixes where the track starts relative to
  the clip origin (zeros before it, samples before the origin dropped); after that samples are
  laid end to end (timestamp jitter inside the stream is not chased, as in most decoders).
* Total length: exactly ``round(duration * R)`` samples. A stream shorter than the clip is padded
  with zeros at the end; a longer one is cut (the clip duration decides, not the audio stream).
"""
from __future__ import annotations

from collections import deque
from fractions import Fraction

import av
import av.error
import numpy as np


def sample_count(duration: float, sample_rate: int) -> int:
    """Samples in ``duration`` seconds at ``sample_rate`` (the audio total of a clip)."""
    return max(0, round(float(duration) * sample_rate))


def _resampler(sample_rate: int) -> av.AudioResampler:
    try:
        return av.AudioResampler(format="flt", layout="mono", rate=sample_rate, options={"rematrix_maxval": "1.0"})
    except TypeError:  # PyAV < 16 has no swresample options: unnormalised downmix, clipped below
        return av.AudioResampler(format="flt", layout="mono", rate=sample_rate)


class AudioAssembler:
    """Collects decoded audio frames into mono float32 pieces placed on the clip's sample grid.

    ``add(frame)`` / ``finish(total)`` queue samples; ``take()`` hands out what is queued, so
    memory stays bounded by what the caller has not yet taken.
    """

    def __init__(self, sample_rate: int, origin: Fraction, max_samples: int) -> None:
        self.sample_rate = sample_rate
        self.origin = origin
        self.max_samples = max_samples  # cap during streaming: round(declared duration * rate)
        self.resampler = _resampler(sample_rate)
        self.placed = 0  # samples queued or handed out so far (next sample's index)
        self.taken = 0  # samples handed out by take()
        self._skip = 0  # samples still to drop (stream starting before the origin)
        self._started = False
        self._pieces: deque[np.ndarray | int] = deque()  # arrays of samples, or counts of zeros

    @property
    def end_seconds(self) -> float:
        """Where the audio placed so far ends, in seconds from the origin."""
        return self.placed / self.sample_rate

    def add(self, frame: av.AudioFrame | None) -> None:
        """Queue one decoded frame (None flushes the resampler at end of stream)."""
        if frame is not None and not self._started:
            self._started = True
            if frame.pts is not None and frame.time_base is not None:
                offset = round((Fraction(frame.pts) * frame.time_base - self.origin) * self.sample_rate)
                if offset > 0:
                    self._queue_zeros(offset)
                else:
                    self._skip = -offset
        if frame is None and not self._started:
            return
        for out in self._resample(frame):
            self._queue(out.to_ndarray().reshape(-1))

    def _resample(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        try:
            return self.resampler.resample(frame)
        except ValueError:
            # PyAV's resampler is fixed to the first frame's rate/layout/format. Streams that
            # change them mid-way (concatenated TS/ADTS segments, damaged headers) would raise
            # "Frame does not match AudioResampler setup": flush it and continue with a new one.
            if frame is None:
                raise
            try:
                flushed = list(self.resampler.resample(None))
            except (ValueError, av.error.FFmpegError):
                flushed = []
            self.resampler = _resampler(self.sample_rate)
            return flushed + list(self.resampler.resample(frame))

    def pad_to(self, total: int) -> None:
        """Queue zeros so that ``total`` samples are placed (used for silence and end padding)."""
        if total > self.placed:
            # A skip still pending (the stream began before the origin but ended before reaching
            # it) applies to decoded samples only: it must not eat the padding (found by fuzzing).
            self._skip = 0
            self._queue_zeros(total - self.placed)

    def take(self, limit: int | None = None) -> tuple[np.ndarray, int]:
        """What is queued since the last take (at most ``limit`` samples), as one array, with the
        index of its first sample."""
        first = self.taken
        want = self.queued if limit is None else min(limit, self.queued)
        out: list[np.ndarray] = []
        got = 0
        while got < want:
            piece = self._pieces[0]
            size = piece if isinstance(piece, int) else piece.shape[0]
            n = min(size, want - got)
            out.append(np.zeros(n, dtype=np.float32) if isinstance(piece, int) else piece[:n])
            if n < size:
                self._pieces[0] = size - n if isinstance(piece, int) else piece[n:]
            else:
                self._pieces.popleft()
            got += n
        self.taken += got
        if not out:
            return np.zeros(0, dtype=np.float32), first
        return (out[0] if len(out) == 1 else np.concatenate(out)), first

    @property
    def queued(self) -> int:
        return self.placed - self.taken

    def _queue_zeros(self, count: int) -> None:
        """Queue ``count`` zeros as a number, not an array: silence is made only as it is taken,
        in bounded pieces. A damaged timestamp can ask for hours of it (5.7 GB, found by fuzzing)."""
        if self._skip:
            drop = min(self._skip, count)
            count -= drop
            self._skip -= drop
        count = min(count, self.max_samples - self.placed)
        if count > 0:
            self._pieces.append(count)
            self.placed += count

    def _queue(self, samples: np.ndarray) -> None:
        if self._skip:
            drop = min(self._skip, samples.shape[0])
            samples = samples[drop:]
            self._skip -= drop
        room = self.max_samples - self.placed
        if room <= 0 or samples.shape[0] == 0:
            return
        samples = samples[:room]
        # Copy out of PyAV's frame buffer (the view would pin it) and enforce the [-1, 1] contract.
        self._pieces.append(np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False))
        self.placed += samples.shape[0]
