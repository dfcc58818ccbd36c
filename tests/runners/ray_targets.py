"""Per-video functions for the Ray engine tests, imported by the Ray actors by name.

The test module puts this folder on the PYTHONPATH of the local Ray instance it starts, so the
actors (separate processes) can import ``ray_targets:crash_on_name``.
"""
from __future__ import annotations

import os

from avlocate.runners.batch import _run_one


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


def decoded_where(video: str, options: dict) -> dict:
    """Decode the video as the default model asks (no model run) and say which process decoded it."""
    from avlocate.errors import AvlocateError
    from avlocate.features.base import media_request_for
    from avlocate.media import open_clip
    from avlocate.pipeline.models import load_model

    loaded = load_model(options.get("model"), options.get("device", "cpu"))
    frames, samples = 0, 0
    try:
        vspec, aspec = media_request_for(loaded.extractor, video)
        clip = open_clip(video, vspec, aspec)
        for chunk in clip.chunks():
            frames += int(chunk.frames.shape[0])
            samples += int(chunk.audio.shape[0])
    except AvlocateError as exc:
        return {"video": video, "error": str(exc), "error_code": exc.exit_code}
    return {"video": video, "events": [], "pid": os.getpid(), "decoder_pid": clip.stats.decoder_pid,
            "frames": frames, "samples": samples, "warnings": dict(clip.warnings)}
