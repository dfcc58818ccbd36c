"""The single demux pass behind Clip.chunks(): packets of both streams, decoded and routed.

One ``container.demux([video, audio])`` reads the file once; video packets go to the video
decoder and the grid selector, audio packets to the resampler. Only one output chunk of frames
(plus the current decoded frame) and the audio since the last chunk are ever held.

Truncated and damaged files (see Clip for the user-facing contract):

* A packet the decoder rejects is skipped (as ``ffmpeg`` does) and counted in
  ``warnings["decode"]``; after too many such packets, or when the demuxer itself fails,
  reading stops there.
* When reading stopped on an error, or when every stream used ends more than
  ``TRUNCATION_TOLERANCE_S`` before the declared duration, the clip is TRUNCATED: its duration
  becomes the end of the decoded data, totals follow that duration, and
  ``warnings["video"/"audio"] = "truncated at X s (file says Y s)"``.
* Nothing decodable at all is a MediaError.

Timestamps that jump (back, or ahead over a gap without data: concatenated MPEG-TS, a reset
clock) are re-based onto one continuous timeline (timeline.py): nothing after the jump is lost,
no gap is filled with repeated frames, the duration becomes the end of the re-based data, and
``warnings["timeline"]`` says where and by how much.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING

import av
import av.error
import numpy as np
import torch

from ..errors import MediaError
from ._io import AV_ERRORS, DECODE_THREADS, decode_failure, pick_streams, reason
from .audio import AudioAssembler, sample_count
from .probe import clip_origin
from .specs import ClipChunk
from .timeline import Rebaser, gap_bound
from .video import FrameConverter, GridSelector, frame_count

if TYPE_CHECKING:
    from .clip import Clip

#: A stream ending this much before the declared duration (with nothing left to read) is truncated.
TRUNCATION_TOLERANCE_S = 0.5
#: Rejected packets tolerated before reading stops (a file that is garbage from some point on).
MAX_BAD_PACKETS = 100
#: The length assumed while reading a stream of unknown length (a live camera): 10 years.
OPEN_ENDED_CAP_S = 10 * 365 * 86400.0


class _Chunker:
    """Fills fixed-size frame buffers and pairs them with the audio decoded meanwhile."""

    def __init__(self, clip: Clip, frames_per_chunk: int, assembler: AudioAssembler | None, silence: bool) -> None:
        self.clip = clip
        self.fpc = frames_per_chunk
        self.asm = assembler
        self.silence = silence
        self.rate = clip.video.rate if clip.video is not None else None
        self.width, self.height = clip.frame_size
        self.first = 0
        self.fill = 0
        self.buf: np.ndarray | None = None
        self.chunks_out = 0
        self.audio_limit: int | None = None  # most audio samples per chunk (memory stays bounded)

    def add(self, image: np.ndarray, count: int) -> Iterator[ClipChunk]:
        for _ in range(count):
            if self.buf is None:
                self.buf = np.empty((self.fpc, self.height, self.width, 3), dtype=np.uint8)
            self.buf[self.fill] = image
            self.fill += 1
            if self.fill == self.fpc:
                yield self.flush()

    def flush(self) -> ClipChunk:
        n = self.fill
        if n:
            frames = torch.from_numpy(self.buf[:n])
        else:
            frames = torch.zeros((0, self.height, self.width, 3), dtype=torch.uint8)
        if self.rate is not None:
            k = torch.arange(self.first, self.first + n, dtype=torch.float64)
            times = k * self.rate.denominator / self.rate.numerator
        else:
            times = torch.zeros(0, dtype=torch.float64)
        audio, first_sample = np.zeros(0, dtype=np.float32), 0
        if self.asm is not None:
            if self.silence and self.rate is not None:
                # No audio stream: keep silence in step with the frames handed out.
                end = min(self.clip.duration, (self.first + n) / float(self.rate))
                self.asm.pad_to(sample_count(end, self.asm.sample_rate))
            audio, first_sample = self.asm.take(self.audio_limit)
        chunk = ClipChunk(frames, times, self.first, torch.from_numpy(audio), first_sample)
        self.first += n
        self.fill = 0
        self.buf = None  # the yielded tensor owns the old buffer; never overwrite it
        self.chunks_out += 1
        return chunk


def stream_chunks(clip: Clip, frames_per_chunk: int, audio_chunk_seconds: float) -> Iterator[ClipChunk]:
    if frames_per_chunk < 1:
        raise ValueError(f"frames_per_chunk must be >= 1, got {frames_per_chunk}")
    path = clip.path
    # The container the probe opened (a file's, or a one-pass stream's), with the packets it read
    # already; a later pass over a file opens it again (Clip.open_container).
    container, head = clip.open_container()
    try:
        yield from _run(clip, container, head, frames_per_chunk, audio_chunk_seconds)
    except av.error.FFmpegError as exc:  # e.g. swscale refusing a frame: still one line, no traceback
        raise MediaError(f"{path}: decoding failed ({reason(exc)}); check that the file plays in a media player") from exc
    finally:
        container.close()


def _run(clip: Clip, container: av.container.InputContainer, head: list[av.Packet], fpc: int,
         audio_chunk_seconds: float) -> Iterator[ClipChunk]:
    info, path = clip.info, clip.path
    vstream, astream = pick_streams(container)
    use_video = clip.video is not None
    use_audio = clip.audio is not None and astream is not None
    silence = clip.audio is not None and astream is None
    origin = clip_origin(container, vstream, astream)
    declared = clip.duration
    # A stream (URL, pipe, live) has no known length: it ends where its data ends (onepass.py).
    open_ended = not math.isfinite(declared)
    if open_ended:
        declared = OPEN_ENDED_CAP_S

    streams = []
    if use_video:
        if not vstream.codec_context.is_open:  # else the probe that read the head set it
            vstream.thread_type = DECODE_THREADS
        streams.append(vstream)
        rate = clip.video.rate
        selector = GridSelector(rate, frame_count(declared, rate))
        convert = FrameConverter(clip.frame_size, info.rotation)
        fallback_period = Fraction(1) / (vstream.average_rate or vstream.guessed_rate or rate)
    asm = None
    if clip.audio is not None:
        sr = clip.audio.sample_rate
        asm = AudioAssembler(sr, origin, sample_count(declared, sr))
        audio_flush = max(1, int(audio_chunk_seconds * sr))
    if use_audio:
        streams.append(astream)
    chunker = _Chunker(clip, fpc, asm, silence)
    if asm is not None:
        chunker.audio_limit = audio_flush

    rebaser = Rebaser(gap_s=gap_bound(container))
    seen_jumps = 0

    def after_jumps() -> None:
        # The declared length no longer bounds the data (`cat a.ts b.ts` says a's length): the
        # caps become those of a stream of unknown length; the data decides where it ends.
        nonlocal seen_jumps
        if len(rebaser.jumps) == seen_jumps:
            return
        seen_jumps = len(rebaser.jumps)
        clip.warnings["timeline"] = rebaser.warning()  # at once: a live reader sees it mid-stream
        if use_video:
            selector.max_frames = max(selector.max_frames, frame_count(OPEN_ENDED_CAP_S, rate))
        if asm is not None:
            asm.max_samples = max(asm.max_samples, sample_count(OPEN_ENDED_CAP_S, asm.sample_rate))

    prev: av.VideoFrame | None = None
    prev_end = Fraction(0)
    video_end = Fraction(0)
    decoded = 0
    stop_error: BaseException | None = None
    first_error: BaseException | None = None
    bad_packets = 0

    def on_video(frames: list[av.VideoFrame]) -> Iterator[ClipChunk]:
        nonlocal prev, prev_end, video_end, decoded
        for f in frames:
            period = Fraction(f.duration) * f.time_base if f.duration and f.time_base else fallback_period
            if f.pts is not None and f.time_base is not None:
                t = rebaser.place("video", Fraction(f.pts) * f.time_base - origin, period)
                after_jumps()
            else:  # no timestamp (raw streams): right after the previous frame
                t = prev_end if decoded else Fraction(0)
            n = selector.push(t)
            if n:
                yield from chunker.add(convert(prev if prev is not None else f), n)
            prev = f
            decoded += 1
            prev_end = t + period
            video_end = max(video_end, prev_end)

    def on_audio(frames: list[av.AudioFrame]) -> None:
        for f in frames:
            if f.pts is not None and f.time_base is not None and f.sample_rate:
                # Audio is laid end to end (audio.py): only the jumps are looked for here.
                rebaser.place("audio", Fraction(f.pts) * f.time_base - origin, Fraction(f.samples, f.sample_rate))
                after_jumps()
            asm.add(f)

    # The packets the probe read first (those of the streams used), then on from where it stopped.
    used = {s.index for s in streams}
    packets = itertools.chain((p for p in head if p.stream_index in used), container.demux(streams)) if streams \
        else iter(())
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except AV_ERRORS as exc:
            stop_error = exc
            break
        try:
            frames = packet.decode()
        except AV_ERRORS as exc:
            first_error = first_error or exc
            bad_packets += 1
            if bad_packets > MAX_BAD_PACKETS:
                stop_error = exc
                break
            continue
        if not frames:
            continue
        if use_video and packet.stream is vstream:
            yield from on_video(frames)
        elif asm is not None:
            on_audio(frames)
            while asm.queued >= audio_flush:
                yield chunker.flush()

    if stop_error is not None:
        # Reading stopped early: still drain what the decoders hold (frame threads buffer a few).
        for s in streams:
            try:
                flushed = s.decode(None)
            except AV_ERRORS:
                continue
            if s is vstream and use_video:
                yield from on_video(flushed)
            elif asm is not None:
                on_audio(flushed)
    if use_audio:
        try:
            asm.add(None)  # drain the resampler
        except AV_ERRORS:
            pass

    # What came out, and does it amount to the declared duration?
    if use_video and decoded == 0:
        raise decode_failure(path, "video frames", stop_error or first_error or _NoFrames())
    if use_audio and not use_video and asm.placed == 0:
        raise decode_failure(path, "audio", stop_error or first_error or _NoFrames())
    ends: dict[str, float] = {}
    if use_video:
        ends["video"] = float(video_end)
    if use_audio:
        ends["audio"] = asm.end_seconds
    end = max(ends.values()) if ends else declared
    rebased = bool(rebaser.jumps)
    if rebased:
        # The declared length described the timestamps, not the data: the data decides.
        clip.warnings["timeline"] = rebaser.warning()
        declared = end if ends else declared
    truncated = bool(ends) and not open_ended and (stop_error is not None or end < declared - TRUNCATION_TOLERANCE_S)
    final = min(declared, end) if truncated else declared
    if open_ended:
        # The decoded end, as a file's probe would declare it. The grid may already have handed
        # out one frame past it (it saw a frame a period ahead, not the end): at most one more
        # frame than the file's count, which snippet features trim away. Nothing decoded: 0 s
        # (never the 10-year cap, which would be padded with silence).
        final = end if ends else 0.0
        if stop_error is not None:
            clip.warnings["stream"] = f"ended early at {final:.2f} s ({reason(stop_error)})"
    if truncated and use_video:
        # Frames already handed out must stay inside the clip: the last decoded frame can fill a
        # grid slot that starts before `end` but ends after it (found by fuzzing a cut mkv).
        final = min(declared, max(final, float(Fraction(selector.next_index) / rate)))
    for kind, e in ends.items():
        if open_ended:
            break
        if truncated:
            clip.warnings[kind] = f"truncated at {final:.2f} s (file says {declared:.2f} s)"
        elif e < declared - TRUNCATION_TOLERANCE_S:
            what = "last frame repeated" if kind == "video" else "padded with silence"
            clip.warnings[kind] = f"stream ends at {e:.2f} s of {declared:.2f} s; {what}"
    if first_error is not None and not truncated:
        clip.warnings.setdefault("decode", f"{bad_packets} damaged packet(s) skipped ({reason(first_error)})")
    clip.duration = final

    if silence and not use_video:
        # Audio-only request on a file without audio: silence, handed out piece by piece.
        total_samples = sample_count(final, asm.sample_rate)
        while asm.placed < total_samples:
            asm.pad_to(min(total_samples, asm.placed + audio_flush))
            yield chunker.flush()
    if use_video:
        total = max(frame_count(final, rate), 1, selector.next_index)
        n = selector.remaining(total)
        if n:  # the last frame holds until the end of the clip
            yield from chunker.add(convert(prev), n)
    if asm is not None:
        total_samples = max(sample_count(final, asm.sample_rate), asm.placed)
        asm.pad_to(total_samples)
    if chunker.fill or (asm is not None and asm.queued) or chunker.chunks_out == 0:
        yield chunker.flush()
    while asm is not None and asm.queued:
        # Audio beyond one chunk's limit — e.g. the silence completing a damaged 2-s file whose
        # timestamps claim 14 hours (3 GB at once, found by fuzzing) — goes out in further chunks
        # with audio and no frames, which every consumer already handles.
        yield chunker.flush()


class _NoFrames(Exception):
    def __str__(self) -> str:
        return "the stream holds no decodable frames"
