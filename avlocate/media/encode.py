"""write_av(): encode frames and/or audio into a media file (synthetic samples and test inputs).

Packets are written in time order (audio encoded up to each video frame's time), so the files
are interleaved like real recordings and exercise the one-pass demux honestly.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

_CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1"}
_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}
_AUDIO_BLOCK = 4096  # samples per audio frame handed to the encoder (it re-frames as it needs)
_VFR_TIME_BASE = Fraction(1, 90000)  # MPEG clock: exact for ms and for 1/25, 1/30, 1/24 s


def write_av(
    path: str | os.PathLike[str],
    frames: Iterable[Any] | np.ndarray | None,
    fps: float | Fraction,
    audio: Any | None = None,
    sample_rate: int | None = None,
    codec: str = "libx264",
    audio_codec: str = "aac",
    crf: int | None = 23,
    *,
    frame_times: Iterable[float] | None = None,
    rotation: int = 0,
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    faststart: bool = False,
    format: str | None = None,
    audio_start: float = 0.0,
) -> Path:
    """Write ``frames`` ((H, W, 3) uint8 RGB each, or an (N, H, W, 3) array; None for audio-only)
    at ``fps`` and ``audio`` (float in [-1, 1], shape (n,) mono or (channels, n)) at ``sample_rate``.

    ``frame_times`` (seconds, increasing, one per frame) makes a variable-frame-rate file: each
    frame gets exactly that timestamp (B-frames are disabled so timestamps survive muxing).
    ``rotation`` stores a display matrix meaning "turn clockwise by this to view upright" (the
    convention probe() reads back). ``faststart`` moves the mp4 index to the front. Even frame
    sizes are required by yuv420p. ``audio_start`` (seconds) delays the audio track's first
    timestamp (to test alignment of streams that start apart).
    """
    path = Path(path)
    rate = Fraction(fps).limit_denominator(100_000)
    times = [Fraction(t).limit_denominator(1_000_000) for t in frame_times] if frame_times is not None else None
    container_options = {"movflags": "faststart"} if faststart else {}
    samples = _audio_array(audio) if audio is not None else None
    if samples is not None and not sample_rate:
        raise ValueError("write_av: sample_rate is required with audio")

    frame_iter = iter(frames) if frames is not None else None
    first = next(frame_iter, None) if frame_iter is not None else None
    with av.open(str(path), mode="w", format=format, options=container_options) as out:
        vstream = None
        if first is not None:
            first = _rgb(first)
            vstream = _add_video(out, codec, rate, first.shape, pix_fmt, crf, options, vfr=times is not None)
            if rotation % 360:
                vstream.set_display_rotation(-(rotation % 360))  # PyAV takes counter-clockwise
        astream = _add_audio(out, audio_codec, sample_rate, samples.shape[0]) if samples is not None else None

        audio_pos = 0  # samples handed to the audio encoder so far
        audio_delay = round(audio_start * sample_rate) if samples is not None else 0

        def audio_until(t: Fraction | None) -> None:
            nonlocal audio_pos
            if astream is None:
                return
            stop = samples.shape[1] if t is None else min(samples.shape[1], int(t * sample_rate) - audio_delay)
            while audio_pos < stop:
                end = min(stop, audio_pos + _AUDIO_BLOCK)
                block = np.ascontiguousarray(samples[:, audio_pos:end])
                af = av.AudioFrame.from_ndarray(block, format="fltp", layout=_LAYOUTS.get(block.shape[0], block.shape[0]))
                af.sample_rate = sample_rate
                af.pts = audio_pos + audio_delay
                af.time_base = Fraction(1, sample_rate)
                out.mux(astream.encode(af))
                audio_pos = end

        if vstream is not None:
            tb = vstream.codec_context.time_base
            durations = _durations([round(t / tb) for t in times], round(1 / (rate * tb))) if times is not None else None
            index = 0
            for image in _chain(first, frame_iter):
                frame = av.VideoFrame.from_ndarray(_rgb(image), format="rgb24")
                t = times[index] if times is not None else index / rate
                frame.pts = round(t / tb)
                _mux_video(out, vstream, vstream.encode(frame), durations)
                audio_until(t)
                index += 1
            if times is not None and index != len(times):
                raise ValueError(f"write_av: {index} frames but {len(times)} frame_times")
            _mux_video(out, vstream, vstream.encode(None), durations)
        audio_until(None)
        if astream is not None:
            out.mux(astream.encode(None))
    return path


def _rgb(image: Any) -> np.ndarray:
    array = image.numpy() if hasattr(image, "numpy") else np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"write_av: frames must be (H, W, 3) uint8, got {array.shape} {array.dtype}")
    return np.ascontiguousarray(array)


def _chain(first: np.ndarray, rest):  # noqa: ANN001, ANN202 - tiny generator
    yield first
    yield from rest


def _audio_array(audio: Any) -> np.ndarray:
    array = audio.numpy() if hasattr(audio, "numpy") else np.asarray(audio)
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"write_av: audio must be (n,) or (channels, n), got {array.shape}")
    return array


def _add_video(out, codec: str, rate: Fraction, shape, pix_fmt: str, crf, options, vfr: bool):  # noqa: ANN001, ANN202
    opts = dict(options or {})
    if crf is not None and codec in _CRF_CODECS:
        opts.setdefault("crf", str(crf))
        if codec.startswith("libvpx"):
            opts.setdefault("b", "0")  # constant-quality mode in libvpx needs a zero bitrate
    if vfr:
        opts["bf"] = "0"  # no B-frames: x264's reordered dts would otherwise mangle VFR timestamps
    stream = out.add_stream(codec, rate=rate, options=opts)
    stream.height, stream.width = int(shape[0]), int(shape[1])
    stream.pix_fmt = pix_fmt
    tb = _VFR_TIME_BASE if vfr else 1 / rate
    stream.time_base = tb
    stream.codec_context.time_base = tb
    return stream


def _add_audio(out, codec: str, sample_rate: int, channels: int):  # noqa: ANN001, ANN202
    rates = av.codec.Codec(codec, "w").audio_rates
    # Encoders with a fixed set of rates (opus: 8-48 kHz steps) get 48 kHz; PyAV resamples.
    rate = sample_rate if not rates or sample_rate in rates else 48000
    return out.add_stream(codec, rate=rate, layout=_LAYOUTS.get(channels, channels))


def _durations(pts: list[int], period: int) -> dict[int, int]:
    """Per-frame durations in codec ticks (gap to the next frame; one nominal period for the last)."""
    nxt = pts[1:] + [pts[-1] + period] if pts else []
    return {p: max(1, n - p) for p, n in zip(pts, nxt)}


def _mux_video(out, stream, packets, durations) -> None:  # noqa: ANN001
    for packet in packets:
        if durations is not None and packet.pts in durations:
            # Explicit durations make the muxer's track length and last-frame length exact.
            packet.duration = durations[packet.pts]
        out.mux(packet)
