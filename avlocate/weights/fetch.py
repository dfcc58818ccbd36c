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
from typing import Callable, Collection

from ..errors import OfflineError, WeightsError
from .download import Check, Fetch, fetch_hub, fetch_url
from .manager import WeightEntry, entries, entry, expected_sha256, pin
from .store import cache_dir, find_file, sha256_of

from .offline import OFFLINE_SWITCHES, offline_switch  # noqa: F401 - re-exported
from .offline import truthy as _truthy


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
    from .download import check_reachable

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


def manual_import(e: WeightEntry) -> str:
    """The exact command that finishes by hand what a pull of model ``e`` would do."""
    classes = "" if e.class_names else " --classes FILE"
    return f"avlocate weights import FILE --from {e.import_source} --name {e.name}{classes}"


def _classes_of(e: WeightEntry, classes_file: Path | None) -> Path:
    if classes_file is not None:
        return Path(classes_file)
    if e.class_names:
        from .store import PACKAGE_ROOT

        return PACKAGE_ROOT / "data" / "vocab" / f"{e.class_names}.txt"
    train = (f"; or train your own: `avlocate train-segment --head {e.head} --data DIR --out DIR --name NAME`"
             if e.head in ("vscg", "vscg-weakly") else "")
    raise WeightsError(f"the order of the {e.name} model's output classes is published nowhere (the official code "
                       f"reads one-hot label files without names), so it cannot be converted blindly; give it: "
                       f"`avlocate weights pull {e.name} --classes FILE` (one class name per line, in output order)"
                       f"{train}")


def _fetch_model_source(e: WeightEntry, src, timeout: float) -> tuple[Path, str]:  # noqa: ANN001
    """(downloaded upstream file, its sha256) from one automatic source of model ``e``."""
    from .manager import pins
    from .store import sha256_of

    downloads = cache_dir() / "downloads"
    upstream = src.upstream or f"{e.name}-official.bin"
    if src.source.startswith("gdrive:"):
        from .drive import download_drive_file

        file_id = src.source.removeprefix("gdrive:")
        got = download_drive_file(file_id, downloads / upstream, what=f"the official {e.name} checkpoint",
                                  manual=manual_import(e), timeout=timeout, expect_sha256=pins().get(upstream))
        print(f"downloaded the official {e.name} checkpoint from Google Drive (id {file_id}): {got.size} bytes, "
              f"sha256 {got.sha256} (compare it with a colleague's; pinned in {cache_dir() / 'pins.json'})",
              file=sys.stderr, flush=True)
        return got.path, got.sha256
    check = Check.parse(src.check)
    hint = f"on a machine without access, download it elsewhere and run `{manual_import(e)}`"
    path = fetch_url(Fetch(src.source, downloads / upstream, check, upstream, hint, connect_timeout=timeout))
    return path, sha256_of(path)


def _pull_model(e: WeightEntry, timeout: float, classes_file: Path | None) -> Path:
    """Fetch the official checkpoint of model ``e`` from its first reachable source, convert it
    with ``weights import`` (structure checked there), pin its sha256, install card + weights."""
    from .manager import pin

    classes = _classes_of(e, classes_file)
    auto = [s for s in e.sources if s.fetch == "auto"]
    first_error: Exception | None = None
    for src in auto:
        try:
            upstream, digest = _fetch_model_source(e, src, timeout)
        except (OfflineError, WeightsError) as exc:
            first_error = first_error or exc
            continue
        home = cache_dir()
        staging = Path(tempfile.mkdtemp(dir=home, prefix=".incoming-"))
        try:
            from .weight_import import import_official

            config = Path(e.import_config) if e.import_config else None
            card = import_official(e.import_source, upstream, name=e.name, classes_file=classes, out_dir=staging,
                                   config_file=config,
                                   provenance={"upstream": src.source, "upstream_sha256": digest,
                                               "stated_in": src.stated_in})
            # weights first, card last: a card is what makes the model "installed"
            os.replace(staging / f"{e.name}.safetensors", home / f"{e.name}.safetensors")
            os.replace(card, home / card.name)
        except WeightsError as exc:  # the structure does not fit: never pinned; the next copy may
            first_error = first_error or exc
            continue
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            upstream.unlink(missing_ok=True)  # converted (or refused): the safetensors is what runs use
        pin(upstream.name, digest)  # trust on first use, after the structure passed
        return home / f"{e.name}.json"
    assert first_error is not None or not auto
    if first_error is not None:
        raise first_error
    where = "; ".join(f"{s.host}: {s.browser_url()}" for s in e.sources)
    raise WeightsError(f"{e.name} is published only where a browser is needed ({where}); download it there and run "
                       f"`{manual_import(e)}`")


def _preflight_model(e: WeightEntry, timeout: float) -> None:
    """One line, before any folder, lock or announcement, when the first automatic source's host
    cannot be reached (the later sources are tried only after a failed download)."""
    src = next((s for s in e.sources if s.fetch == "auto"), None)
    if src is None:
        return
    if src.source.startswith("gdrive:"):
        from .drive import check_drive_reachable

        check_drive_reachable(src.source.removeprefix("gdrive:"), f"the official {e.name} checkpoint",
                              manual_import(e), timeout)
        return
    from .download import check_reachable

    try:
        check_reachable(src.source, timeout)
    except OSError as exc:
        raise OfflineError(f"cannot download the official {e.name} checkpoint from {src.source} ({exc}); "
                           f"on a machine without access, download it elsewhere and run `{manual_import(e)}`") from None


