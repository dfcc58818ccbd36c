"""RAFT optical flow for the I3D flow stream: torchvision's RAFT-large with the original weights.

UnAV-100's flow came from the original RAFT code (princeton-vl) with ``raft-sintel.pth``, 20
iterations, test mode. torchvision's ``raft_large`` is the same architecture; the original
checkpoint loads into it after renaming (:func:`convert_original_raft`). With the reference's
float kernels (AVX2, 2 threads) the renamed model reproduces the official forward bit for bit
(tests/features/test_raft.py); AVX-512 kernels round differently, by ~2e-4 px. Differences from the original call that we bridge:
torchvision wants inputs already in [-1, 1] (the original scales 0..255 itself), defaults to 12
updates (we use 20) and returns every iteration (we keep the last).

The caller pads frames (:func:`avlocate.features.i3d.preprocess.pad_for_raft`) and keeps the flow
padded for I3D, as video_features does. Each consecutive pair is computed once
(:func:`pairwise_flow`); the official loop recomputes every pair for each window containing it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from ...errors import WeightsError
from ...weights.checkpoint import load_into, read_state_dict

__all__ = ["RaftConfig", "build_raft", "convert_original_raft", "load_raft", "raft_flow", "pairwise_flow"]


@dataclass(frozen=True)
class RaftConfig:
    num_flow_updates: int = 20  # video_features / UnAV-100 (torchvision's default is 12)
    batch_size: int = 24  # frame pairs per forward; the official loop uses one 24-pair stack


def build_raft(width_divisor: int = 1) -> nn.Module:
    """An uninitialised torchvision RAFT-large (no download: ``weights=None``).

    ``width_divisor`` N > 1 builds the same modules (same keys, same correlation pyramid, same
    update loop) with every channel width of raft_large divided by N: tests of the extractor's
    plumbing run it with seeded random weights at a small fraction of the cost (RAFT is most of a
    CPU extraction). 1 is the published network, the only size with public weights.
    """
    from torchvision.models.optical_flow import raft_large

    if width_divisor == 1:
        return raft_large(weights=None, progress=False)
    if width_divisor < 1:
        raise ValueError(f"width_divisor must be >= 1, got {width_divisor}")
    from torchvision.models.optical_flow.raft import (
        BatchNorm2d, CorrBlock, FeatureEncoder, FlowHead, InstanceNorm2d, MaskPredictor, MotionEncoder, RecurrentBlock,
        ResidualBlock, UpdateBlock)

    def w(n: int) -> int:
        return max(n // width_divisor, 4)  # the motion encoder needs out_channels > 2 (it appends the flow)

    # raft_large's widths (torchvision.models.optical_flow.raft_large), divided.
    encoder = tuple(w(n) for n in (64, 64, 96, 128, 256))
    hidden = w(128)
    corr = CorrBlock(num_levels=4, radius=4)
    motion = MotionEncoder(in_channels_corr=corr.out_channels, corr_layers=(w(256), w(192)), flow_layers=(w(128), w(64)),
                           out_channels=w(128))
    # The context encoder's output is split into the GRU's hidden state and its context input.
    recurrent = RecurrentBlock(input_size=motion.out_channels + encoder[-1] - hidden, hidden_size=hidden,
                               kernel_size=((1, 5), (5, 1)), padding=((0, 2), (2, 0)))
    return raft_large(
        weights=None, progress=False,
        feature_encoder=FeatureEncoder(block=ResidualBlock, layers=encoder, norm_layer=InstanceNorm2d),
        context_encoder=FeatureEncoder(block=ResidualBlock, layers=encoder, norm_layer=BatchNorm2d),
        corr_block=corr,
        update_block=UpdateBlock(motion_encoder=motion, recurrent_block=recurrent,
                                 flow_head=FlowHead(in_channels=hidden, hidden_size=w(256))),
        mask_predictor=MaskPredictor(in_channels=hidden, hidden_size=w(256), multiplier=0.25),
    )


# Renaming rules, original RAFT -> torchvision, applied in order to keys without "module.".
_ENCODER_RULES: list[tuple[str, str]] = [
    (r"^fnet\.", "feature_encoder."),
    (r"^cnet\.", "context_encoder."),
    (r"^(\w+_encoder)\.conv1\.", r"\1.convnormrelu.0."),
    (r"^(\w+_encoder)\.norm1\.", r"\1.convnormrelu.1."),
    (r"^(\w+_encoder)\.conv2\.", r"\1.conv."),
    (r"^(\w+_encoder\.layer\d\.\d)\.conv([12])\.", r"\1.convnormrelu\2.0."),
    (r"^(\w+_encoder\.layer\d\.\d)\.norm([12])\.", r"\1.convnormrelu\2.1."),
]
_UPDATE_RULES: list[tuple[str, str]] = [
    (r"^update_block\.encoder\.convc1\.", "update_block.motion_encoder.convcorr1.0."),
    (r"^update_block\.encoder\.convc2\.", "update_block.motion_encoder.convcorr2.0."),
    (r"^update_block\.encoder\.convf1\.", "update_block.motion_encoder.convflow1.0."),
    (r"^update_block\.encoder\.convf2\.", "update_block.motion_encoder.convflow2.0."),
    (r"^update_block\.encoder\.conv\.", "update_block.motion_encoder.conv.0."),
    (r"^update_block\.gru\.conv([zrq])([12])\.", r"update_block.recurrent_block.convgru\2.conv\1."),
    (r"^update_block\.mask\.0\.", "mask_predictor.convrelu.0."),
    (r"^update_block\.mask\.2\.", "mask_predictor.conv."),
]
# In the original, cnet.layerN.0.norm3 IS downsample.1 (one module, two names): skip the alias.
_ALIAS = re.compile(r"^cnet\.layer\d\.0\.norm3\.")


def original_key_to_torchvision(key: str) -> str | None:
    """Torchvision name of one original RAFT key (``module.`` already stripped), None for aliases."""
    if _ALIAS.match(key):
        return None
    for pattern, repl in _ENCODER_RULES + _UPDATE_RULES:
        key = re.sub(pattern, repl, key)
    return key


def convert_original_raft(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Original ``raft-sintel.pth`` state dict -> torchvision ``raft_large`` state dict.

    Like the official loader, only keys starting with ``module`` are kept (then stripped);
    a state dict without the DataParallel prefix is accepted as is.
    """
    if any(k.startswith("module") for k in state_dict):
        state_dict = {k[len("module."):]: v for k, v in state_dict.items() if k.startswith("module.")}
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new = original_key_to_torchvision(key)
        if new is not None:
            out[new] = value
    return out


