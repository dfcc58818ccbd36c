"""The hardening corpus: files a folder of unchecked videos can hold, each with the outcome we promise.

    python tests/cli/hardening/make_corpus.py OUT_DIR     # writes the corpus, prints name -> expected

Every file is generated (PyAV encoders of this build, plain bytes, ``truncate`` for the sparse
file); nothing is committed. ``expected`` is the exit code of ``avlocate run FILE`` (0: a result)
and the ``error_code`` of the file's line in ``avlocate batch --timeout`` (``batch_expected`` only
differs for the file that is meant to hit the time limit). Builds on ``tests/media/corpus.py``.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "media"))
from corpus import FAST, make_video, tone  # noqa: E402

from avlocate.media import write_av  # noqa: E402

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1: errors only on stderr

OK, NOT_FOUND, MEDIA, TIMEOUT = 0, 3, 4, 9


@dataclass(frozen=True)
class Entry:
    path: Path
    expected: int  # exit code of `avlocate run`; 0 = a result
    batch_expected: int  # error_code of its batch line with --timeout (0 = a result line)
    note: str
    in_batch: bool = True  # False: not picked up by find_videos (not a video extension)


def _colour_frames(n: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """Frames with some colour and motion (the demo extractor looks at hues), still tiny."""
    y, x = np.indices((height, width))
    base = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y + seed * 40) % 256], -1)[None]
    shift = (np.arange(n, dtype=np.uint16) * 9 % 256).astype(np.uint8)
    return (base + shift[:, None, None, None]).astype(np.uint8)


def _av(path: Path, seconds: float = 1.0, fps: float = 10, width: int = 64, height: int = 48, *,
        sample_rate: int | None = 16000, channels: int = 1, audio_seconds: float | None = None, **kw) -> Path:
    frames = _colour_frames(max(1, round(seconds * fps)), width, height) if seconds > 0 else None
    sound = None
    if sample_rate:
        sound = np.tile(tone(440.0, audio_seconds if audio_seconds is not None else seconds, sample_rate), (channels, 1))
    if kw.get("codec", "libx264") == "libx264":
        kw.setdefault("options", FAST)
    return write_av(path, frames, fps, sound, sample_rate, **kw)


def _truncated(d: Path, name: str, fraction: float, faststart: bool) -> Path:
    full = make_video(d / f".full-{name}", seconds=2.0, faststart=faststart)
    data = full.read_bytes()
    full.unlink()
    out = d / name
    out.write_bytes(data[: max(1, int(len(data) * fraction))])
    return out


def _video_payload_range(path: Path) -> tuple[int, int]:
    """Byte range [first, last) of the video packets in a file (to damage only those)."""
    with av.open(str(path)) as c:
        pos = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size and p.pos is not None and p.pos >= 0]
    return min(p for p, _ in pos), max(p + s for p, s in pos)


def _broken_video_stream(d: Path) -> Path:
    """A valid mp4 index and audio, but every byte of every video packet is noise."""
    path = _av(d / "broken_video_stream.mp4", seconds=1.0, sample_rate=None)
    data = bytearray(path.read_bytes())
    with av.open(str(path)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size and p.pos is not None]
    rng = np.random.default_rng(1)
    for pos, size in packets:
        data[pos : pos + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def _broken_middle(d: Path) -> Path:
    """Noise over the video packets in the middle third; the start and end decode."""
    path = _av(d / "broken_packets_middle.mp4", seconds=3.0)
    first, last = _video_payload_range(path)
    data = bytearray(path.read_bytes())
    a = first + (last - first) // 3
    b = first + 2 * (last - first) // 3
    data[a:b] = np.random.default_rng(2).integers(0, 256, b - a, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def _zero_duration(d: Path) -> Path:
    """An mp4 with a video and an audio track that hold no packets at all."""
    path = d / "zero_duration.mp4"
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        c.add_stream("aac", rate=16000, layout="mono")
        c.start_encoding()  # header and index are written although no packet ever comes
    return path


def _ts_audio_change(d: Path) -> Path:
    """MPEG-TS segments joined byte-wise (as recorders and HLS downloads do) whose audio format
    changes from one to the next. Found by fuzzing: PyAV's resampler used to raise ValueError."""
    first = make_video(d / ".seg1.ts", seconds=1.0, sample_rate=16000, channels=1, format="mpegts")
    second = make_video(d / ".seg2.ts", seconds=1.0, sample_rate=44100, channels=2, format="mpegts")
    path = d / "audio_format_changes.ts"
    path.write_bytes(first.read_bytes() + second.read_bytes())
    first.unlink()
    second.unlink()
    return path


def _png_named_mp4(d: Path) -> Path:
    from PIL import Image

    path = d / "image_png.mp4"
    Image.fromarray(_colour_frames(1, 32, 24)[0]).save(path, format="PNG")
    return path


