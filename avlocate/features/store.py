"""The feature store: features written in the layouts the official training code reads, and read
back (by ``run --features`` and the dataset readers).

Layouts (one video = one id = the file's stem):

* ``unav100`` (i3d-vggish): ``<id>_rgb.npy`` = visual[:, :1024], ``<id>_flow.npy`` =
  visual[:, 1024:], ``<id>_vggish.npy``; T x C float32, as the UnAV-100 loaders read them.
* ``onepeace`` (one-peace plugin): ``<id>_one_peace_video_finetune.npy``, ``<id>_one_peace_audio.npy``.
* ``ave`` (vgg19-vggish, clip-clap): per clip ``<id>_visual.npy`` / ``<id>_audio.npy`` (all its
  segments, reusable by ``run``), then once per folder the AVE ``.h5`` files of
  :mod:`avlocate.datasets.ave` (10 x 1-s segments per clip, one row per line of
  ``Annotations.txt`` when the folder has one, else per line of ``order.txt`` which we write).
* ``generic`` (any other extractor): ``<id>_visual.npy`` (T x Dv, maps flattened), ``<id>_audio.npy``.

Every video also gets a sidecar ``<id>.json`` (Timeline, extractor name + config + protocol,
warnings, provenance). The sidecar is written last, so its presence means "complete": resume
skips those ids, and a crash leaves at most an orphan array, never a half file (every file is
written to a temporary name in the same folder and renamed into place, which also keeps
parallel jobs writing into one folder from clobbering each other's partial output).
Extracting one video, a folder with resume, and the AVE .h5 assembly: :mod:`avlocate.extraction`.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable

import numpy as np
import torch

from ..errors import InputNotFoundError, ModelError, UsageError
from .base import Extractor, Features
from ..timeline import Timeline

SIDECAR_FORMAT = "avlocate-features/1"
LAYOUT_NAMES = ("unav100", "onepeace", "ave", "generic")
GENERIC_SUFFIXES = {"visual": "_visual.npy", "audio": "_audio.npy"}
AVE_SEGMENTS = 10  # AVE clips are 10 s: ten 1-s segments per row of the .h5 files
FAILURES_FILE = "failures.jsonl"


# -- layouts -------------------------------------------------------------------------------------
def _unav_format(layout: str) -> dict[str, Any]:
    from ..datasets.unav import FEATURE_FORMATS  # the reader's own table: writer and reader cannot drift

    return FEATURE_FORMATS["i3d_vggish" if layout == "unav100" else "onepeace"]


def auto_layout(extractor: Extractor) -> str:
    from ..datasets.ave import LAYOUTS as AVE_LAYOUTS

    if extractor.name == "i3d-vggish":
        return "unav100"
    if extractor.name == "one-peace":
        return "onepeace"
    if extractor.name in AVE_LAYOUTS:
        return "ave"
    return "generic"


def resolve_layout(extractor: Extractor, layout: str = "auto") -> str:
    """The layout to write, checked against the extractor *before* any video is decoded."""
    if layout == "auto":
        layout = auto_layout(extractor)
    if layout not in LAYOUT_NAMES:
        raise UsageError(f"unknown layout {layout!r}; choose from auto, {', '.join(LAYOUT_NAMES)}")
    tl, dims = extractor.timeline, (extractor.visual_dim, extractor.audio_dim)
    if layout in ("unav100", "onepeace"):
        fmt = _unav_format(layout)
        want: Timeline = fmt["timeline"]
        if dims != tuple(fmt["dims"]) or (tl.fps, tl.window, tl.stride) != (want.fps, want.window, want.stride):
            # The official loaders convert indices to seconds with these fixed numbers: other
            # features under these names would be silently misplaced in time.
            raise UsageError(
                f"layout {layout} holds {fmt['extractor']} features ({dims_text(fmt['dims'])} at {want.fps:g} fps, "
                f"window {want.window}, stride {want.stride}); extractor {extractor.name!r} gives {dims_text(dims)} "
                f"at {tl.fps:g} fps, window {tl.window}, stride {tl.stride}: use --layout generic")
    if layout == "ave":
        from ..datasets.ave import LAYOUTS as AVE_LAYOUTS

        if extractor.name not in AVE_LAYOUTS or abs(tl.step_seconds - 1.0) > 1e-9:
            raise UsageError(f"layout ave holds 1-s segments of {' or '.join(AVE_LAYOUTS)}; extractor "
                             f"{extractor.name!r} gives {tl.step_seconds:g}-s steps: use --layout generic")
    return layout


def dims_text(dims: Iterable[int]) -> str:
    return " + ".join(str(d) for d in dims)


def layout_files(layout: str, video_id: str) -> list[str]:
    """Names of the array files of one video in ``layout`` (sidecar excluded)."""
    if layout in ("unav100", "onepeace"):
        fmt = _unav_format(layout)
        return [video_id + s for s in (*fmt["visual"], *fmt["audio"])]
    return [video_id + s for s in GENERIC_SUFFIXES.values()]


def _arrays(features: Features, layout: str) -> list[np.ndarray]:
    visual = features.visual.detach().float().cpu().reshape(features.num_snippets, -1).numpy()
    audio = features.audio.detach().float().cpu().numpy()
    if layout == "unav100":
        # The official files keep the two I3D streams apart: rgb = the first 1024 dims, flow the rest.
        half = visual.shape[1] // 2
        return [visual[:, :half], visual[:, half:], audio]
    return [visual, audio]


# -- atomic files -------------------------------------------------------------------------------
def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` via a temporary file in the same folder + rename: all or nothing."""
    tmp = _tmp_name(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda f: np.save(f, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False))


