"""Sound track of a scene: pink-ish background noise + one synthetic sound per audible interval.

Every class sound is built in numpy over its whole interval at once (no per-sample loops), gets
20 ms raised-cosine fades (a hard onset would be a broadband click, i.e. a fake drum), and is
scaled to its RMS loudness ``gain_db`` over the interval. Random parts (noise) draw from
``default_rng([scene.seed, 7, k])`` so that the track depends on nothing but the scene.
"""
from __future__ import annotations

import numpy as np

from .classes import (BACKGROUND_DB, BELL_DECAY_S, BELL_HARMONICS, BY_LABEL, CLICK_DECAY_S,
                      ENGINE_BAND_HZ, SIREN_RANGE_HZ)
from .occurrences import Interval, Occurrence, Scene

FADE_S = 0.02
PEAK_CAP = 0.9  # one loud click may not exceed this, whatever its RMS target says


def _db(x: float) -> float:
    return float(10.0 ** (x / 20.0))


def _fade(n: int, sr: int) -> np.ndarray:
    k = min(int(FADE_S * sr), n // 2)
    env = np.ones(n)
    if k > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
        env[:k], env[n - k:] = ramp, ramp[::-1]
    return env


def _bandpass_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float,
                    pink: bool = False) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    keep = (f >= lo) & (f <= hi)
    weight = np.where(keep, 1.0 / np.sqrt(np.maximum(f, 1.0)) if pink else 1.0, 0.0)
    return np.fft.irfft(spec * weight, n)


def class_sound(occ: Occurrence, t: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Unscaled sound of ``occ`` at absolute times ``t`` (seconds)."""
    spec = BY_LABEL[occ.label]
    tr = t - occ.t0  # the rhythm clock shared with the picture (see render.py)
    if spec.sound == "strikes":
        # Each strike rings on under the next one: the envelope is the latest strike (2 ms attack)
        # plus the geometric sum of the n earlier strikes' tails, so it never jumps (a jump would
        # be a broadband click, i.e. a fake drum). The tone's phase runs on continuously.
        period = 1.0 / occ.rate
        n_before = np.floor(tr / period)
        since = tr - n_before * period
        q = np.exp(-period / BELL_DECAY_S)
        tails = np.exp(-(since + period) / BELL_DECAY_S) * (1 - q ** n_before) / (1 - q)
        env = np.exp(-since / BELL_DECAY_S) * np.minimum(1.0, since / 0.002) + tails
        tone = sum(a * np.sin(2 * np.pi * (k + 1) * occ.pitch_hz * tr) for k, a in enumerate(BELL_HARMONICS))
        return env * tone
    if spec.sound == "sweep":
        lo, hi = SIREN_RANGE_HZ
        fc, fd = (lo + hi) / 2, (hi - lo) / 2
        # Instantaneous frequency fc + fd*sin(2*pi*(rate*tr + phase)); the phase is its integral.
        cyc = 2 * np.pi * (occ.rate * tr + occ.phase)
        phi = 2 * np.pi * fc * tr - fd / occ.rate * (np.cos(cyc) - np.cos(2 * np.pi * occ.phase))
        return np.sin(phi)
    if spec.sound == "am_noise":
        noise = _bandpass_noise(rng, t.size, sr, *ENGINE_BAND_HZ)
        return noise * (1.0 + 0.8 * np.sin(2 * np.pi * (occ.rate * tr + occ.phase)))
    if spec.sound == "clicks":
        # Random-sign (+-1) noise is as broadband as Gaussian noise but has a crest factor of 1, so
        # under the peak cap a click train still reaches about -19 dBFS RMS.
        since = np.mod(tr, 1.0 / occ.rate)
        return rng.choice(np.array([-1.0, 1.0]), size=t.size) * np.exp(-since / CLICK_DECAY_S)
    raise ValueError(f"unknown sound kind {spec.sound!r}")


def _place(track: np.ndarray, iv: Interval, sr: int) -> tuple[int, int]:
    a = min(track.size, int(round(iv.start * sr)))
    b = min(track.size, int(round(iv.end * sr)))
    return a, b


def _scaled(sig: np.ndarray, gain_db: float, sr: int) -> np.ndarray:
    sig = sig * _fade(sig.size, sr)
    rms = float(np.sqrt(np.mean(sig ** 2))) if sig.size else 0.0
    if rms <= 0:
        return sig
    gain = _db(gain_db) / rms
    peak = float(np.max(np.abs(sig)))
    return sig * min(gain, PEAK_CAP / peak)


def render_audio(scene: Scene, sample_rate: int = 16000) -> np.ndarray:
    """Mono float32 track in [-1, 1], ``round(duration * sample_rate)`` samples."""
    sr = sample_rate
    n = int(round(scene.duration * sr))
    bg_rng = np.random.default_rng([scene.seed, 7, 1_000_000])
    track = _bandpass_noise(bg_rng, n, sr, 20.0, sr / 2, pink=True)
    track *= _db(BACKGROUND_DB) / max(float(np.sqrt(np.mean(track ** 2))), 1e-12)
    for k, occ in enumerate(scene.occurrences):
        if occ.audible is None:
            continue
        a, b = _place(track, occ.audible, sr)
        if b <= a:
            continue
        t = np.arange(a, b) / sr
        sig = class_sound(occ, t, np.random.default_rng([scene.seed, 7, k]), sr)
        track[a:b] += _scaled(sig, occ.gain_db, sr)
    for tone in scene.neutral_tones:
        a, b = _place(track, tone.interval, sr)
        if b > a:
            t = np.arange(a, b) / sr
            track[a:b] += _scaled(np.sin(2 * np.pi * tone.freq_hz * t), tone.gain_db, sr)
    peak = float(np.max(np.abs(track))) if n else 0.0
    if peak > 0.99:  # overlapping loud sounds: scale the whole track rather than clip it
        track *= 0.99 / peak
    return track.astype(np.float32)
