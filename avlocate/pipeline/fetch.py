"""``avlocate weights pull``: fetch an upstream file, verify it, convert it with the ``weights
import`` code (``torch.load(weights_only=True)``: no pickle code runs), install the safetensors
in avlocate's cache — and the same on a run's first use of an extractor whose weights are missing.

Where files go: hub files stay in the shared Hugging Face cache (``HF_HOME``); URL downloads go
to ``$AVLOCATE_HOME/downloads`` and are removed once converted (a copy already in torch.hub's
``$TORCH_HOME/hub/checkpoints`` under the same verified name is used in place); the converted
safetensors go to ``$AVLOCATE_HOME``.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

from ..errors import OfflineError, WeightsError
from ..weights.download import Check, Fetch, fetch_hub, fetch_url
from ..weights.manager import WeightEntry, entries, entry, expected_sha256, pin
from ..weights.store import cache_dir, find_file, sha256_of

# TRANSFORMERS_OFFLINE: huggingface_hub treats it as HF_HUB_OFFLINE.
OFFLINE_SWITCHES = ("AVLOCATE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def offline_switch() -> str | None:
    """The environment switch that forbids first-use downloads, if one is set."""
    for name in OFFLINE_SWITCHES:
        if _truthy(os.environ.get(name)):
            return name
    return None


def hub_parts(source: str) -> tuple[str, str]:
    """``hf://OWNER/REPO/FILE`` or ``hf://REPO/FILE`` (a legacy repo without owner) -> (repo, file)."""
    parts = source.removeprefix("hf://").split("/")
    if len(parts) < 2 or not all(parts):
        raise WeightsError(f"hub source {source!r} must be hf://REPO/FILE")
    if len(parts) == 2:
        return parts[0], parts[1]
    return "/".join(parts[:2]), "/".join(parts[2:])


def air_gapped_hint(e: WeightEntry) -> str:
    """The `weights import` way, for a machine that cannot reach the source."""
    if e.import_source:
        return (f"on a machine without access, download it elsewhere and run "
                f"`avlocate weights import FILE --from {e.import_source}`")
    return f"on a machine without access, download it elsewhere and copy it to {cache_dir() / e.file}"


def upstream_size(e: WeightEntry) -> str:
    return f"{e.size / 1e6:.1f} MB" if e.size else "size unknown"


def _torch_hub_copy(file_name: str, check: Check) -> Path | None:
    """A copy torch.hub already downloaded under the same name (its checkpoints folder), if it passes."""
    if check.kind not in ("sha256-prefix", "sha256", "git-blob-sha1"):
        return None
    try:
        import torch.hub

        candidate = Path(torch.hub.get_dir()) / "checkpoints" / file_name
    except Exception:  # noqa: BLE001 — no torch.hub folder is fine
        return None
    return candidate if candidate.is_file() and check.problem(candidate) is None else None


def _fetch_upstream(e: WeightEntry, timeout: float) -> tuple[Path, bool]:
    """(path of the verified upstream file, whether it is ours to delete after converting)."""
    assert e.url
    hint = air_gapped_hint(e)
    if e.url.startswith("hf://"):
        repo, filename = hub_parts(e.url)
        return fetch_hub(repo, filename, filename, hint, timeout), False
    check = Check.parse(e.check)
    file_name = e.url.rstrip("/").rsplit("/", 1)[-1]
    known = _torch_hub_copy(file_name, check)
    if known is not None:
        return known, False
    dest = cache_dir() / "downloads" / file_name
    return fetch_url(Fetch(e.url, dest, check, file_name, hint, connect_timeout=timeout)), True


