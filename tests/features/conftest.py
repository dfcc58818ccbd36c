"""Seeded random weights of the frozen extractors' networks at test size, written once per session.

The extractor tests check plumbing (weight lookup, chunking, windows, alignment, devices, --live
blocks), not the published networks, whose parity is checked against ../shared/reference in
test_i3d_network.py, test_raft.py and test_vggish_network.py. So they run the same structures at
1/16 of their inner widths (the ``width_divisor`` knob of the extractor configs): ~3 MB of weight
files and a fraction of a second per window, instead of ~410 MB (I3D x2, RAFT, VGGish) and
seconds of RAFT per frame pair. The outputs keep their sizes (1024 + 1024 visual, 128 audio,
7x7x512 pool5 maps), so everything downstream sees what the published networks give.

The weights are He-initialised: with PyTorch's default init the activations shrink layer after
layer (I3D features ~1e-6 at test width, ~1e-4 at full size), which would make the tests'
absolute tolerances vacuous; He init keeps the features of order 1 and content-dependent.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

WIDTH_DIVISOR = 16


def he_init(net: torch.nn.Module) -> torch.nn.Module:
    """Kaiming-normal weights and zero biases for every conv and linear layer (see above)."""
    for module in net.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
    return net


@pytest.fixture(scope="session")
def width_divisor() -> int:
    """The ``width_divisor`` the weights below were made with (extractor configs must say it)."""
    return WIDTH_DIVISOR


@pytest.fixture(scope="session")
def i3d_vggish_weights(tmp_path_factory) -> Path:
    """I3D rgb + flow, RAFT and VGGish under the names the i3d-vggish extractor looks up (point
    ``AVLOCATE_WEIGHTS`` at the folder; the extractor needs ``width_divisor=WIDTH_DIVISOR``)."""
    from avlocate.features.flow.raft import build_raft
    from avlocate.features.i3d import I3D, I3DConfig
    from avlocate.features.i3d_vggish import WEIGHT_FILES
    from avlocate.features.vggish.network import VGGish, VGGishConfig
    from avlocate.weights.checkpoint import write_safetensors

    d = tmp_path_factory.mktemp("i3d_vggish_weights")
    torch.manual_seed(0)
    for stream in ("rgb", "flow"):
        net = he_init(I3D(I3DConfig(modality=stream, width_divisor=WIDTH_DIVISOR)))
        write_safetensors(net.state_dict(), d / WEIGHT_FILES[f"i3d-{stream}"])
    write_safetensors(he_init(build_raft(WIDTH_DIVISOR)).state_dict(), d / WEIGHT_FILES["raft-sintel"])
    vggish = he_init(VGGish(VGGishConfig(width_divisor=WIDTH_DIVISOR)))
    write_safetensors(vggish.state_dict(), d / WEIGHT_FILES["vggish"])
    return d


@pytest.fixture(scope="session")
def vgg19_vggish_weights(tmp_path_factory) -> Path:
    """VGG-19 (pool5) and VGGish under the names the vgg19-vggish extractor looks up (the
    extractor needs ``width_divisor=WIDTH_DIVISOR``)."""
    from avlocate.features.vgg19_vggish import WEIGHT_FILES, VGG19Pool5
    from avlocate.features.vggish.network import VGGish, VGGishConfig
    from avlocate.weights.checkpoint import write_safetensors

    d = tmp_path_factory.mktemp("vgg19_vggish_weights")
    torch.manual_seed(0)
    write_safetensors(he_init(VGG19Pool5(WIDTH_DIVISOR)).state_dict(), d / WEIGHT_FILES["vgg19"])
    vggish = he_init(VGGish(VGGishConfig(width_divisor=WIDTH_DIVISOR)))
    write_safetensors(vggish.state_dict(), d / WEIGHT_FILES["vggish"])
    return d


@pytest.fixture(scope="session")
def i3d_video(tmp_path_factory) -> Path:
    """33 frames at 25 fps (2 I3D windows: window k reads frames 8k..8k+24) + stereo 44.1 kHz."""
    from avlocate.media import write_av

    g = torch.Generator().manual_seed(1)
    n = 33
    frames = (torch.rand(n, 256, 256, 3, generator=g) * 255).to(torch.uint8).numpy()
    t = torch.arange(int(44100 * n / 25)) / 44100
    audio = torch.stack([0.3 * torch.sin(2 * torch.pi * 440 * t), 0.2 * torch.sin(2 * torch.pi * 660 * t)])
    return write_av(tmp_path_factory.mktemp("i3d_vid") / "clip.mp4", frames, 25, audio.numpy(), 44100)