def load_raft(weights: str | Path | Mapping[str, torch.Tensor], width_divisor: int = 1) -> nn.Module:
    """RAFT-large in eval mode from an original-layout checkpoint or a torchvision-layout one
    (e.g. our converted safetensors); ``width_divisor``: :func:`build_raft`'s test-size knob."""
    sd = read_state_dict(weights) if isinstance(weights, (str, Path)) else dict(weights)
    if not sd:
        raise WeightsError("RAFT weights are empty")
    if any(k.startswith(("module.", "fnet.", "cnet.")) for k in sd):
        sd = convert_original_raft(sd)
    return load_into(build_raft(width_divisor), sd, "RAFT-large")


def raft_flow(model: nn.Module, frame1: torch.Tensor, frame2: torch.Tensor, num_flow_updates: int = 20) -> torch.Tensor:
    """(N, 3, H, W) frames with values 0..255 (H, W multiples of 8) -> (N, 2, H, W) forward flow
    (x then y, pixels), the last of ``num_flow_updates`` refinements."""
    if frame1.shape[-2] % 8 or frame1.shape[-1] % 8:
        raise ValueError(f"RAFT needs sides that are multiples of 8, got {tuple(frame1.shape[-2:])}")
    # Same arithmetic as the original's internal normalisation: 2 * (x / 255) - 1.
    a = 2.0 * (frame1.to(torch.float32) / 255.0) - 1.0
    b = 2.0 * (frame2.to(torch.float32) / 255.0) - 1.0
    return model(a, b, num_flow_updates=num_flow_updates)[-1]


def pairwise_flow(model: nn.Module, frames: torch.Tensor, config: RaftConfig = RaftConfig()) -> torch.Tensor:
    """(T, 3, H, W) padded frames -> (T-1, 2, H, W) flows of pairs (j, j+1), each computed once,
    in batches of ``config.batch_size`` pairs."""
    flows = []
    for start in range(0, max(frames.shape[0] - 1, 0), config.batch_size):
        stop = min(start + config.batch_size, frames.shape[0] - 1)
        flows.append(raft_flow(model, frames[start:stop], frames[start + 1 : stop + 1], config.num_flow_updates))
    if not flows:
        return frames.new_zeros(0, 2, *frames.shape[-2:], dtype=torch.float32)
    return torch.cat(flows)
