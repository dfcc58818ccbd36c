"""Runners: ways to run many videos through the pipeline (layer 6 of the package).

* :mod:`.batch` - the local batch: a folder in, one JSON line per video out, resumable;
* :mod:`.in_flight` / :mod:`.coalesce` - several videos in flight in one process, their network
  forwards batched together;
* :mod:`.supervisor` / :mod:`.worker` - supervised worker processes with a per-video time limit
  (a hang or a native crash costs one error line, not the batch);
* :mod:`.jsonl` - the locked, crash-safe JSONL results file (no partial line, one writer at a time);
* :mod:`.ray` - the same batch on Ray Data actors (local instance or a cluster).

Runners look down only (pipeline, features, media, core types). Nothing below imports a runner:
a runner that needs its own decoding registers it with the media layer
(:func:`avlocate.media.prefetch.register_decode_mode`).
"""
from __future__ import annotations

#: the batch engines ``avlocate batch --engine`` accepts
ENGINES = ("local", "ray")
