"""The AVE ``.h5`` files of a folder of per-clip features (the ``ave`` layout of ``avlocate extract``).

AVE's loaders read one array per stream, row n = line n of ``Annotations.txt``, 10 one-second
segments per row (:mod:`avlocate.datasets.ave`). Extraction is per clip (resumable), so the
.h5 files are assembled afterwards from the per-clip arrays, in the order of the folder's
``Annotations.txt`` when there is one (a video listed twice gets its features twice, as in AVE),
else in sorted id order written to ``order.txt`` (one id per line = the row order), so that an
Annotations.txt can be built to match.

A clip with other than 10 segments is fitted: extra segments are dropped, missing ones repeat
the last segment (a 9.9-s clip loses its 10th audio example to rounding); each fix is reported.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..datasets.ave import ANNOTATIONS, H5_KEY, LAYOUTS, _h5py, read_annotations
from ..datasets.unav import DatasetError
from ..features.store import AVE_SEGMENTS, SIDECAR_FORMAT, _tmp_name, load_features

ORDER_FILE = "order.txt"


def _fit(array: np.ndarray, n: int) -> np.ndarray:
    if array.shape[0] >= n:
        return array[:n]
    pad = np.repeat(array[-1:], n - array.shape[0], axis=0)
    return np.concatenate([array, pad], axis=0)


def _ids_in_folder(out: Path, extractor: str) -> list[str]:
    import json

    ids = []
    for side in sorted(out.glob("*.json")):
        try:
            data = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("format") == SIDECAR_FORMAT and data.get("layout") == "ave" \
                and data.get("extractor", {}).get("name") == extractor:
            ids.append(str(data["video_id"]))
    return ids


def assemble_ave(out_dir: str | Path, extractor: str, num_segments: int = AVE_SEGMENTS) -> list[str]:
    """Write ``LAYOUTS[extractor]``'s visual/audio .h5 files; returns notes for the user."""
    out = Path(out_dir)
    spec = LAYOUTS[extractor]
    notes: list[str] = []
    if (out / ANNOTATIONS).is_file():
        ids = [row.video_id for row in read_annotations(out / ANNOTATIONS)]
        present = set(_ids_in_folder(out, extractor))
        missing = sorted(set(ids) - present)
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise DatasetError(f"{ANNOTATIONS} lists clips without features: {', '.join(missing[:5])}{more}")
    else:
        ids = _ids_in_folder(out, extractor)
        (out / ORDER_FILE).write_text("".join(i + "\n" for i in ids), encoding="utf-8")
        notes.append(f"no {ANNOTATIONS} in {out}: .h5 rows follow {ORDER_FILE}")
    if not ids:
        return notes + ["no clips to assemble"]
    visual_rows, audio_rows, cache = [], [], {}
    for vid in ids:
        if vid not in cache:
            f = load_features(out, vid)
            if f.num_snippets == 0:
                raise DatasetError(f"{vid}: no segments (shorter than 1 s); remove it from {ANNOTATIONS}")
            if f.num_snippets != num_segments:
                notes.append(f"{vid}: {f.num_snippets} segments fitted to {num_segments}")
            cache[vid] = (_fit(f.visual_segments().numpy(), num_segments), _fit(f.audio.numpy(), num_segments))
        visual_rows.append(cache[vid][0])
        audio_rows.append(cache[vid][1])
    visual = np.stack(visual_rows).reshape(len(ids), num_segments, *spec["visual_shape"])
    audio = np.stack(audio_rows)
    h5py = _h5py()
    for stream, array in (("visual", visual), ("audio", audio)):
        final = out / spec[stream]
        tmp = _tmp_name(final)
        try:
            with h5py.File(tmp, "w") as f:
                f.create_dataset(H5_KEY, data=array.astype(np.float32))
            tmp.replace(final)  # atomic: a reader never sees a half-written .h5
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return notes