def _save_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


# -- sidecar + provenance -------------------------------------------------------------------------
_HASHES: dict[tuple[str, int, int], str] = {}


def _file_id(path: Path) -> str:
    from ..weights.store import sha256_of

    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:  # hashed once per process, not once per video
        _HASHES[key] = sha256_of(path)
    return f"{path.name}@{_HASHES[key][:12]}"


def weights_provenance(extractor: Extractor) -> dict[str, str] | str:
    """Which weights made the features, where the extractor tells: ``{kind: file@sha256[:12]}``."""
    own = getattr(extractor, "provenance", None)
    if callable(own):
        try:
            return dict(own())
        except Exception:  # provenance must never fail an extraction
            return "unknown"
    files = getattr(sys.modules.get(type(extractor).__module__), "WEIGHT_FILES", None)
    if not isinstance(files, dict):
        return {} if type(extractor).__module__.startswith("avlocate.") else "unknown"
    from ..weights.store import find_file

    out = {}
    for kind, name in files.items():
        path = find_file(name)
        out[kind] = _file_id(path) if path is not None else "missing"
    return out


def _config_dict(extractor: Extractor) -> dict[str, Any]:
    cfg = getattr(extractor, "config", None)
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    return {}


def sidecar_path(out_dir: Path, video_id: str) -> Path:
    return Path(out_dir) / f"{video_id}.json"


def write_features(features: Features, out_dir: str | Path, video_id: str, extractor: Extractor,
                   layout: str = "auto", video: str | Path | None = None) -> dict[str, Any]:
    """Write one video's features in ``layout`` plus its sidecar; returns the sidecar."""
    from .. import __version__

    layout = resolve_layout(extractor, layout)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    side = sidecar_path(out, video_id)
    side.unlink(missing_ok=True)  # overwriting: the old sidecar must not vouch for new half-written arrays
    names = layout_files(layout, video_id)
    for name, array in zip(names, _arrays(features, layout)):
        _save_npy(out / name, array)
    tl = features.timeline
    sidecar = {
        "format": SIDECAR_FORMAT,
        "video_id": video_id,
        "video": str(video) if video is not None else None,
        "layout": layout,
        "files": names,
        "num_snippets": features.num_snippets,
        "visual_dim": int(features.visual[0].numel()) if features.num_snippets else extractor.visual_dim,
        "audio_dim": int(features.audio.shape[1]) if features.audio.dim() == 2 else extractor.audio_dim,
        "visual_shape": list(features.visual_shape) if features.visual_shape else None,
        "timeline": {"fps": tl.fps, "window": tl.window, "stride": tl.stride, "duration": tl.duration},
        "extractor": {"name": extractor.name, "config": _config_dict(extractor), "protocol": extractor.protocol()},
        "warnings": dict(features.warnings),
        "provenance": {"avlocate": __version__, "weights": weights_provenance(extractor),
                       "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
    }
    _save_json(side, sidecar)  # last: its presence marks the video complete
    return sidecar


#: most snippets a sidecar may announce (a 24-hour video at the densest extractor's 0.25-s steps is 345,600).
MAX_SNIPPETS = 10_000_000
#: widest feature row (the widest extractor gives 2048 + 128 values; VSCG's pool5 map 512 x 49).
MAX_FEATURE_WIDTH = 1 << 20


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_number(value: Any, low: float, high: float = float("inf")) -> bool:
    import math

    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and low <= value <= high)