def make_corpus(directory: str | os.PathLike[str]) -> dict[str, Entry]:
    """Write the corpus into ``directory`` (a folder of its own: a batch runs over it)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    e: dict[str, Entry] = {}

    def add(key: str, path: Path, expected: int, note: str, batch: int | None = None, in_batch: bool = True) -> None:
        e[key] = Entry(path, expected, expected if batch is None else batch, note, in_batch)

    # -- not media at all --------------------------------------------------------------------
    (d / "empty.mp4").write_bytes(b"")
    add("empty", d / "empty.mp4", MEDIA, "0 bytes")
    (d / "random_bytes.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    add("random_bytes", d / "random_bytes.mp4", MEDIA, "20 kB of noise")
    (d / "text.mp4").write_text("meeting notes, not a video\n" * 40)
    add("text", d / "text.mp4", MEDIA, "plain text")
    (d / "json.mp4").write_text(json.dumps({"video": "no", "frames": list(range(200))}))
    add("json", d / "json.mp4", MEDIA, "JSON document")
    add("png", _png_named_mp4(d), OK, "a PNG image named .mp4: a readable 1-frame still, nothing to score")
    sparse = d / "sparse_2gb.mp4"
    with open(sparse, "wb") as f:
        f.truncate(2 * 1024**3)  # sparse: no disk blocks
    add("sparse_2gb", sparse, MEDIA, "2 GiB of (sparse) zeros: must fail fast, not read 2 GB")

    # -- damaged media -----------------------------------------------------------------------
    for pct in (10, 50, 90):
        add(f"truncated_{pct}", _truncated(d, f"truncated_{pct}.mp4", pct / 100, False), MEDIA,
            f"cut at {pct}% (index at the end: lost)")
    add("truncated_faststart_2", _truncated(d, "truncated_faststart_2.mp4", 0.02, True), MEDIA,
        "index at the front, cut inside it")
    add("truncated_faststart_60", _truncated(d, "truncated_faststart_60.mp4", 0.6, True), OK,
        "index at the front, cut at 60%: the first part decodes (warning)")
    add("broken_video_stream", _broken_video_stream(d), MEDIA, "valid index, every video packet is noise")
    add("broken_packets_middle", _broken_middle(d), OK, "noise over the middle third of the video packets")
    add("zero_duration", _zero_duration(d), MEDIA, "tracks without any packet")

    # -- unusual but valid -------------------------------------------------------------------
    add("no_audio", _av(d / "no_audio.mp4", sample_rate=None), OK, "video only (silence + warning)")
    add("audio_only_m4a", write_av(d / "audio_only.m4a", None, 10, tone(440, 1.0, 16000), 16000), MEDIA,
        "AAC, no video; not a video extension, so batch skips it", in_batch=False)
    add("audio_only_wav", write_av(d / "audio_only.wav", None, 10, tone(440, 1.0, 16000), 16000, audio_codec="pcm_s16le"),
        MEDIA, "WAV: no video; not picked up by batch", in_batch=False)
    add("audio_only_mp3", write_av(d / "audio_only.mp3", None, 10, tone(440, 1.0, 16000), 16000, audio_codec="libmp3lame"),
        MEDIA, "MP3: no video; not picked up by batch", in_batch=False)
    add("audio_only_mkv", write_av(d / "audio_only.mkv", None, 10, tone(440, 1.0, 16000), 16000, audio_codec="libopus"),
        MEDIA, "Opus in Matroska: a video extension without video")
    add("one_frame", _av(d / "one_frame.mp4", seconds=0.1, sample_rate=None), OK, "a single frame")
    times = [0.0, 0.05, 0.1, 0.4, 0.45, 0.9, 1.3, 1.35, 1.9]
    add("vfr", _av(d / "vfr.mp4", seconds=0.9, frame_times=times, audio_seconds=2.0), OK, "variable frame rate")
    for angle in (90, 180, 270):
        add(f"rotate_{angle}", _av(d / f"rotate_{angle}.mp4", rotation=angle), OK, f"display matrix {angle} deg")
    add("size_1x1", _av(d / "size_1x1.mp4", width=1, height=1, pix_fmt="yuv444p"), OK, "1x1 pixel")
    add("size_4k", _av(d / "size_3840x2160.mp4", seconds=0.3, width=3840, height=2160, sample_rate=None), OK,
        "3840x2160, 3 frames")
    add("size_odd", _av(d / "size_321x241.mp4", width=321, height=241, pix_fmt="yuv444p"), OK, "321x241")
    add("audio_8k_mono", _av(d / "audio_8k_mono.mp4", sample_rate=8000, channels=1), OK, "8 kHz mono")
    add("audio_48k_51", _av(d / "audio_48k_51.mp4", sample_rate=48000, channels=6), OK, "48 kHz 5.1")
    add("audio_longer", _av(d / "audio_longer.mp4", seconds=1.0, audio_seconds=2.5), OK, "audio 2.5 s, video 1 s")
    add("video_longer", _av(d / "video_longer.mp4", seconds=2.0, audio_seconds=0.5), OK, "video 2 s, audio 0.5 s")
    add("start_offset", _av(d / "start_offset.mp4", seconds=1.0, frame_times=[3.0 + i / 10 for i in range(10)],
                            audio_start=3.0), OK, "both streams start at 3 s (edit list)")
    add("start_offset_audio", _av(d / "start_offset_audio.mkv", seconds=1.5, audio_start=0.7, format="matroska"), OK,
        "audio starts 0.7 s after the video")

    # -- containers and codecs ---------------------------------------------------------------
    add("mkv_h264_opus", _av(d / "h264_opus.mkv", audio_codec="libopus", format="matroska"), OK, "Matroska")
    add("webm_vp9", _av(d / "vp9_opus.webm", codec="libvpx-vp9", audio_codec="libopus", format="webm",
                        options={"deadline": "realtime", "cpu-used": "8"}), OK, "WebM VP9 + Opus")
    add("mov_h264", _av(d / "h264_aac.mov", format="mov"), OK, "QuickTime")
    add("avi_mpeg4", _av(d / "mpeg4_mp3.avi", codec="mpeg4", audio_codec="libmp3lame", format="avi", sample_rate=22050),
        OK, "AVI, MPEG-4 part 2 + MP3")
    add("hevc", _av(d / "hevc.mp4", codec="libx265", options={"preset": "ultrafast", "x265-params": "log-level=error"},
                    sample_rate=None), OK, "H.265")
    add("av1", _av(d / "av1.mkv", width=64, height=64, codec="libsvtav1", format="matroska",
                   options={"preset": "12"}, sample_rate=None), OK, "AV1 (SVT encoder, dav1d decoder)")

    add("ts_audio_change", _ts_audio_change(d), OK, "two TS segments joined: audio goes 16 kHz mono -> 44.1 kHz stereo")

    # -- names and file-system oddities ------------------------------------------------------
    add("name_unicode_spaces", _av(d / "a name with spaces — vidéo 日本.mp4"), OK, "spaces + unicode")
    add("name_leading_dash", _av(d / "-leading-dash.mp4"), OK, "leading dash (pass `--` before it to `run`)")
    # Linux file names are bytes: this one is Latin-1, not UTF-8 (Python sees a lone surrogate).
    latin1 = d / os.fsdecode(b"latin1-caf\xe9.mp4")
    os.replace(_av(d / "latin1.tmp.mp4"), latin1)
    add("name_not_utf8", latin1, OK, "a name that is not valid UTF-8 (was: batch crashed writing its line)")
    (d / "a_folder.mp4").mkdir(exist_ok=True)
    add("directory", d / "a_folder.mp4", NOT_FOUND, "a folder named .mp4 (batch does not list folders)", in_batch=False)
    dangling = d / "dangling_link.mp4"
    if not dangling.is_symlink():
        dangling.symlink_to(d / "no-such-target.mp4")
    add("dangling_symlink", dangling, NOT_FOUND, "a symlink to nothing")
    fifo = d / "named_pipe.mp4"
    if not fifo.exists():
        os.mkfifo(fifo)
    add("fifo", fifo, MEDIA, "a named pipe: opening it would block forever")
    loop = d / "loop"
    if not loop.is_symlink():
        loop.symlink_to(".")  # a folder that contains itself: batch must not recurse forever
    # A few bytes that claim ten hours (two frames 10 h apart): a time sink, not a crash.
    # Kept beside the corpus folder, not in it: the batch over the corpus has a generous time
    # limit, and this file its own short one (see tests/cli/hardening/test_corpus.py).
    slow = d.parent / "slow"
    slow.mkdir(exist_ok=True)
    add("ten_hours", _av(slow / "ten_hours.mkv", seconds=0.2, frame_times=[0.0, 36000.0], sample_rate=None,
                         format="matroska"), OK, "2 frames 10 h apart: only the batch time limit stops it", batch=TIMEOUT)
    return e


#: Every key make_corpus() returns (listed here so tests can be parametrized without generating).
KEYS = (
    "empty", "random_bytes", "text", "json", "png", "sparse_2gb",
    "truncated_10", "truncated_50", "truncated_90", "truncated_faststart_2", "truncated_faststart_60",
    "broken_video_stream", "broken_packets_middle", "zero_duration",
    "no_audio", "audio_only_m4a", "audio_only_wav", "audio_only_mp3", "audio_only_mkv", "one_frame", "vfr",
    "rotate_90", "rotate_180", "rotate_270", "size_1x1", "size_4k", "size_odd", "audio_8k_mono", "audio_48k_51",
    "audio_longer", "video_longer", "start_offset", "start_offset_audio",
    "mkv_h264_opus", "webm_vp9", "mov_h264", "avi_mpeg4", "hevc", "av1", "ts_audio_change",
    "name_unicode_spaces", "name_leading_dash", "name_not_utf8", "directory", "dangling_symlink", "fifo", "ten_hours",
)

#: Entries too slow for `avlocate run` in the default test run (they need the batch time limit).
SLOW = frozenset({"ten_hours"})


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "hardening-corpus")
    for key, entry in make_corpus(out).items():
        print(f"{key:24s} run->{entry.expected:<3d} batch->{entry.batch_expected:<3d} {entry.path.name}  ({entry.note})")
