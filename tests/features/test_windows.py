"""Window / example counts at the edge lengths measured from the official loops
(reference/extraction/windows/window_tables.json). Every expected value comes from the file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from avlocate.features.i3d.windows import (
    num_flow_pairs,
    num_windows,
    unused_trailing_frames,
    window_frames,
    window_pair_index,
    window_timestamps_ms,
)
from avlocate.features.vggish.frontend import VGGishFrontendConfig, num_examples, num_logmel_frames, waveform_to_examples
from avlocate.features.vggish.resample import resample_kaiser, resampled_length

HOP032 = VGGishFrontendConfig(example_hop_s=0.32)
HOP096 = VGGishFrontendConfig(example_hop_s=0.96)


@pytest.fixture(scope="module")
def tables(reference_dir: Path) -> dict:
    return json.loads((reference_dir / "extraction" / "windows" / "window_tables.json").read_text())


def test_i3d_windows(tables: dict) -> None:
    rows = tables["i3d_stack24_step8"]
    assert len(rows) >= 20
    for row in rows:
        n = row["num_frames"]
        w = num_windows(n)
        assert w == row["num_windows"], n
        assert unused_trailing_frames(n) == row["unused_trailing_frames"], n
        if w:
            assert list(window_frames(0)) == row["first_window_stack_frames"]
            assert list(window_frames(w - 1)) == row["last_window_stack_frames"], n
            # every pair of the last window exists once; none beyond it
            assert num_flow_pairs(n) == row["last_window_stack_frames"][1]
        else:
            assert row["first_window_stack_frames"] is None and num_flow_pairs(n) == 0
        stamps = [t for t in row["timestamps_ms"] if t != "..."]
        assert window_timestamps_ms(w)[: len(stamps)].tolist() == stamps, n


def test_pair_index_covers_each_window() -> None:
    idx = window_pair_index(3)
    assert idx.shape == (3, 24)
    for k in range(3):
        first, last = window_frames(k)
        assert idx[k].tolist() == list(range(first, last))  # pairs (j, j+1) for j < last


def test_vggish_counts_16k(tables: dict) -> None:
    for row in tables["vggish_16k"]:
        n = row["num_samples_16k"]
        formula = row["num_logmel_frames_formula"]
        assert num_logmel_frames(n) == max(formula, 0), n
        for cfg, key in ((HOP096, "hop0.96"), (HOP032, "hop0.32")):
            want = row[f"num_examples_{key}"]
            if want is None:
                # The official code crashes here ("negative dimensions"); we return no example.
                assert row[f"error_{key}"].startswith("ValueError")
                want = 0
            assert num_examples(n, cfg) == want, (n, key)
    # the count function agrees with the examples actually produced, around the edges
    for n in (15599, 15600, 20719, 20720):
        assert waveform_to_examples(torch.zeros(n), HOP032).shape[0] == num_examples(n, HOP032)


def test_vggish_counts_other_rates(tables: dict) -> None:
    for row in tables["vggish_other_rates_hop0.32"]:
        sr, n = row["sample_rate"], row["num_samples"]
        for key in ("resampled_len_16k(resampy>=0.3)", "resampled_len_16k(resampy0.2.2)"):
            assert resampled_length(n, sr) == row[key], (sr, n)
        want = row["num_examples_hop0.32"] if row["error"] is None else 0
        assert num_examples(resampled_length(n, sr), HOP032) == want, (sr, n)
    # the resampler itself produces that many samples (short inputs only, to stay fast)
    for row in tables["vggish_other_rates_hop0.32"]:
        if row["num_samples"] <= 50000:
            out = resample_kaiser(torch.zeros(row["num_samples"]), row["sample_rate"], 16000)
            assert out.shape[0] == row["resampled_len_16k(resampy>=0.3)"]


def test_unav_streams_agree(tables: dict) -> None:
    for row in tables["unav_duration_table_25fps_16k"]:
        assert num_windows(row["frames_at_25fps"]) == row["i3d_windows"], row
        assert num_examples(row["samples_16k"], HOP032) == row["vggish_examples_hop0.32"], row