def sidecar_problem(data: Any) -> str | None:
    """None when ``data`` is a well-formed sidecar (every field :func:`load_features` reads has its
    type and range), else the first bad field, named, in a phrase."""
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        return f"not an avlocate feature sidecar (format {SIDECAR_FORMAT!r} expected)"
    if data.get("layout") not in LAYOUT_NAMES:
        return f"'layout' must be one of {', '.join(LAYOUT_NAMES)}, not {data.get('layout')!r}"
    if not _is_int(data.get("num_snippets"), 0, MAX_SNIPPETS):
        return f"'num_snippets' must be a whole number from 0 to {MAX_SNIPPETS}, not {data.get('num_snippets')!r}"
    for key in ("visual_dim", "audio_dim"):
        if not _is_int(data.get(key), 1, MAX_FEATURE_WIDTH):
            return f"{key!r} must be a whole number from 1 to {MAX_FEATURE_WIDTH}, not {data.get(key)!r}"
    shape = data.get("visual_shape")
    if shape is not None:
        if not (isinstance(shape, list) and shape and all(_is_int(d, 1, MAX_FEATURE_WIDTH) for d in shape)):
            return f"'visual_shape' must be null or a list of positive whole numbers, not {shape!r}"
        if int(np.prod(shape)) != data["visual_dim"]:
            return f"'visual_shape' {shape} does not hold 'visual_dim' {data['visual_dim']} values"
    tl = data.get("timeline")
    if not isinstance(tl, dict):
        return "'timeline' must be an object with fps, window, stride, duration"
    if not _is_number(tl.get("fps"), 1e-6, 1e6):
        return f"'timeline.fps' must be a positive number, not {tl.get('fps')!r}"
    for key in ("window", "stride"):
        if not _is_int(tl.get(key), 1, 1 << 20):
            return f"'timeline.{key}' must be a positive whole number, not {tl.get(key)!r}"
    if tl.get("duration") is not None and not _is_number(tl.get("duration"), 0.0):
        return f"'timeline.duration' must be null or a number >= 0, not {tl.get('duration')!r}"
    ext = data.get("extractor")
    if not isinstance(ext, dict) or not isinstance(ext.get("name"), str) or not isinstance(ext.get("protocol"), dict):
        return "'extractor' must be an object with a 'name' string and a 'protocol' object"
    if not isinstance(ext.get("config", {}), dict):
        return "'extractor.config' must be an object"
    for key in ("visual_dim", "audio_dim"):  # the protocol is what a model is matched on: it must tell the truth
        if key in ext["protocol"] and ext["protocol"][key] != data[key]:
            return f"'extractor.protocol.{key}' {ext['protocol'][key]!r} differs from {key!r} {data[key]}"
    warnings = data.get("warnings")
    if warnings is not None and not (isinstance(warnings, dict) and all(isinstance(v, str) for v in warnings.values())):
        return "'warnings' must be an object of strings"
    return None


def read_sidecar(out_dir: str | Path, video_id: str) -> dict[str, Any]:
    from ..datasets.unav import DatasetError
    from ..weights.card import read_json_bounded

    path = sidecar_path(Path(out_dir), video_id)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: no extracted features for {video_id!r}; run `avlocate extract` first")
    data = read_json_bounded(path, "feature sidecar", DatasetError)
    problem = sidecar_problem(data)
    if problem is not None:
        raise DatasetError(f"{path}: {problem}")
    return data


def _check_array_file(path: Path, side: dict[str, Any], width: int | None) -> None:
    """The header of the .npy at ``path`` (read before its data) fits the sidecar: rank 2, a real
    number type, the sidecar's snippet count (at least: the UnAV reader cuts to the shorter stream)
    and, when known, its row width. A lying file must not make us allocate what it announces."""
    from ..datasets.unav import DatasetError

    if not path.is_file():
        raise DatasetError(f"feature file {path} is missing")
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
    except (ValueError, OSError, SyntaxError) as exc:
        raise DatasetError(f"feature file {path} is not a .npy array ({str(exc).splitlines()[0]})") from None
    if len(shape) != 2 or dtype.kind not in "fiu":
        raise DatasetError(f"feature file {path} holds a {len(shape)}-D {dtype} array; a 2-D array of numbers "
                           f"(snippets x values) is expected; re-extract it with --overwrite")
    if shape[0] < side["num_snippets"] or shape[0] > max(side["num_snippets"], 1) * 2 + 16:
        raise DatasetError(f"feature file {path} has {shape[0]} rows but the sidecar says {side['num_snippets']} "
                           "snippets; re-extract it with --overwrite")
    if shape[0] * shape[1] * dtype.itemsize > path.stat().st_size:
        raise DatasetError(f"feature file {path} announces {shape[0]} x {shape[1]} values but is too short for them")
    if width is not None and shape[1] != width:
        raise DatasetError(f"feature file {path} rows have {shape[1]} values but the sidecar says {width}; "
                           "re-extract it with --overwrite")


