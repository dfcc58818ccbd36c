"""Audio to VGGish's 16 kHz mono input, reproducing the official route (numpy + resampy).

Official route (video_features ``ExtractVGGish``): int16 wav / 32768 -> float64; multi-channel
audio is averaged over channels; any rate other than 16 kHz goes through
``resampy.resample(x, sr, 16000)`` with its default ``kaiser_best`` filter.

resampy is a band-limited (windowed-sinc) interpolator whose filter is a *table* of the right
wing of the kernel, ``num_table`` points per zero crossing, read with linear interpolation between
table points. For downsampling the table is scaled by the rate ratio and read with a stride of
``int(ratio * num_table)`` points. We implement that algorithm in torch (float64, vectorised over
output samples, taps summed in resampy's order), numpy/scipy/numba-free.

Why not ``torchaudio.functional.resample`` with the "kaiser_best" parameters torchaudio documents?
It evaluates the exact sinc at the rational phases instead of interpolating a table, and returns
``ceil`` instead of ``floor`` output samples; it approximates resampy but does not reproduce it.

The filter changed between resampy versions, and it is not known for certain which one UnAV-100
used (the reference README): version "0.2.2" (the 2022 video_features environment, our default)
and "0.4" (resampy >= 0.3, pinned by video_features today) are both provided.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import torch

__all__ = ["accumulated_time", "resampled_length", "KaiserFilter", "KaiserResampler", "KAISER_BEST", "kaiser_window", "resample_kaiser", "to_vggish_waveform"]


@dataclass(frozen=True)
class KaiserFilter:
    num_zeros: int  # zero crossings kept in the right wing
    precision: int  # table points per zero crossing = 2**precision
    rolloff: float  # cut-off as a fraction of the (lower) Nyquist frequency
    beta: float  # Kaiser window shape
    accumulate_time: bool  # resampy 0.2.x sums the time step; >= 0.3 multiplies

    @property
    def num_table(self) -> int:
        return 2**self.precision


KAISER_BEST: dict[str, KaiserFilter] = {
    # resampy 0.2.x: parameters as documented in its filters module.
    "0.2.2": KaiserFilter(num_zeros=64, precision=9, rolloff=0.9475937167399596, beta=14.769656459379492, accumulate_time=True),
    # resampy >= 0.3 re-tuned the filter by a parameter search and ships only the table; its
    # docs print beta = 12.9846 (6 digits). With the full-precision value below our table
    # reproduces the reference resampy 0.4.3 output to 2e-16 (12.9846 itself gives 1e-8).
    "0.4": KaiserFilter(num_zeros=50, precision=13, rolloff=0.9173473712608761, beta=12.984585247040012, accumulate_time=False),
}


def kaiser_window(length: int, beta: float) -> torch.Tensor:
    """Symmetric Kaiser window (float64), ``I0(beta sqrt(1 - (2n/(M-1) - 1)^2)) / I0(beta)``."""
    if length == 1:
        return torch.ones(1, dtype=torch.float64)
    alpha = (length - 1) / 2.0
    n = torch.arange(length, dtype=torch.float64)
    arg = beta * torch.sqrt(1.0 - ((n - alpha) / alpha) ** 2)
    return torch.special.i0(arg) / torch.special.i0(torch.tensor(beta, dtype=torch.float64))


@lru_cache(maxsize=4)
def _half_window(filt: KaiserFilter) -> torch.Tensor:
    """Right wing of the windowed sinc, ``num_zeros * num_table + 1`` points (float64)."""
    n = filt.num_zeros * filt.num_table
    pos = torch.arange(n + 1, dtype=torch.float64) * (filt.num_zeros / n)
    pos[-1] = float(filt.num_zeros)
    sinc = filt.rolloff * torch.sinc(filt.rolloff * pos)
    taper = kaiser_window(2 * n + 1, filt.beta)[n:]
    return taper * sinc


def resampled_length(num_samples: int, sr_orig: int, sr_new: int = 16000) -> int:
    """Output samples of :func:`resample_kaiser`: ``floor(L * sr_new / sr_orig)``."""
    return num_samples if sr_orig == sr_new else (num_samples * sr_new) // sr_orig


# Output samples per block: bounds the temporaries to a few MB for any audio length.
_BLOCK = 1 << 16

# accumulated_time's last result per increment: a live stream asks for later and later outputs.
_REGISTER: dict[float, tuple[int, float]] = {}
_REGISTER_LOCK = threading.Lock()


def accumulated_time(increment: float, k: int) -> float:
    """resampy 0.2.x's time register at output ``k`` of a whole-signal run: 0.0 at output 0, then
    one float64 addition of ``increment`` per output (the sequential sum ``KaiserResampler._times``
    makes, bit for bit; it drifts from ``k * increment``, by 0.17 input samples after an hour at
    44.1 kHz). Continued from the last value asked for with the same increment when that is not
    later than ``k``, so a stream resampled block by block costs O(block) per block."""
    with _REGISTER_LOCK:
        done, t = _REGISTER.get(increment, (0, 0.0))
    if done > k:
        done, t = 0, 0.0
    while done < k:  # in pieces: bounded memory for any k
        n = min(k - done, _BLOCK)
        steps = torch.full((n,), increment, dtype=torch.float64)
        steps[0] = t + increment
        t = float(torch.cumsum(steps, dim=0)[-1])
        done += n
    with _REGISTER_LOCK:
        _REGISTER[increment] = (k, t)
    return t


class KaiserResampler:
    """Streaming resampy ``kaiser_best``: :meth:`push` mono blocks, then :meth:`finish`.

    The concatenated outputs equal :func:`resample_kaiser` on the whole signal; only the input
    samples that future outputs still need are kept (about ``num_zeros / ratio`` each side), so
    hours of audio never have to be in memory at once.
    """

    def __init__(self, sr_orig: int, sr_new: int = 16000, version: str = "0.2.2",
                 device: torch.device | str | None = None, origin: int = 0) -> None:
        """``origin``: index, in a longer signal, of the first sample that will be pushed. The
        outputs are then those of the whole signal's run from the first one at or after it on
        (``--live`` resamples block by block, see :mod:`avlocate.pipeline.live.feed`): same output
        times, same time register, with the samples before ``origin`` treated as absent (as the
        signal's start is); outputs within ``reach`` input samples of ``origin`` therefore differ from
        the whole run's, the later ones do not."""
        if sr_orig <= 0 or sr_new <= 0:
            raise ValueError(f"sample rates must be positive, got {sr_orig} -> {sr_new}")
        if origin < 0:
            raise ValueError(f"origin must be >= 0, got {origin}")
        self.sr_orig, self.sr_new = sr_orig, sr_new
        self.filt = KAISER_BEST[version]
        self.ratio = float(sr_new) / sr_orig
        self.scale = min(1.0, self.ratio)
        self.step = int(self.scale * self.filt.num_table)
        win = _half_window(self.filt).to(device)
        if self.ratio < 1:
            win = win * self.ratio  # keep unit DC gain when the kernel is stretched
        delta = torch.zeros_like(win)
        delta[:-1] = win[1:] - win[:-1]
        self.win, self.delta = win, delta
        self.reach = win.shape[0] // self.step + 1  # most taps a wing can have
        self._buf = torch.zeros(0, dtype=torch.float64, device=device)
        self._origin = origin  # global index of the first sample pushed
        self._buf_start = origin  # global index of _buf[0]
        self._received = origin  # global index after the last sample pushed
        self._next_out = 0 if sr_orig == sr_new else -(-origin * sr_new // sr_orig)  # first output at/after origin
        self._t_last: float | None = None
        if self.filt.accumulate_time and self._next_out > 0:
            self._t_last = accumulated_time(1.0 / self.ratio, self._next_out - 1)

    def push(self, samples: torch.Tensor) -> torch.Tensor:
        """Append mono samples; return the outputs that no later sample can change."""
        samples = samples.reshape(-1).to(device=self._buf.device, dtype=torch.float64)
        self._buf = torch.cat([self._buf, samples])
        self._received += samples.shape[0]
        if self.sr_orig == self.sr_new:
            return self._passthrough()
        # Output k reads inputs up to floor(t_k) + reach; keep one sample of margin for the
        # (tiny) drift of resampy 0.2.x's accumulated time register.
        ready = int((self._received - 2 - self.reach) * self.ratio)
        return self._emit(max(ready, self._next_out), total=None)

    def finish(self) -> torch.Tensor:
        """The remaining outputs, up to ``floor(L * sr_new / sr_orig)`` in all."""
        if self.sr_orig == self.sr_new:
            return self._passthrough()
        return self._emit(resampled_length(self._received, self.sr_orig, self.sr_new), total=self._received)

    def _passthrough(self) -> torch.Tensor:
        out, self._buf = self._buf, self._buf[:0]
        return out

    def _times(self, lo: int, hi: int) -> torch.Tensor:
        increment = 1.0 / self.ratio
        if not self.filt.accumulate_time:
            return torch.arange(lo, hi, dtype=torch.float64, device=self._buf.device) * increment
        # resampy 0.2.x advances a float64 time register by 1/ratio per output sample; its
        # rounding drift decides n = int(t) near integers, and because the table stride is
        # truncated that is visible (up to 6e-4 on the reference signal). A sequential cumsum,
        # continued from block to block, reproduces the register bit for bit.
        steps = torch.full((hi - lo,), increment, dtype=torch.float64, device=self._buf.device)
        steps[0] = 0.0 if self._t_last is None else self._t_last + increment
        t = torch.cumsum(steps, dim=0)
        self._t_last = float(t[-1])
        return t

    def _emit(self, end: int, total: int | None) -> torch.Tensor:
        outs = []
        while self._next_out < end:
            hi = min(self._next_out + _BLOCK, end)
            t = self._times(self._next_out, hi)
            outs.append(self._interpolate(t, total))
            self._next_out = hi
            # Samples left of floor(t_next) - reach are never read again.
            keep_from = max(int(t[-1]) - self.reach, self._buf_start)
            self._buf = self._buf[keep_from - self._buf_start :]
            self._buf_start = keep_from
        return torch.cat(outs) if outs else self._buf.new_zeros(0)

    def _interpolate(self, t: torch.Tensor, total: int | None) -> torch.Tensor:
        """Outputs at input times ``t``: resampy's two-wing table interpolation, vectorised over
        outputs, one tap at a time (resampy's summation order; cheap 1-D gathers)."""
        n = t.floor().to(torch.int64)
        frac = self.scale * (t - n.to(torch.float64))
        local = n - self._buf_start
        # Right-wing taps are cut at the signal end only once the length is known.
        right_limit = (total - n - 1) if total is not None else torch.full_like(n, self.reach)
        y = torch.zeros_like(t)
        nwin, num_table = self.win.shape[0], self.filt.num_table
        # Left-wing taps are cut at the first sample pushed (the signal's start unless an origin is set).
        for left, wing_frac, limit in ((True, frac, n + 1 - self._origin), (False, self.scale - frac, right_limit)):
            index_frac = wing_frac * num_table
            offset = index_frac.floor().to(torch.int64)
            eta = index_frac - offset.to(torch.float64)
            taps = torch.minimum(limit, torch.div(nwin - offset, self.step, rounding_mode="floor"))
            for i in range(int(taps.max().item()) if taps.numel() else 0):
                active = taps > i
                idx = torch.where(active, offset + i * self.step, 0)
                weight = self.win[idx] + eta * self.delta[idx]
                src = torch.where(active, local - i if left else local + i + 1, 0)
                y = y + torch.where(active, weight * self._buf[src], 0.0)
        return y


def resample_kaiser(x: torch.Tensor, sr_orig: int, sr_new: int, version: str = "0.2.2") -> torch.Tensor:
    """Resample the last axis of ``x`` like ``resampy.resample(x, sr_orig, sr_new, 'kaiser_best')``.

    Output length is ``floor(L * sr_new / sr_orig)``; float64 in, float64 out. An input too short
    to give one output sample gives an empty output (resampy raises instead).
    """
    x = x.to(torch.float64)
    rows = x.reshape(-1, x.shape[-1])
    out = []
    for row in rows:
        resampler = KaiserResampler(sr_orig, sr_new, version, device=x.device)
        out.append(torch.cat([resampler.push(row), resampler.finish()]))
    n_out = resampled_length(x.shape[-1], sr_orig, sr_new)
    return torch.stack(out).reshape(*x.shape[:-1], n_out) if out else x.new_zeros(*x.shape[:-1], n_out)


def to_vggish_waveform(
    samples: torch.Tensor, sample_rate: int, resampy_version: str = "0.2.2", target_rate: int = 16000
) -> torch.Tensor:
    """(C, L) or (L,) audio in [-1, 1) at ``sample_rate`` -> (L',) float64 mono at 16 kHz.

    Channels are averaged in float64 *before* resampling, as the official code does. For
    bit-parity the samples should be the int16 PCM values divided by 32768.
    """
    samples = samples.to(torch.float64)
    mono = samples.mean(dim=0) if samples.ndim == 2 else samples.reshape(-1)
    return resample_kaiser(mono, sample_rate, target_rate, resampy_version)
