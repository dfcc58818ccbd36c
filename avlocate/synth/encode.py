"""Write frames + a mono track to an H.264/AAC .mp4 with PyAV, reproducibly.

Reproducible means: same input arrays -> same file bytes on the same machine and library build.
Measured with PyAV 18's libx264: even with one thread, encodes that use B-frames differed from run
to run (5 different outputs in 5 runs at preset slow); with ``bframes=0`` 12 runs out of 12 were
identical, so B-frames are off (it also means no frame reordering for readers, and the files came out
slightly smaller). ``bitexact`` keeps the muxer and the AAC encoder from writing version
strings. RGB -> YUV 4:2:0 is done here in numpy (BT.601, 2x2 chroma mean) so that the encoder
input is explicit rather than whatever scaler PyAV picks. Audio and video
are interleaved in time order so players and streaming readers do not need to buffer.

``lossless=True`` (x264 ``qp=0``) is what the demo models' training data uses. Measured here: in
processes that also run torch and the decoder, one encode in ~25 gave different H.264 bytes for the
same input frames even with one thread and no B-frames (3 processes side by side, seeds 1000-1023;
the rendered frames and audio were bit-identical, only the bitstream differed). A lossless stream
decodes to exactly the encoder's input whatever bytes x264 chose, so training features no longer
depend on that. The AAC audio was identical in every run and stays lossy.
(``avlocate.media.encode.write_av`` may offer the same; synth keeps its own so that it does not
depend on the media layer being present.)
"""
from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

AAC_FRAME = 1024  # samples per AAC frame


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 RGB -> (3H/2) x W uint8 planar YUV 4:2:0, BT.601 limited range.

    BT.601 is what decoders assume for untagged SD video (and PyAV's ``to_ndarray('rgb24')``
    uses), so colours survive the round trip. Chroma is the mean over each 2x2 block.
    """
    x = rgb.astype(np.float32) / 255
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    h, w = y.shape
    r2, g2, b2 = (c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)) for c in (r, g, b))
    u = 128 - 37.797 * r2 - 74.203 * g2 + 112.0 * b2
    v = 128 + 112.0 * r2 - 93.786 * g2 - 18.214 * b2
    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, u, v)]
    # PyAV's layout: the three planes back to back, viewed as (3H/2) rows of W bytes.
    return np.concatenate([p.reshape(-1) for p in planes]).reshape(h * 3 // 2, w)


def write_mp4(path: Path | str, frames: Iterable[np.ndarray], audio: np.ndarray, fps: int = 25,
              sample_rate: int = 16000, crf: int = 28, preset: str = "slow", gop: int | None = None,
              audio_bitrate: int = 48000, lossless: bool = False) -> Path:
    """Encode RGB uint8 frames (H x W x 3, even H and W) and float mono ``audio`` in [-1, 1]."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    with av.open(str(path), mode="w", format="mp4",
                 options={"fflags": "+bitexact", "movflags": "+faststart"}) as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.pix_fmt = "yuv420p"
        vs.codec_context.thread_count = 1
        vs.codec_context.flags |= av.codec.context.Flags.bitexact
        # Lossless: the preset changes only speed and file size, never the decoded pixels; ultrafast
        # is ~5x faster than slow here (2.2 s vs 10.6 s for a 19-s video).
        quality = {"qp": "0", "preset": "ultrafast"} if lossless else {"crf": str(crf), "preset": preset}
        vs.options = {**quality, "g": str(gop or 2 * fps), "threads": "1", "bf": "0"}
        aus = out.add_stream("aac", rate=sample_rate, layout="mono")
        aus.bit_rate = audio_bitrate
        aus.codec_context.flags |= av.codec.context.Flags.bitexact
        aus.time_base = Fraction(1, sample_rate)
        sent = 0  # audio samples sent so far

        def send_audio(upto: int) -> None:
            nonlocal sent
            while sent + AAC_FRAME <= upto or (upto >= audio.size and sent < audio.size):
                chunk = audio[sent:sent + AAC_FRAME]
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = sample_rate, sent, Fraction(1, sample_rate)
                out.mux(aus.encode(frame))
                sent += chunk.size

        first = True
        for i, rgb in enumerate(frames):
            if first:
                vs.height, vs.width = rgb.shape[:2]
                first = False
            vf = av.VideoFrame.from_ndarray(rgb_to_yuv420p(rgb), format="yuv420p")
            vf.pts = i
            out.mux(vs.encode(vf))
            send_audio(int((i + 1) * sample_rate / fps))
        send_audio(audio.size)
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))
    return path
