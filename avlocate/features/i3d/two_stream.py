"""Streaming two-stream I3D over resized frames: rgb + RAFT flow features per 24-frame window.

Frames arrive in chunks of any size (a long video is never held at once). The stream keeps only
the frames and flows that a future window still needs (at most 25 frames and 24 flows), computes
the flow of each consecutive pair exactly once (the official loop recomputes each pair in the ~3
overlapping windows; results are identical because RAFT is per pair), and returns the features
of every window completed by the chunk. Windows follow :mod:`.windows` (window k: frames 8k..8k+24;
partial windows dropped). Features are float32 (the official extractor saves float64 copies of
the same float32 values).

Precision: ``compute_dtype`` (bfloat16/float16) runs the two I3D networks under autocast. RAFT, the
rgb/flow preprocessing and the flow quantisation always run in float32, also inside an outer
autocast region. The official features quantise the flow (``round_half_even(128 + 6.375 f)``,
steps of 0.157 px); bfloat16 keeps 8 mantissa bits, so a 10 px flow is off by up to 0.04 px, a
quarter of a step, and a bf16 RAFT would move many pixels to the neighbouring integer (a change
of a whole step) instead of adding small noise: the quantised flow must come from float32 RAFT.
(Measured with random-weight RAFT, 2 updates, flows up to 1.9 px: a bf16 RAFT changed 1.8% of
the quantised values; tests/features/test_extractor_device.py checks that bf16 changes none.)
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn

from ..flow.raft import RaftConfig, raft_flow
from .preprocess import flow_to_input, pad_for_raft, raft_padding, rgb_to_input
from .windows import I3DWindowConfig

__all__ = ["I3DStream"]


@dataclass
class I3DStream:
    rgb_model: nn.Module
    flow_model: nn.Module
    raft: nn.Module
    windows: I3DWindowConfig = I3DWindowConfig()
    raft_config: RaftConfig = RaftConfig()
    window_batch: int = 4  # windows per I3D forward
    compute_dtype: torch.dtype | None = None  # autocast dtype of the I3D networks; None: float32
    _frames: torch.Tensor | None = field(default=None, repr=False)  # padded float frames from _base
    _flows: torch.Tensor | None = field(default=None, repr=False)  # flows of pairs from _base
    _base: int = 0  # global index of _frames[0] and _flows[0]
    _next_window: int = 0
    _size: tuple[int, int] | None = None  # unpadded (h, w), fixed by the first chunk
    pairs_computed: int = 0  # for tests / logs: RAFT pairs run so far

    @torch.inference_mode()
    def push(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, 3, h, w) resized frames (values 0..255, same size for the whole video) ->
        (rgb (k, 1024), flow (k, 1024)) for the k windows completed by these frames.

        Memory grows with the chunk (its frames and flows are held until its windows are
        done): push a few dozen frames at a time, not a whole long video."""
        device = next(self.rgb_model.parameters()).device
        size = (int(frames.shape[-2]), int(frames.shape[-1]))
        if self._size is None:
            self._size = size
        elif size != self._size:
            raise ValueError(f"frame size changed from {self._size} to {size} within one video")
        padded = pad_for_raft(frames.to(device))
        self._frames = padded if self._frames is None else torch.cat([self._frames, padded])
        stack, step = self.windows.stack_size, self.windows.step
        last_frame = self._base + self._frames.shape[0] - 1
        ready = []
        while self._next_window * step + stack <= last_frame:
            ready.append(self._next_window)
            self._next_window += 1
        if not ready:
            return self._empty(device)
        with torch.autocast(device.type, enabled=False):  # RAFT in float32 (module docstring)
            self._compute_flows_until(ready[-1] * step + stack)
        rgb, flow = [], []
        for i in range(0, len(ready), self.window_batch):
            chunk = ready[i : i + self.window_batch]
            # Inputs are made (cropped, quantised, scaled) in float32 before autocast starts.
            rgb_in = torch.cat([self._rgb_input(k) for k in chunk])
            flow_in = torch.cat([self._flow_input(k) for k in chunk])
            with self._autocast(device):
                rgb.append(self.rgb_model(rgb_in).float())
                flow.append(self.flow_model(flow_in).float())
        self._drop_before(self._next_window * step)
        return torch.cat(rgb), torch.cat(flow)

    def _autocast(self, device: torch.device):  # noqa: ANN202
        if self.compute_dtype is None:
            return nullcontext()  # float32: exactly the arithmetic without autocast
        return torch.autocast(device.type, dtype=self.compute_dtype)

    def _rgb_input(self, k: int) -> torch.Tensor:
        start = k * self.windows.step - self._base
        pads = self._frames[start : start + self.windows.stack_size]  # type: ignore[index]
        # The rgb crop is taken from the UNpadded frame: strip RAFT's replicate padding again.
        h, w = self._size  # type: ignore[misc]
        left, _, top, _ = raft_padding(h, w)
        return rgb_to_input(pads[..., top : top + h, left : left + w])

    def _flow_input(self, k: int) -> torch.Tensor:
        start = k * self.windows.step - self._base
        return flow_to_input(self._flows[start : start + self.windows.stack_size])  # type: ignore[index]

    def _compute_flows_until(self, end_pair: int) -> None:
        """Make flows of pairs (j, j+1) available for all j < end_pair."""
        have = self._base + (0 if self._flows is None else self._flows.shape[0])
        new = []
        for start in range(have, end_pair, self.raft_config.batch_size):
            stop = min(start + self.raft_config.batch_size, end_pair)
            a = self._frames[start - self._base : stop - self._base]  # type: ignore[index]
            b = self._frames[start - self._base + 1 : stop - self._base + 1]  # type: ignore[index]
            new.append(raft_flow(self.raft, a, b, self.raft_config.num_flow_updates))
            self.pairs_computed += stop - start
        if new:
            added = torch.cat(new)
            self._flows = added if self._flows is None else torch.cat([self._flows, added])

    def _drop_before(self, index: int) -> None:
        cut = index - self._base
        self._frames = self._frames[cut:]  # type: ignore[index]
        self._flows = None if self._flows is None else self._flows[cut:]
        self._base = index

    def _empty(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(0, 1024, device=device), torch.zeros(0, 1024, device=device)
