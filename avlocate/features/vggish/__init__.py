"""VGGish building blocks for the UnAV-100 (0.32 s hop, no PCA) and AVE (0.96 s hop) protocols.

Pure tensor-in / tensor-out pieces: audio -> 16 kHz mono (:mod:`.resample`), log-mel examples
(:mod:`.frontend`), the network and optional PCA (:mod:`.network`), weight loading (:mod:`.weights`).
"""
from .frontend import ExampleStream, VGGishFrontendConfig, log_mel, num_examples, num_logmel_frames, waveform_to_examples
from .network import VGGish, VGGishConfig, VGGishPostprocessor
from .resample import KAISER_BEST, KaiserResampler, resample_kaiser, to_vggish_waveform
from .weights import load_vggish, load_vggish_postprocessor

__all__ = [
    "ExampleStream",
    "KAISER_BEST",
    "KaiserResampler",
    "VGGish",
    "VGGishConfig",
    "VGGishFrontendConfig",
    "VGGishPostprocessor",
    "load_vggish",
    "load_vggish_postprocessor",
    "log_mel",
    "num_examples",
    "num_logmel_frames",
    "resample_kaiser",
    "to_vggish_waveform",
    "waveform_to_examples",
]
