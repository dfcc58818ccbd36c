"""Run under the reference's arithmetic (see the ``reference_arithmetic`` fixture in conftest.py):
``python reference_arithmetic_probe.py raft-pair|official-loop REFERENCE_DIR`` prints one JSON
line of differences to the official code's numbers. A script, not a test module: the kernel
selection (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``) has to be fixed before torch starts.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from avlocate.features.flow.raft import load_raft, raft_flow
from avlocate.features.i3d.preprocess import crop_origin, quantize_flow, resize_short_side
from avlocate.features.i3d.two_stream import I3DStream
from avlocate.features.i3d.weights import load_i3d


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    with np.load(path) as d:
        return {k: torch.from_numpy(d[k]).float() if d[k].dtype.kind == "f" else torch.from_numpy(d[k]) for k in d.files}


def _max_abs(a: torch.Tensor, b: np.ndarray) -> float:
    return float((a.double() - torch.from_numpy(b).double()).abs().max())


def raft_pair(ext: Path) -> dict[str, float]:
    model = load_raft(_state_dict(ext / "raft" / "raft_random_weights_f16.npz"))
    with np.load(ext / "raft" / "inputs.npz") as d:
        a, b = (torch.from_numpy(d[f"frame{i}_padded_uint8_CHW"])[None] for i in (1, 2))
    with np.load(ext / "raft" / "results.npz") as d:
        want = d["flow_up_iter20"]
    with torch.inference_mode():
        flow = raft_flow(model, a, b)
    return {"raft_max_abs_px": _max_abs(flow, want)}


class _Recording(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner, self.outputs = inner, []

    def forward(self, a: torch.Tensor, b: torch.Tensor, num_flow_updates: int = 12) -> list[torch.Tensor]:
        out = self.inner(a, b, num_flow_updates=num_flow_updates)
        self.outputs.append(out[-1].clone())
        return out


def official_loop(ext: Path) -> dict[str, float]:
    with np.load(ext / "i3d" / "clip_raw_33x360x480_uint8.npz") as d:
        raw = d["frames_rgb_uint8_THWC"]
    with np.load(ext / "i3d" / "e2e_official_loop_results.npz") as d:
        ref = {k: d[k] for k in d.files}
    raft = _Recording(load_raft(_state_dict(ext / "raft" / "raft_random_weights_f16.npz")))
    stream = I3DStream(
        rgb_model=load_i3d(_state_dict(ext / "i3d" / "i3d_rgb_random_weights_f16.npz"), "rgb"),
        flow_model=load_i3d(_state_dict(ext / "i3d" / "i3d_flow_random_weights_f16.npz"), "flow"),
        raft=raft,
    )
    rgb, flow = stream.push(torch.stack([resize_short_side(f) for f in raw]))
    window0 = torch.cat(raft.outputs)[:24]
    top, left = crop_origin(window0.shape[-2], window0.shape[-1])
    q = quantize_flow(window0[..., top : top + 224, left : left + 224])
    ref_q = torch.from_numpy(ref["window0_flow_quantized_0_256_cropped_int16"]).float()
    return {
        "windows": int(rgb.shape[0]),
        "rgb_max_abs": _max_abs(rgb, ref["rgb"]),
        "flow_max_abs": _max_abs(flow, ref["flow"]),
        "raft_pair0_max_abs_px": _max_abs(window0[0], ref["window0_raft_flow_pair0_padded"]),
        "quantised_flow_steps": int((q != ref_q).sum()),
    }


if __name__ == "__main__":
    torch.set_num_threads(2)  # the reference's thread count (1 thread differs by ~1e-4 px)
    mode, folder = sys.argv[1], Path(sys.argv[2]) / "extraction"
    print(json.dumps({"raft-pair": raft_pair, "official-loop": official_loop}[mode](folder)))
