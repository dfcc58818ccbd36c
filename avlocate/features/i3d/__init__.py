"""Two-stream I3D building blocks of the UnAV-100 protocol (video_features' I3D extractor).

:mod:`.net` (the network), :mod:`.preprocess` (resize, crops, flow quantisation), :mod:`.windows`
(which frames feed which window), :mod:`.weights` (loading the public converted checkpoints),
:mod:`.two_stream` (streaming rgb + RAFT-flow features, each frame pair's flow computed once).
"""
from .net import I3D, I3DConfig
from .preprocess import flow_to_input, pad_for_raft, quantize_flow, resize_short_side, rgb_to_input
from .two_stream import I3DStream
from .weights import load_i3d
from .windows import I3DWindowConfig, num_windows, window_pair_index

__all__ = [
    "I3D",
    "I3DConfig",
    "I3DStream",
    "I3DWindowConfig",
    "flow_to_input",
    "load_i3d",
    "num_windows",
    "pad_for_raft",
    "quantize_flow",
    "resize_short_side",
    "rgb_to_input",
    "window_pair_index",
]