def pull(name: str, timeout: float = 10.0, classes_file: Path | None = None) -> Path:
    """Install manifest entry ``name`` (no-op when present): fetch, verify, convert, install."""
    e = entry(name)
    if e.kind == "model" and e.sources:
        card = find_file(f"{e.name}.json")
        if card is not None and find_file(e.file) is not None:
            return card
        if _truthy(os.environ.get("AVLOCATE_OFFLINE")):
            raise OfflineError(f"AVLOCATE_OFFLINE is set: not downloading the official {e.name} checkpoint from "
                               f"{e.sources[0].host} ({e.sources[0].browser_url()}); unset it, or download it "
                               f"elsewhere and run `{manual_import(e)}`")
        _preflight_model(e, timeout)
        from filelock import FileLock

        locks = cache_dir() / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with FileLock(str(locks / f"{name}.lock")):
            card = find_file(f"{e.name}.json")
            if card is not None and find_file(e.file) is not None:
                return card
            return _pull_model(e, timeout, classes_file)
    already = find_file(e.file)
    if already is not None:
        return already
    if not e.url:
        from .manager import how_to_get

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


def needed_by_model(model: str, files: Collection[str] | None = None) -> list[WeightEntry]:
    """Every known weight ``avlocate run --model MODEL`` reads: its extractor's files and, when the
    manifest has a source for it, the model's own file. ``files``: only these of the extractor's
    (the zero-shot methods each read one CLIP of the two the clip-clap extractor knows)."""
    from .store import load_card, manifest

    known = manifest().get(model)
    if files is not None:
        extractor = ""
    elif known is not None and find_file(f"{model}.json") is None:
        extractor = known.get("extractor", "")
    else:
        extractor = load_card(model).extractor
    needed = _candidates(extractor, files)
    own = entries().get(model)
    if own is not None and own.kind == "model" and (own.url or own.sources):
        needed.insert(0, own)  # the model's own checkpoint first: it is the one a host may refuse
    return needed


def ensure_model_weights(model: str) -> Path | None:
    """First use of a manifest model with official sources (unav, ccnet, vscg): fetch, verify and
    convert its checkpoint, after one line saying what and from where. Nothing happens when it is
    installed, has no automatic source, or an offline switch is set (the run then says what is
    missing, as before)."""
    own = entries().get(model)
    if own is None or own.kind != "model" or not any(s.fetch == "auto" for s in own.sources):
        return None
    if find_file(f"{model}.json") is not None and find_file(own.file) is not None:
        return None
    if offline_switch() is not None:
        return None
    src = next(s for s in own.sources if s.fetch == "auto")
    _classes_of(own, None)  # a model whose classes must be given says so before anything is fetched
    _preflight_model(own, 10.0)
    print(f"model {model} is not installed; downloading its official checkpoint from {src.host} "
          f"({src.browser_url()}, size unknown until the host says), then converting it into {cache_dir()} "
          f"(--offline or AVLOCATE_OFFLINE=1 prevents this)", file=sys.stderr, flush=True)
    return pull(model)


def _candidates(extractor: str, files: Collection[str] | None) -> list[WeightEntry]:
    """The extractor's files, or exactly the known entries of ``files`` (a head may name files
    the extractor's default settings do not read, e.g. another CLIP)."""
    if files is None:
        return needed_by_extractor(extractor)
    wanted = set(files)
    return [e for _, e in sorted(entries().items()) if e.file in wanted]


def _only(needed: list[WeightEntry], files: Collection[str] | None) -> list[WeightEntry]:
    return needed if files is None else [e for e in needed if e.file in set(files)]


def ensure_extractor_weights(extractor: str, offline: bool = False,
                             say: Callable[[str], None] | None = None,
                             files: Collection[str] | None = None) -> list[Path]:
    """First use: fetch the missing weights ``extractor`` needs (only ``files`` of them, if
    given), after one line saying what and how big. Nothing is fetched when ``offline`` or an
    offline switch is set: the extractor then raises its own missing-weights error."""
    missing = [e for e in _only(needed_by_extractor(extractor), files) if e.url and find_file(e.file) is None]
    return _say_and_pull(f"the {extractor} extractor", missing, offline, say)


def _say_and_pull(who: str, missing: list[WeightEntry], offline: bool = False,
                  say: Callable[[str], None] | None = None) -> list[Path]:
    if not missing or offline or offline_switch() is not None:
        return []
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    say(f"{who} needs weights that are not installed; downloading "
        + ", ".join(f"{e.name} ({e.url}, {upstream_size(e)})" for e in missing)
        + f" into {cache_dir()} (--offline or AVLOCATE_OFFLINE=1 prevents this)")
    return [pull(e.name) for e in missing]


def ensure_for_run(model: str, extractor: str | None = None, files: Collection[str] | None = None) -> list[Path]:
    """First use for ``avlocate run --model MODEL`` (a card name or path): the model's official
    checkpoint and its extractor's missing weights (only ``files`` of them when the model's head
    names the files its run reads: a zero-shot method reads one of two CLIPs), fetched unless an
    offline switch is set. An extractor that needs optional libraries says so (its
    ``check_libraries``) before gigabytes are fetched for it."""
    fetched = ensure_model_weights(model)
    if extractor is None:
        from .store import load_card

        try:
            extractor = load_card(model).extractor
        except WeightsError:
            return []  # no such model: the run's own error says so
    needed = _candidates(extractor, files)
    if offline_switch() is None and any(e.url and find_file(e.file) is None for e in needed):
        from ..errors import ModelError
        from ..registry import EXTRACTORS

        try:
            check = getattr(EXTRACTORS.get(extractor), "check_libraries", None)
        except ModelError:
            check = None  # an unknown extractor: the run's own error says so
        if check is not None:
            check()
    missing = [e for e in needed if e.url and find_file(e.file) is None]
    return ([fetched] if fetched else []) + _say_and_pull(f"the {extractor} extractor", missing)
