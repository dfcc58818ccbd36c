"""``--live``: OpenMP threads that sleep while they wait, instead of spinning.

GNU OpenMP (torch's CPU threads on Linux) lets a thread that finished its share of a parallel
region spin for a while before it sleeps (OMP_WAIT_POLICY unset). A file run keeps the threads
busy with large batched tensors; ``--live`` runs many small ones (one block of snippets, one head
call per 2-s hop) while it waits for the stream between them, so the spinning is most of what its
extra threads do. Measured with benchmarks/live_vs_file.py (CPU time, demo1 as an 18-s MPEG-TS, a
loaded 2-core machine): live used 2.6x the file run's CPU time with the default, 1.29x with
``OMP_WAIT_POLICY=PASSIVE``, the same events.

The policy is read once, when the OpenMP runtime loads with torch: it is set in the environment
before torch is imported, only for ``avlocate run --live`` (the CLI, never the library), and a
value the user set wins.
"""
from __future__ import annotations

import os
import sys


def passive_waits_for_live(argv: list[str] | None) -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` for ``run ... --live`` (True when set)."""
    args = sys.argv[1:] if argv is None else argv
    if "--live" not in args or "run" not in args or "OMP_WAIT_POLICY" in os.environ:
        return False
    if "torch" in sys.modules:  # too late: the runtime has read its environment already
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True
