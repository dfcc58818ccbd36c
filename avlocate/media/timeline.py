"""Timestamp discontinuities: found while decoding, and the rest of the stream re-based after them.

Two recordings concatenated (``cat a.ts b.ts``), an encoder whose clock was reset, or a muxer that
skipped ahead leave timestamps that no longer describe playing time. Taken literally, a jump
BACK drops everything after it (the frame grid only moves forward) and a jump AHEAD is filled
with the last frame repeated for as long as the jump claims (hours of work for seconds of data).

The rule, per decoded frame of each stream used (times in seconds from the clip origin):

* **back**: a frame stamped more than ``back_s`` before the previous frame of its stream;
* **ahead**: a frame stamped more than ``gap_s`` after the end of the previous frame of its
  stream, when no other stream has data inside that gap (a still image over continuing sound is
  a real gap of the pictures, not a discontinuity).

Either is a discontinuity: the stream goes on right where its previous frame ended (its
timestamps are shifted by the jump), so the timeline stays continuous and the work stays bounded
by the data actually present. The streams jump one after another (they are interleaved); the
n-th jump of one stream and the n-th jump of another are the same discontinuity, reported once
in ``warnings["timeline"]`` with where it happened (on the re-based timeline) and by how much.

``gap_s`` is 10 s for containers that FFmpeg marks as having discontinuous timestamps
(AVFMT_TS_DISCONT: MPEG-TS; the bound FFmpeg itself uses there, ``-dts_delta_threshold``) and
60 s for the others (MP4, MKV, FLV, ...), whose timestamps are authoritative and where a long
still is more plausible than damage.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import av

#: A frame this far (seconds) before the previous frame of its stream is a jump back.
BACK_S = 1.0
#: A gap (seconds) without data of any stream after which timestamps are re-based: containers
#: that may carry discontinuities (AVFMT_TS_DISCONT: MPEG-TS) / the others.
GAP_S_DISCONT = 10.0
GAP_S_OTHER = 60.0
#: How far into a gap another stream must reach to count as data in it (seconds).
_WITNESS_MARGIN = Fraction(1)
#: Discontinuities named one by one in the warning; beyond this they are only counted.
_LISTED = 3
_TS_DISCONT = 0x200  # AVFMT_TS_DISCONT


def gap_bound(container: av.container.InputContainer) -> float:
    """The forward-gap bound for this container (module doc)."""
    flags = getattr(container.format, "flags", 0)
    return GAP_S_DISCONT if isinstance(flags, int) and flags & _TS_DISCONT else GAP_S_OTHER


@dataclass
class Jump:
    at: float  # seconds on the re-based timeline where the stream that jumped first had ended
    by: float  # seconds the timestamps jumped (negative: back)


@dataclass
class _Track:
    last_t: Fraction | None = None  # raw time of the previous frame
    last_end: Fraction | None = None  # raw end of the previous frame
    offset: Fraction = Fraction(0)  # added to raw times: the re-based timeline
    jumps: int = 0  # discontinuities this stream went through
    big_step_to: Fraction | None = None  # raw time after its latest step ahead over more than gap_s


@dataclass
class Rebaser:
    """Maps each stream's frame times onto one continuous timeline (module doc)."""

    gap_s: float = GAP_S_DISCONT
    back_s: float = BACK_S
    jumps: list[Jump] = field(default_factory=list)
    _tracks: dict[object, _Track] = field(default_factory=dict)

    def place(self, key: object, t: Fraction, period: Fraction) -> Fraction:
        """The re-based time of a frame of stream ``key`` stamped ``t`` (lasting ``period``)."""
        track = self._tracks.setdefault(key, _Track())
        big_step = track.last_end is not None and t > track.last_end + Fraction(self.gap_s)
        if track.last_t is not None and self._jumped(track, t):
            track.jumps += 1
            ended = track.last_end + track.offset  # where this stream's content ends, re-based
            if track.jumps > len(self.jumps):
                self.jumps.append(Jump(float(ended), float(t - track.last_end)))
            track.offset = ended - t  # continue right there
        if big_step:
            track.big_step_to = t
        elif track.last_t is not None and t < track.last_t - Fraction(self.back_s):
            track.big_step_to = None  # a new stretch of timestamps
        track.last_t, track.last_end = t, t + period
        return t + track.offset

    def _jumped(self, track: _Track, t: Fraction) -> bool:
        if t < track.last_t - Fraction(self.back_s):
            return True
        if t > track.last_end + Fraction(self.gap_s):
            # Data of another stream inside the gap: one that reaches into it without a step over
            # a gap of its own (else both streams jumping, each a little behind the other in the
            # interleaving, would each take the other's jump for data). Its frames may well have
            # been decoded before this stream's last one (decoders hold frames back).
            edge = track.last_end + _WITNESS_MARGIN
            return not any(o is not track and o.last_end is not None and o.last_end > edge
                           and (o.big_step_to is None or o.big_step_to <= edge) for o in self._tracks.values())
        return False

    def warning(self) -> str | None:
        """The ``warnings["timeline"]`` text, or None without discontinuities."""
        if not self.jumps:
            return None
        parts = [f"jump {'back' if j.by < 0 else 'ahead'} by {abs(j.by):.2f} s at {j.at:.2f} s"
                 for j in self.jumps[:_LISTED]]
        more = len(self.jumps) - _LISTED
        if more > 0:
            parts.append(f"and {more} more")
        return (f"timestamps {'; '.join(parts)}: re-based, the rest of the stream follows on without a gap "
                f"({len(self.jumps)} discontinuit{'y' if len(self.jumps) == 1 else 'ies'})")
