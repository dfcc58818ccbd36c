"""Red-team finding 18: `--live` used several times the CPU of a file run, most of it OpenMP
threads spinning between the many small tensors of a live run (avlocate/cli/omp_wait.py;
measured by benchmarks/live_vs_file.py). The wait policy must be set before torch loads."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, sys
from avlocate.cli.omp_wait import passive_waits_for_live
done = passive_waits_for_live(json.loads(sys.argv[1]))
print(json.dumps([done, os.environ.get("OMP_WAIT_POLICY"), "torch" in sys.modules]))
"""


def _probe(args: list[str], **env: str) -> list:
    environ = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    environ.update(env, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True,
                         env=environ, check=True).stdout
    return json.loads(out)


def test_redteam_live_runs_get_passive_openmp_waits_before_torch_loads():
    assert _probe(["run", "-", "--live"]) == [True, "PASSIVE", False]


def test_redteam_file_runs_and_the_users_policy_are_left_alone():
    assert _probe(["run", "a.mp4"]) == [False, None, False]
    assert _probe(["run", "-", "--live"], OMP_WAIT_POLICY="ACTIVE") == [False, "ACTIVE", False]


def test_redteam_the_cli_entry_point_loads_no_torch_before_setting_it():
    # main() sets the policy first thing; that only works while importing the CLI loads no torch.
    probe = "import sys, avlocate.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO))).stdout
    assert out.strip() == "False"
