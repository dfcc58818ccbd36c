"""Finding, verifying and loading weights — offline first, never executing code.

Search path for a weights file or model card, first hit wins:
1. ``$AVLOCATE_WEIGHTS`` (a folder), 2. the package's ``assets/weights/`` (the bundled demo models
and the manifest; read-only, shipped in the wheel and the sdist), 3. the user cache
``$AVLOCATE_HOME`` (default: the platform's cache folder, e.g. ``~/.cache/avlocate``), where
everything avlocate writes goes — never inside the installed package. Files are safetensors, so
loading cannot run code; sha256 is checked when the card pins one.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import OutputError, WeightsError
from .card import ModelCard

if TYPE_CHECKING:  # torch only in annotations: reading cards and checking files stays torch-free
    import torch

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_DIR = PACKAGE_ROOT / "assets" / "weights"


def _platform_cache() -> Path:
    """The platform's per-user cache folder (XDG on Linux, Library/Caches on macOS, LOCALAPPDATA on Windows)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "avlocate"


def cache_dir() -> Path:
    """Where avlocate writes (downloads, imports, pins): ``$AVLOCATE_HOME``, else the platform cache."""
    home = os.environ.get("AVLOCATE_HOME")
    return Path(home).expanduser() if home else _platform_cache()


def writable_dir(path: Path, what: str | None = None) -> Path:
    """``path`` when avlocate can write into it (or create it); else one :class:`OutputError`
    line saying why (a file in the way, no permission, a read-only file system). ``what`` names
    the setting the folder comes from (default: ``$AVLOCATE_HOME`` when it is the cache)."""
    path = Path(path)
    if what is None:
        what = "AVLOCATE_HOME" if os.environ.get("AVLOCATE_HOME") and path == cache_dir() else "folder"
    # Checked without creating anything: a command that then fails (an unreachable host) leaves
    # no folder behind. The nearest existing folder on the way must be a writable folder.
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{what} {path} is not a folder (a file is in the way); point it at a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "is not writable" if existing == path else f"cannot be created ({existing} is not writable)"
        raise OutputError(f"{what} {path} {reason}; point it at a writable folder")
    return path


def search_path() -> list[Path]:
    dirs = []
    if os.environ.get("AVLOCATE_WEIGHTS"):
        dirs.append(Path(os.environ["AVLOCATE_WEIGHTS"]).expanduser())
    dirs += [BUNDLED_DIR, cache_dir()]
    return dirs


def find_file(name: str) -> Path | None:
    for d in search_path():
        p = d / name
        if p.is_file():
            return p
    return None


def sha256_of(path: Path) -> str:
    """The one sha256 of a file (streamed) in avlocate."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest_path() -> Path:
    """The manifest of known weights: ``$AVLOCATE_MANIFEST`` (e.g. a mirror's), else the bundled one."""
    return Path(os.environ.get("AVLOCATE_MANIFEST", BUNDLED_DIR / "manifest.json"))


def read_manifest() -> dict:
    """The one reader of the manifest (models and files), as JSON."""
    path = manifest_path()
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"weights manifest {path} is not readable JSON ({exc})") from None


def manifest() -> dict[str, dict]:
    """Known models (bundled or downloadable), from :func:`read_manifest`."""
    return read_manifest().get("models", {})


def load_card(model: str) -> ModelCard:
    """The card of ``model``: a path to a JSON card, or a name looked up as ``<name>.json``."""
    as_path = Path(model)
    if as_path.suffix == ".json" and as_path.is_file():
        return ModelCard.load(as_path)
    found = find_file(f"{model}.json")
    if found is not None:
        return ModelCard.load(found)
    known = manifest().get(model)
    if known is not None:
        if known.get("sources") or known.get("source"):
            how = (f"`avlocate weights pull {model}` fetches it where the network is allowed (not with --offline, "
                   f"AVLOCATE_OFFLINE or HF_HUB_OFFLINE), or convert a copy by hand with "
                   f"`avlocate weights import FILE --from {known.get('import', 'SOURCE')} --name {model}`")
        else:
            how = (f"put {model}.json and its weights in {cache_dir()} or import an official checkpoint with "
                   "`avlocate weights import`")
        raise WeightsError(
            f"model {model!r} is known but its weights are not installed "
            f"({known.get('note', 'no download source is available offline')}); {how}"
        )
    if model in _HEAD_VARIANTS:  # named in the README as variants: say how to get such a model
        raise WeightsError(f"{model!r} is a head variant, not a model: train one with `avlocate train-segment "
                           f"--head {model} --data DIR --out DIR --name NAME`, then run it with -m NAME")
    raise WeightsError(f"no model named {model!r}; `avlocate models` lists what is installed")


#: segment-head variants that have no published weights (trained with `avlocate train-segment`).
_HEAD_VARIANTS = ("vscg-weakly", "avsgn-weakly")


def weights_path(card: ModelCard, card_dir_hint: Path | None = None) -> tuple[Path, str]:
    """The weights file of ``card``, checked against the card's sha256, and its id
    (``file@sha256[:12]``); nothing is loaded (so a batch can check a model without torch)."""
    card_dir_hint = card_dir_hint or getattr(card, "source_dir", None)
    # The file beside the card wins: a card given by path (e.g. from `train-demo --out DIR`) names
    # *its* weights, and a bundled file of the same name must not be loaded in their place.
    if card_dir_hint is not None and (card_dir_hint / card.weights_file).is_file():
        path: Path | None = card_dir_hint / card.weights_file
    else:
        path = find_file(card.weights_file)
    if path is None:
        raise WeightsError(
            f"weights file {card.weights_file} of model {card.name!r} not found in "
            f"{', '.join(str(d) for d in search_path())}; no download is possible offline — copy the file there"
        )
    digest = sha256_of(path)
    if card.sha256 and card.sha256 != digest:
        raise WeightsError(f"{path}: sha256 {digest[:12]}… does not match the model card ({card.sha256[:12]}…); the file is corrupt or not these weights")
    return path, f"{path.name}@{digest[:12]}"


def load_state_dict(card: ModelCard, card_dir_hint: Path | None = None) -> tuple[dict[str, torch.Tensor], str]:
    """Weights of ``card`` as a state dict, and the weights id (``file@sha256[:12]``)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path, weights_id = weights_path(card, card_dir_hint)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path}: not a valid safetensors file ({str(exc).splitlines()[0]})") from None
    return state, weights_id


def save_weights(state: dict[str, torch.Tensor], card: ModelCard, out_dir: Path) -> Path:
    """Write ``<weights_file>`` (safetensors) and ``<name>.json`` with the sha256 pinned."""
    from safetensors.torch import save_file

    writable_dir(out_dir).mkdir(parents=True, exist_ok=True)
    wpath = out_dir / card.weights_file
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(wpath))
        card.sha256 = sha256_of(wpath)
        card.save(out_dir / f"{card.name}.json")
    except OSError as exc:
        raise OutputError(f"cannot write model {card.name!r} into {out_dir} ({exc.strerror or exc})") from None
    # safetensors creates its file 0600; give the weights the same permissions as their card
    # (the user's umask), so a shared weights folder is readable like the card beside it.
    os.chmod(wpath, (out_dir / f"{card.name}.json").stat().st_mode & 0o777)
    return wpath
