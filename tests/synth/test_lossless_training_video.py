"""Training videos are lossless: what the decoder returns is exactly what the encoder was given, so
the demo models' training features cannot depend on the bytes x264 happens to choose."""
from __future__ import annotations

import av
import numpy as np

from avlocate.synth import make_video
from avlocate.synth.encode import rgb_to_yuv420p
from avlocate.synth.render import render_frames
from avlocate.synth.scene import scene_from_seed


def _decoded_yuv(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]


def test_lossless_video_decodes_to_the_encoder_input(tmp_path):
    seed, duration, size = 1018, 6.0, (160, 120)
    make_video(tmp_path / "lossless.mp4", seed=seed, duration=duration, size=size, lossless=True)
    make_video(tmp_path / "lossy.mp4", seed=seed, duration=duration, size=size)
    scene = scene_from_seed(seed, duration=duration, overlap=False, aspect=size[0] / size[1])
    given = [rgb_to_yuv420p(rgb) for rgb in render_frames(scene, size, 25)]
    lossless, lossy = _decoded_yuv(tmp_path / "lossless.mp4"), _decoded_yuv(tmp_path / "lossy.mp4")
    assert len(lossless) == len(given) == len(lossy) == 150
    assert all(np.array_equal(a, b) for a, b in zip(lossless, given))
    assert not all(np.array_equal(a, b) for a, b in zip(lossy, given))  # the default stays lossy (crf)
