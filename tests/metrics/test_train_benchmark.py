"""benchmarks/train_speed.py prints steps/s and the data-wait share; gpu_check.sh needs a GPU."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest
import torch


def test_train_speed_prints_steps_per_second_and_data_wait(repo_root, tmp_path, capsys) -> None:
    """The script's own main() in this process (as test_heads_benchmark.py runs heads.py): the
    same argument parsing, rows, table and JSON, without a fresh interpreter's imports."""
    spec = importlib.util.spec_from_file_location("bench_train_speed", repo_root / "benchmarks" / "train_speed.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out_json = tmp_path / "rows.json"
    threads = torch.get_num_threads()
    try:
        rows = bench.main(["--device", "cpu", "--heads", "unav", "--steps", "2", "--warmup-steps", "0", "--videos", "4",
                           "--batch-size", "2", "--threads", "1", "--json", str(out_json)])
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    line = re.search(r"^unav\s+small\s+fp32\s+2\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)%$", printed, re.M)
    assert line, printed
    row = json.loads(out_json.read_text())[0]
    assert rows[0]["steps"] == row["steps"]
    assert row["steps"] == 2 and row["steps_per_s"] > 0 and 0 <= row["data_wait_share"] <= 1
    assert float(line.group(1)) == pytest.approx(row["steps_per_s"], abs=0.01)


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU the script runs for up to 8 minutes")
def test_gpu_check_without_a_gpu_says_so_and_succeeds(repo_root, tmp_path) -> None:
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", str(tmp_path / "out")], cwd=repo_root,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHON=sys.executable))
    assert done.returncode == 0 and "no CUDA GPU" in done.stdout, done.stdout + done.stderr
