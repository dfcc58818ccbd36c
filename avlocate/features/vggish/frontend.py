"""VGGish log-mel front end, reproducing the official numpy one (float64) in torch.

The official pipeline (VGGish's ``mel_features`` / ``vggish_input`` as used by video_features):
16 kHz mono float64 -> frames of 400 samples every 160 (no centring, no padding, complete frames
only) -> periodic Hann -> zero-padded at the end to 512 -> |rfft| (magnitude, not power) ->
HTK-mel matrix (64 bands, 125-7500 Hz, triangles linear *in mel*) -> ``ln(mel + 0.01)`` ->
examples of 96 frames every ``round(hop_s * 100)`` frames.

Two pitfalls this module avoids on purpose (measured in the reference README):
* ``torch.stft(n_fft=512, win_length=400)`` centres the 400-point window inside the 512 frame,
  i.e. shifts every frame by 56 samples; we frame the signal ourselves and call ``rfft(n=512)``.
* ``torchaudio``'s ``melscale_fbanks`` interpolates linearly in Hz, not in mel (log-mel would move
  by up to 0.011); we build the matrix the VGGish way.

Everything runs in float64 like numpy, so the result matches the official arrays to ~1e-12.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

__all__ = [
    "VGGishFrontendConfig",
    "periodic_hann",
    "mel_matrix",
    "stft_magnitude",
    "log_mel",
    "frame_examples",
    "num_logmel_frames",
    "num_examples",
    "waveform_to_examples",
    "ExampleStream",
]


@dataclass(frozen=True)
class VGGishFrontendConfig:
    """VGGish front-end constants (VGGish's ``vggish_params``) plus the UnAV-100 hop.

    ``example_hop_s`` defaults to 0.32 s: UnAV-100 changed VGGish's 0.96 s default so that audio
    gets one example per 0.32 s, like the I3D windows. Use 0.96 for the AVE protocol.
    """

    sample_rate: int = 16000
    window_s: float = 0.025
    hop_s: float = 0.010
    num_mel_bins: int = 64
    mel_min_hz: float = 125.0
    mel_max_hz: float = 7500.0
    log_offset: float = 0.01
    example_window_s: float = 0.96
    example_hop_s: float = 0.32
    # Audio too short for one example: the official code returns no example (64 <= frames < 96)
    # or crashes (frames < 64 at hop 0.32). We never crash; with ``pad_short`` a clip shorter than
    # one example is zero-padded (digital silence) to exactly one example instead of giving none.
    pad_short: bool = False

    @property
    def window_length(self) -> int:
        return int(round(self.sample_rate * self.window_s))  # 400

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_s))  # 160

    @property
    def fft_length(self) -> int:
        return 2 ** int(math.ceil(math.log(self.window_length) / math.log(2.0)))  # 512

    @property
    def frames_per_second(self) -> float:
        return 1.0 / self.hop_s

    @property
    def example_window_frames(self) -> int:
        return int(round(self.example_window_s * self.frames_per_second))  # 96

    @property
    def example_hop_frames(self) -> int:
        return int(round(self.example_hop_s * self.frames_per_second))  # 32 (or 96)

    @property
    def min_samples_per_example(self) -> int:
        """Samples needed for one complete example (15 600 at 16 kHz)."""
        return self.window_length + (self.example_window_frames - 1) * self.hop_length


def _np_linspace(start: float, stop: float, num: int) -> torch.Tensor:
    """``numpy.linspace`` semantics in float64 (start + i*step, last value exactly ``stop``)."""
    if num == 1:
        return torch.tensor([start], dtype=torch.float64)
    step = (stop - start) / (num - 1)
    out = torch.arange(num, dtype=torch.float64) * step + start
    out[-1] = stop
    return out


def periodic_hann(length: int) -> torch.Tensor:
    """``0.5 - 0.5 cos(2 pi n / length)``, n = 0..length-1 (periodic, not symmetric)."""
    n = torch.arange(length, dtype=torch.float64)
    return 0.5 - 0.5 * torch.cos(2.0 * math.pi / length * n)


def _hz_to_mel(hz: torch.Tensor | float) -> torch.Tensor:
    # HTK mel scale with VGGish's constants (break 700 Hz, high-frequency factor 1127).
    return 1127.0 * torch.log(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def mel_matrix(cfg: VGGishFrontendConfig = VGGishFrontendConfig()) -> torch.Tensor:
    """(fft_length//2 + 1, num_mel_bins) float64 weights; triangles linear in mel, DC row zeroed."""
    num_bins = cfg.fft_length // 2 + 1
    bins_mel = _hz_to_mel(_np_linspace(0.0, cfg.sample_rate / 2.0, num_bins))
    edges = _np_linspace(float(_hz_to_mel(cfg.mel_min_hz)), float(_hz_to_mel(cfg.mel_max_hz)), cfg.num_mel_bins + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    weights[0, :] = 0.0  # the DC bin never contributes (as in VGGish)
    return weights


def num_logmel_frames(num_samples: int, cfg: VGGishFrontendConfig = VGGishFrontendConfig()) -> int:
    """``1 + floor((L - 400) / 160)``, or 0 when that is negative (the official code crashes)."""
    return max(0, 1 + (num_samples - cfg.window_length) // cfg.hop_length)


def num_examples(num_samples: int, cfg: VGGishFrontendConfig = VGGishFrontendConfig()) -> int:
    """Examples made from ``num_samples`` 16 kHz samples (matches the official counts where the
    official code does not crash; 0 where it does, or 1 with ``pad_short``)."""
    if cfg.pad_short and 0 < num_samples < cfg.min_samples_per_example:
        return 1
    frames = num_logmel_frames(num_samples, cfg)
    if frames < cfg.example_window_frames:
        return 0
    return 1 + (frames - cfg.example_window_frames) // cfg.example_hop_frames


def stft_magnitude(wave: torch.Tensor, cfg: VGGishFrontendConfig = VGGishFrontendConfig()) -> torch.Tensor:
    """(F, 257) float64 magnitudes of the un-centred, un-padded frames of a 1-D waveform."""
    wave = wave.to(torch.float64)
    if wave.ndim != 1:
        raise ValueError(f"expected a 1-D mono waveform, got shape {tuple(wave.shape)}")
    num_frames = num_logmel_frames(wave.shape[0], cfg)
    if num_frames == 0:
        return torch.zeros(0, cfg.fft_length // 2 + 1, dtype=torch.float64)
    frames = wave.unfold(0, cfg.window_length, cfg.hop_length)[:num_frames]
    windowed = frames * periodic_hann(cfg.window_length).to(wave.device)
    # rfft with n=512 zero-pads at the END of each 400-sample frame, as numpy does.
    return torch.fft.rfft(windowed, n=cfg.fft_length, dim=-1).abs()


def log_mel(wave: torch.Tensor, cfg: VGGishFrontendConfig = VGGishFrontendConfig()) -> torch.Tensor:
    """(F, 64) float64 ``ln(|STFT| @ mel + 0.01)``."""
    mag = stft_magnitude(wave, cfg)
    return torch.log(mag @ mel_matrix(cfg).to(mag.device) + cfg.log_offset)


def frame_examples(logmel: torch.Tensor, cfg: VGGishFrontendConfig = VGGishFrontendConfig()) -> torch.Tensor:
    """(N, 96, 64) windows of consecutive log-mel frames, complete windows only."""
    win, hop = cfg.example_window_frames, cfg.example_hop_frames
    if logmel.shape[0] < win:
        return logmel.new_zeros(0, win, logmel.shape[1])
    return logmel.unfold(0, win, hop).transpose(1, 2).contiguous()


def waveform_to_examples(wave16k: torch.Tensor, cfg: VGGishFrontendConfig = VGGishFrontendConfig()) -> torch.Tensor:
    """16 kHz mono float waveform in [-1, 1) -> (N, 96, 64) float64 log-mel examples.

    The caller resamples first (:func:`avlocate.features.vggish.resample.to_vggish_waveform`).
    """
    wave16k = wave16k.to(torch.float64).reshape(-1)
    if cfg.pad_short and 0 < wave16k.shape[0] < cfg.min_samples_per_example:
        wave16k = torch.nn.functional.pad(wave16k, (0, cfg.min_samples_per_example - wave16k.shape[0]))
    return frame_examples(log_mel(wave16k, cfg), cfg)


class ExampleStream:
    """Streaming :func:`waveform_to_examples`: :meth:`push` 16 kHz blocks, then :meth:`finish`.

    Example k covers samples ``[k*hop*160, k*hop*160 + 15600)``; each log-mel frame depends only
    on its own 400 samples, so the concatenated outputs equal the one-shot result exactly while
    only the samples of unfinished examples are kept.
    """

    def __init__(self, cfg: VGGishFrontendConfig = VGGishFrontendConfig()) -> None:
        self.cfg = cfg
        self._buf = torch.zeros(0, dtype=torch.float64)
        self._received = 0
        self._emitted = 0

    def push(self, wave16k: torch.Tensor) -> torch.Tensor:
        """Append samples; return the (n, 96, 64) float64 examples completed by them."""
        self._buf = torch.cat([self._buf, wave16k.reshape(-1).to(torch.float64).cpu()])
        self._received += wave16k.numel()
        examples = waveform_to_examples(self._buf, replace(self.cfg, pad_short=False))
        if examples.shape[0]:
            self._emitted += examples.shape[0]
            # The next example starts example_hop_frames * hop_length samples after this one.
            advance = examples.shape[0] * self.cfg.example_hop_frames * self.cfg.hop_length
            self._buf = self._buf[advance:]
        return examples

    def finish(self) -> torch.Tensor:
        """With ``pad_short``, a whole signal shorter than one example still gives one."""
        if self.cfg.pad_short and self._emitted == 0 and self._received > 0:
            self._emitted = 1
            return waveform_to_examples(self._buf, self.cfg)
        return torch.zeros(0, self.cfg.example_window_frames, self.cfg.num_mel_bins, dtype=torch.float64)
