"""Output file names per video that never collide.

Two videos with the same base name in different folders (``a/x.mp4``, ``b/x.mp4``) must not
overwrite each other's output: the second gets ``x-2``, the third ``x-3`` — the scheme the batch
report already uses for its pages. Comparison ignores case, so the names also stay apart on
case-insensitive file systems.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ...media.inputs import video_stem


def unique_stems(videos: Iterable[str | Path], reserved: Iterable[str] = ()) -> list[str]:
    """One stem per video, in order: the video's own stem (:func:`~avlocate.media.inputs.video_stem`:
    ``stdin`` for ``-``, a URL's file or host name), or ``<stem>-<k>`` when taken."""
    used = {r.lower() for r in reserved}
    stems: list[str] = []
    for video in videos:
        base = video_stem(str(video) if isinstance(video, Path) else video)
        stem, k = base, 1
        while stem.lower() in used:
            k += 1
            stem = f"{base}-{k}"
        used.add(stem.lower())
        stems.append(stem)
    return stems
