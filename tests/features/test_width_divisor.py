"""The extractors' test-size knob (``width_divisor``): the same modules and outputs as the
published networks at a fraction of their widths, and never loadable as the published ones.

The other extractor tests rely on this: they run the networks at 1/16 width (conftest.py) and
claim to test the same code path. The published networks' own keys and shapes are checked
against the official layouts in test_i3d_network.py, test_raft.py and test_vggish_network.py.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from avlocate.errors import WeightsError
from avlocate.features.flow.raft import build_raft, load_raft
from avlocate.features.i3d import I3D, I3DConfig, load_i3d
from avlocate.features.vgg19_vggish import VGG19Pool5, load_vgg19
from avlocate.features.vggish.network import VGGish, VGGishConfig
from avlocate.features.vggish.weights import load_vggish

DIVISOR = 16


class Net:
    """One extractor network: how to build it at a divisor, load a state dict into the published
    one, and run it on a small input (with the output's shape)."""

    def __init__(self, build: Callable[[int], nn.Module], load_published: Callable[[dict], nn.Module],
                 run: Callable[[nn.Module], torch.Tensor], shape: tuple[int, ...]) -> None:
        self.build, self.load_published, self.run, self.shape = build, load_published, run, shape


def _nets() -> dict[str, Net]:
    g = torch.Generator().manual_seed(0)
    clip_rgb = torch.rand(1, 3, 16, 224, 224, generator=g) * 2 - 1  # 16 frames: 2 time steps at avg_pool
    clip_flow = torch.rand(1, 2, 16, 224, 224, generator=g) * 2 - 1
    a, b = (torch.rand(1, 3, 128, 128, generator=g) * 2 - 1 for _ in range(2))  # RAFT: sides >= 128
    examples = torch.randn(3, 1, 96, 64, generator=g)
    image = torch.randn(1, 3, 224, 224, generator=g)
    return {
        "i3d-rgb": Net(lambda d: I3D(I3DConfig(modality="rgb", width_divisor=d)), lambda sd: load_i3d(sd, "rgb"),
                       lambda net: net(clip_rgb), (1, 1024)),
        "i3d-flow": Net(lambda d: I3D(I3DConfig(modality="flow", width_divisor=d)), lambda sd: load_i3d(sd, "flow"),
                        lambda net: net(clip_flow), (1, 1024)),
        "raft": Net(build_raft, load_raft, lambda net: net(a, b, num_flow_updates=2)[-1], (1, 2, 128, 128)),
        "vggish": Net(lambda d: VGGish(VGGishConfig(width_divisor=d)), load_vggish, lambda net: net(examples), (3, 128)),
        "vgg19": Net(VGG19Pool5, load_vgg19, lambda net: net(image), (1, 7, 7, 512)),
    }


@pytest.mark.parametrize("name", ["i3d-rgb", "i3d-flow", "raft", "vggish", "vgg19"])
def test_same_modules_and_outputs_smaller_and_refused_by_the_published_loader(name: str) -> None:
    net = _nets()[name]
    with torch.device("meta"):  # the published network's keys and shapes, without initialising it
        published = net.build(1).state_dict()
    torch.manual_seed(0)
    small = net.build(DIVISOR).eval()
    state = small.state_dict()
    assert list(state) == list(published)  # the same modules, in the same order
    assert sum(v.numel() for v in state.values()) < sum(v.numel() for v in published.values()) / 10
    with torch.inference_mode():
        assert tuple(net.run(small).shape) == net.shape  # what the rest of the pipeline sees
    with pytest.raises(WeightsError, match="of another shape") as err:
        net.load_published(state)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["i3d-rgb", "raft", "vggish", "vgg19"])
def test_a_divisor_below_one_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="width_divisor"):
        _nets()[name].build(0)
