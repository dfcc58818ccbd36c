"""Output file names per video that never collide.

Two videos with the same base name in different folders (``a/x.mp4``, ``b/x.mp4``) must not
overwrite each other's output: the second gets ``x-2``, the third ``x-3`` — the scheme the batch
report already uses for its pages. Names are compared as the final file names (stem plus each
extension written), not as stems: ``x.labels.mp4``'s ``table`` (``x.labels.txt``) would otherwise
overwrite ``x.mp4``'s Audacity track (also ``x.labels.txt``). Comparison ignores case, so the
names also stay apart on case-insensitive file systems.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ...media.inputs import video_stem


def unique_stems(videos: Iterable[str | Path], reserved: Iterable[str] = (),
                 extensions: Iterable[str] = ("",)) -> list[str]:
    """One stem per video, in order: the video's own stem (:func:`~avlocate.media.inputs.video_stem`:
    ``stdin`` for ``-``, a URL's file or host name), or ``<stem>-<k>`` when one of its file names
    ``<stem>.<extension>`` (one per extension) is taken. ``reserved``: file names already taken
    (``index.html``); with the default ``extensions`` the names are the stems themselves."""
    exts = list(extensions)
    used = {r.lower() for r in reserved}

    def names(stem: str) -> list[str]:
        return [f"{stem}.{ext}".lower() if ext else stem.lower() for ext in exts]

    stems: list[str] = []
    for video in videos:
        base = video_stem(str(video) if isinstance(video, Path) else video)
        stem, k = base, 1
        while any(n in used for n in names(stem)):
            k += 1
            stem = f"{base}-{k}"
        used.update(names(stem))
        stems.append(stem)
    return stems
