"""Per-video functions for the Ray engine tests, imported by the Ray actors by name.

The test module puts this folder on the PYTHONPATH of the local Ray instance it starts, so the
actors (separate processes) can import ``ray_targets:crash_on_name``.
"""
from __future__ import annotations

import os

from avlocate.batch import _run_one


def crash_on_name(video: str, options: dict) -> dict:
    """Kill the whole actor process (as a segfaulting decoder would) for videos named crash*."""
    if os.path.basename(video).startswith("crash"):
        os._exit(11)
    return _run_one(video, options)


def where_it_ran(video: str, options: dict) -> dict:
    """A record saying which actor process and thread handled the video (no model involved)."""
    import threading
    import time

    time.sleep(0.2)  # long enough for the videos of one call to overlap
    return {"video": video, "events": [], "pid": os.getpid(), "thread": threading.current_thread().name}