def load_features(out_dir: str | Path, video_id: str) -> Features:
    """The features of ``video_id`` as written by :func:`write_features` (for reuse by ``run``)."""
    from ..datasets.unav import DatasetError
    from ..datasets.unav import load_features as read_unav

    out = Path(out_dir)
    side = read_sidecar(out, video_id)
    layout = side.get("layout")
    names = layout_files(layout, video_id)
    widths = [None] * (len(names) - 1) if len(names) > 2 else [side["visual_dim"]]
    for name, width in zip(names, [*widths, side["audio_dim"]]):
        _check_array_file(out / name, side, width)
    if layout in ("unav100", "onepeace"):
        # Read back through the dataset reader, so what we reuse is exactly what training reads.
        visual, audio = read_unav(out, video_id, "i3d_vggish" if layout == "unav100" else "onepeace")
    elif layout in ("ave", "generic"):
        arrays = []
        for suffix in GENERIC_SUFFIXES.values():
            path = out / f"{video_id}{suffix}"
            if not path.is_file():
                raise DatasetError(f"feature file {path} is missing")
            arrays.append(torch.from_numpy(np.load(path, allow_pickle=False).astype(np.float32)))
        visual, audio = arrays
    else:
        raise DatasetError(f"{sidecar_path(out, video_id)}: unknown layout {layout!r}")
    if visual.shape[0] != side["num_snippets"] or audio.shape[0] != side["num_snippets"]:
        raise DatasetError(f"{out}: {video_id} has {visual.shape[0]}/{audio.shape[0]} snippets on disk but the "
                           f"sidecar says {side['num_snippets']}; re-extract it with --overwrite")
    if visual.shape[1] != side["visual_dim"] or audio.shape[1] != side["audio_dim"]:
        raise DatasetError(f"{out}: {video_id} has {visual.shape[1]} visual / {audio.shape[1]} audio values per "
                           f"snippet on disk but the sidecar says {side['visual_dim']} / {side['audio_dim']}; "
                           "re-extract it with --overwrite")
    tl = side["timeline"]
    shape = tuple(side["visual_shape"]) if side.get("visual_shape") else None
    return Features(visual, audio, Timeline(float(tl["fps"]), int(tl["window"]), int(tl["stride"]), tl.get("duration")),
                    side["extractor"]["name"], dict(side.get("warnings") or {}), shape)


def features_from_dir(features_dir: str | Path, video: str | Path, model: Any) -> Features | None:
    """``run --features DIR``: the stored features of ``video`` (by stem) when they fit ``model``.

    ``None`` when DIR has no sidecar for the video (the caller then decodes as usual); a
    :class:`ModelError` when it has one made with another feature protocol than the model's card
    (silently recomputing would hide that the folder does not hold what the user thinks).
    """
    from ..media.inputs import video_stem

    stem = video_stem(video)
    if not sidecar_path(Path(features_dir), stem).is_file():
        return None
    side = read_sidecar(features_dir, stem)
    have = side["extractor"]["protocol"]
    want = dict(model.card.feature_protocol or model.extractor.protocol())
    bad = [k for k in want if k in have and have[k] != want[k]]
    if bad:
        detail = ", ".join(f"{k}: features {have[k]} vs model {want[k]}" for k in bad)
        raise ModelError(f"{features_dir}: features of {stem!r} do not fit model {model.card.name!r} ({detail}); "
                         "extract them with the model's extractor or drop --features")
    features = load_features(features_dir, stem)
    mine = _config_dict(model.extractor)
    differ = sorted(k for k, v in side["extractor"].get("config", {}).items() if k in mine and mine[k] != v)
    if differ:
        features.warnings["features"] = f"read from {features_dir}, made with other extractor settings ({', '.join(differ)})"
    return features
