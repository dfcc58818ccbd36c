"""Reading an official reference set (``<ref>/dense/<model>/small``) and comparing against it.

Used by the parity tests, and usable to check a converted checkpoint against numbers produced by
the official code. Everything (model config, test config, case names, lengths, video timing) is
read from the files, so the same checks run on any reference set with the same layout.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class ReferenceSet:
    path: Path  # e.g. <reference>/dense/unav/small

    @cached_property
    def full_config(self) -> dict[str, Any]:
        return json.loads((self.path / "config.json").read_text())["config"]

    @cached_property
    def meta(self) -> dict[str, Any]:
        return json.loads((self.path / "cases_meta.json").read_text())

    @cached_property
    def arrays(self) -> Any:
        return np.load(self.path / "cases.npz")

    @property
    def state_dict_path(self) -> Path:
        return self.path / "state_dict.pt"

    def has(self, name: str) -> bool:
        return name in self.arrays.files

    def cases_with_outputs(self) -> list[str]:
        """Cases whose official forward ran (batched inputs and level-0 logits are stored)."""
        return [c for c in self.meta["cases"] if self.has(f"{c}_batched_visual") and self.has(f"{c}_cls_logits_l0")]

    def cases_failed(self) -> list[str]:
        return [c for c in self.meta["cases"] if self.meta["cases"][c].get("official_forward") != "ok"]

    def videos(self, case: str) -> list[dict[str, Any]]:
        return self.meta["cases"][case]["run"]["videos"]

    def num_levels(self, case: str) -> int:
        return len(self.meta["cases"][case]["run"]["level_lengths"])

    def mixed_lengths(self, case: str) -> bool:
        """True for a batch whose videos differ in length (the official fusion-mask defect bites)."""
        lengths = {v["num_features"] for v in self.videos(case)}
        return len(lengths) > 1

    def test_cfg(self, case: str) -> dict[str, Any]:
        """The test config used; a case described as "non-default test config k=v, ..." overrides it."""
        cfg = dict(self.meta["test_cfg_used"])
        kind = self.meta["cases"][case].get("kind", "")
        if "non-default test config" in kind:
            for key, value in re.findall(r"(\w+)=([0-9.]+)", kind):
                if key in cfg:
                    cfg[key] = type(cfg[key])(float(value)) if isinstance(cfg[key], int) else float(value)
        return cfg

    def inputs(self, case: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = self.arrays
        return a[f"{case}_batched_visual"], a[f"{case}_batched_audio"], a[f"{case}_batched_mask"]


def match_detections(ref: tuple[np.ndarray, np.ndarray, np.ndarray], ours: tuple[np.ndarray, np.ndarray, np.ndarray],
                     seg_atol: float, score_atol: float, ordered: bool = True) -> list[str]:
    """Problems found matching two detection lists (segments (N,2), scores (N,), labels (N,)).

    Each reference entry must pair 1:1 with an entry of the same label whose score and segment
    agree within the tolerances. With ``ordered`` the sorted score sequences must also agree
    position by position, so entries may only swap places with others of near-equal score.
    """
    (rs, rp, rl), (os_, op, ol) = ref, ours
    problems: list[str] = []
    if len(rp) != len(op):
        return [f"{len(op)} entries instead of {len(rp)}"]
    if ordered:
        gap = np.abs(np.asarray(rp, np.float64) - np.asarray(op, np.float64))
        if len(gap) and gap.max() > score_atol:
            problems.append(f"score sequence differs by {gap.max():.3g} at position {int(gap.argmax())}")
    ok = ((rl[:, None] == ol[None, :])
          & (np.abs(rp[:, None] - op[None, :]) <= score_atol)
          & (np.abs(rs[:, None, :] - os_[None, :, :]).max(-1) <= seg_atol))
    used = np.zeros(len(op), bool)
    # the most constrained reference entries first, so a greedy match cannot block a later one
    for i in np.argsort(ok.sum(1), kind="stable"):
        free = np.nonzero(ok[i] & ~used)[0]
        if len(free) == 0:
            problems.append(f"reference entry {i} (label {rl[i]}, score {rp[i]:.6g}, seg {rs[i]}) has no match")
            continue
        used[free[0]] = True
    return problems