def _install(e: WeightEntry, upstream: Path) -> Path:
    """Convert (``weights import``) or copy ``upstream`` to ``$AVLOCATE_HOME/<file>``, atomically."""
    home = cache_dir()
    target = home / e.file
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=home, prefix=".incoming-"))
    try:
        if e.import_source:
            from .weight_import import import_official

            made = Path(import_official(e.import_source, upstream, out_dir=staging))
            if made.name != Path(e.file).name:
                raise WeightsError(f"converting {upstream.name} gave {made.name}, not {e.file}; the manifest entry "
                                   f"{e.name!r} names another file than `weights import --from {e.import_source}` writes")
            os.replace(made, target)  # import_official pinned its sha256 under this name already
        else:
            made = staging / target.name
            shutil.copyfile(upstream, made)
            want = expected_sha256(e)
            got = sha256_of(made)
            if want is not None and got != want:
                raise WeightsError(f"download of {e.file} has sha256 {got[:12]}…, expected {want[:12]}…; not installed")
            os.replace(made, target)
            if want is None:
                pin(e.file, got)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _preflight(e: WeightEntry, timeout: float) -> None:
    """Fail in one line, before any folder, lock or partial file is made, when the source's host
    cannot be reached (no DNS, no route, refused)."""
    from ..weights.download import check_reachable

    assert e.url
    if e.url.startswith("hf://"):
        try:
            from huggingface_hub import constants
        except ImportError:
            return  # fetch_hub says what to install
        if constants.HF_HUB_OFFLINE:
            return  # the hub's cache may still have it
        url, what = constants.ENDPOINT, hub_parts(e.url)[1]
        source = f"{url}/{hub_parts(e.url)[0]} ({what})"
    else:
        url, what, source = e.url, e.url.rstrip("/").rsplit("/", 1)[-1], e.url
        if _torch_hub_copy(what, Check.parse(e.check)) is not None:
            return  # torch.hub already has a verified copy: no network needed
    try:
        check_reachable(url, timeout)
    except OSError as exc:
        raise OfflineError(f"cannot download {what} from {source} ({exc}); {air_gapped_hint(e)}") from None


def pull(name: str, timeout: float = 10.0) -> Path:
    """Install manifest entry ``name`` (no-op when present): fetch, verify, convert, install."""
    e = entry(name)
    already = find_file(e.file)
    if already is not None:
        return already
    if not e.url:
        from ..weights.manager import how_to_get

        raise WeightsError(f"no verified download source is known for {name} ({e.file}); {how_to_get(e)}")
    if _truthy(os.environ.get("AVLOCATE_OFFLINE")):
        raise OfflineError(f"AVLOCATE_OFFLINE is set: not downloading {e.file} from {e.url}; unset it, or "
                           f"{air_gapped_hint(e)}")
    _preflight(e, timeout)
    from filelock import FileLock

    locks = cache_dir() / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"{name}.lock")):  # a second puller waits, then finds it installed
        already = find_file(e.file)
        if already is not None:
            return already
        upstream, ours = _fetch_upstream(e, timeout)
        target = _install(e, upstream)
        if ours:
            upstream.unlink(missing_ok=True)  # converted: the safetensors is what runs use
        return target


def needed_by_extractor(extractor: str) -> list[WeightEntry]:
    return [e for _, e in sorted(entries().items()) if extractor in e.extractors]


def needed_by_model(model: str) -> list[WeightEntry]:
    """Every known weight ``avlocate run --model MODEL`` reads: its extractor's files and, when the
    manifest has a source for it, the model's own file."""
    from ..weights.store import load_card, manifest

    known = manifest().get(model)
    if known is not None and find_file(f"{model}.json") is None:
        extractor = known.get("extractor", "")
    else:
        extractor = load_card(model).extractor
    needed = needed_by_extractor(extractor)
    own = entries().get(model)
    if own is not None and own.kind == "model" and own.url:
        needed.append(own)
    return needed


def ensure_extractor_weights(extractor: str, offline: bool = False,
                             say: Callable[[str], None] | None = None) -> list[Path]:
    """First use: fetch the missing weights ``extractor`` needs, after one line saying what and
    how big. Nothing is fetched when ``offline`` or an offline switch is set: the extractor then
    raises its own missing-weights error."""
    missing = [e for e in needed_by_extractor(extractor) if e.url and find_file(e.file) is None]
    if not missing or offline or offline_switch() is not None:
        return []
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    say(f"the {extractor} extractor needs weights that are not installed; downloading "
        + ", ".join(f"{e.name} ({e.url}, {upstream_size(e)})" for e in missing)
        + f" into {cache_dir()} (--offline or AVLOCATE_OFFLINE=1 prevents this)")
    return [pull(e.name) for e in missing]


def ensure_for_run(model: str, extractor: str | None = None) -> list[Path]:
    """First use for ``avlocate run --model MODEL`` (a card name or path): the extractor's missing
    weights, fetched unless an offline switch is set. An extractor that needs optional libraries
    says so (its ``check_libraries``) before gigabytes are fetched for it."""
    if extractor is None:
        from ..weights.store import load_card

        try:
            extractor = load_card(model).extractor
        except WeightsError:
            return []  # no such model: the run's own error says so
    if offline_switch() is None and any(e.url and find_file(e.file) is None for e in needed_by_extractor(extractor)):
        from ..errors import ModelError
        from ..registry import EXTRACTORS

        try:
            check = getattr(EXTRACTORS.get(extractor), "check_libraries", None)
        except ModelError:
            check = None  # an unknown extractor: the run's own error says so
        if check is not None:
            check()
    return ensure_extractor_weights(extractor)
