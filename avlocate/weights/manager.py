"""The weights manager behind ``avlocate weights list | pull | import | verify | path``.

Every known weight file is in the package's ``assets/weights/manifest.json`` (``$AVLOCATE_MANIFEST`` points to another
one, e.g. a mirror's): models (heads with a card) and files (frozen extractors). Downloads go to
``$AVLOCATE_HOME``, are verified before use and converted (:mod:`avlocate.weights.fetch`). Where
the manifest knows no sha256 (nothing was verifiable here), the first download or import pins
the hash it saw in ``$AVLOCATE_HOME/pins.json`` and every later ``verify`` checks against it.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import WeightsError
from .store import cache_dir, find_file, manifest_path, read_manifest, sha256_of


@dataclass(frozen=True)
class Source:
    """One place a weight's upstream file is published, and how a copy from there is verified."""

    source: str  # URL | hf://REPO/FILE | gdrive:ID | gdrive-folder:ID/FILE | baidu:ID
    check: str | None  # git-blob-sha1:ID | sha256-prefix:HEX | sha256:HEX | hub | structure+sha256-pin
    upstream: str | None = None  # a file name for the downloaded copy
    fetch: str = "auto"  # "auto": avlocate downloads it; "browser": only a person can (listed for them)
    stated_in: str = ""
    password: str | None = None

    @property
    def host(self) -> str:
        if self.source.startswith("gdrive:"):
            return "Google Drive"
        if self.source.startswith("gdrive-folder:"):
            return "a Google Drive folder"
        if self.source.startswith("baidu:"):
            return "Baidu Netdisk"
        if self.source.startswith("hf://"):
            return "the Hugging Face hub"
        return self.source.split("/")[2] if "://" in self.source else self.source

    def browser_url(self) -> str:
        kind, _, ident = self.source.partition(":")
        if kind == "gdrive":
            return f"https://drive.google.com/file/d/{ident}"
        if kind == "gdrive-folder":
            return f"https://drive.google.com/drive/folders/{ident.split('/')[0]}"
        if kind == "baidu":
            return f"https://pan.baidu.com/s/{ident}" + (f" (password {self.password})" if self.password else "")
        return self.source


@dataclass(frozen=True)
class WeightEntry:
    name: str
    kind: str  # "model" or "file"
    file: str
    purpose: str
    url: str | None  # the upstream source: a URL, or hf://REPO/FILE (manifest "source"; "url" in older ones)
    sha256: str | None
    licence: str
    note: str
    import_source: str | None  # `avlocate weights import --from` value that provides the file
    check: str | None = None  # how a download is verified: sha256-prefix:HEX | git-blob-sha1:ID | sha256:HEX | hub
    size: int | None = None  # bytes of the upstream file, when known
    extractors: tuple[str, ...] = ()  # extractors that need this file (first-use fetching)
    sources: tuple[Source, ...] = ()  # every known location, in the order a pull tries them
    class_names: str | None = None  # models: the shipped vocabulary (data/vocab/NAME.txt) in output order
    head: str | None = None  # models: the head it runs on
    import_config: str | None = None  # models: official config JSON for `weights import --config` (default: paper's)


def entries() -> dict[str, WeightEntry]:
    path = manifest_path()
    data = read_manifest()
    out: dict[str, WeightEntry] = {}
    for kind, group in (("model", data.get("models", {})), ("file", data.get("files", {}))):
        for name, e in group.items():
            out[name] = WeightEntry(
                name=name, kind=kind, file=e.get("file", f"{name}.safetensors"),
                purpose=e.get("for") or (f"{e.get('head')} head on {e.get('extractor')} features" if kind == "model" else ""),
                url=e.get("source") or e.get("url"), sha256=e.get("sha256"), licence=e.get("licence", "unknown"),
                note=e.get("note", ""), import_source=e.get("import"),
                check=e.get("check") or (f"sha256:{e['sha256']}" if e.get("sha256") else None),
                size=e.get("size"), extractors=tuple(e.get("extractors", ())),
                sources=_sources(e), class_names=e.get("class_names"), head=e.get("head"),
                import_config=str(path.parent / e["import_config"]) if e.get("import_config") else None,
            )
    return out


def _sources(e: dict) -> tuple[Source, ...]:
    listed = e.get("sources")
    if listed:
        return tuple(Source(source=s["source"], check=s.get("check"), upstream=s.get("upstream"),
                            fetch=s.get("fetch", "auto"), stated_in=s.get("stated_in", ""),
                            password=s.get("password")) for s in listed)
    one = e.get("source") or e.get("url")
    return (Source(one, e.get("check")),) if one else ()


def entry(name: str) -> WeightEntry:
    known = entries()
    if name not in known:
        raise WeightsError(f"no weights named {name!r} in {manifest_path()}; `avlocate weights list` shows the known ones")
    return known[name]


def _pins_path() -> Path:
    return cache_dir() / "pins.json"


def pins() -> dict[str, str]:
    try:
        return json.loads(_pins_path().read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def pin(file_name: str, digest: str) -> None:
    """Record ``digest`` for ``file_name`` (first seen copy), atomically."""
    data = pins()
    data[file_name] = digest
    _atomic_write_bytes(_pins_path(), (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def expected_sha256(e: WeightEntry) -> str | None:
    """The manifest's sha256, else the model card's, else the one pinned at first download/import."""
    if e.sha256:
        return e.sha256
    if e.kind == "model":
        card_path = find_file(f"{e.name}.json")
        if card_path is not None:
            try:
                digest = json.loads(card_path.read_text(encoding="utf-8")).get("sha256")
            except (OSError, json.JSONDecodeError):
                digest = None
            if digest:
                return str(digest)
    return pins().get(e.file)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def how_to_get(e: WeightEntry) -> str:
    if e.import_source:
        return f"obtain it and run `avlocate weights import FILE --from {e.import_source}`"
    return e.note or "no source is known"


def path_of(name: str, needed_by: str | None = None) -> Path:
    """Where the installed file of manifest entry ``name`` is; otherwise a one-line error naming
    the file, its sha256 (or "unknown"), where it was looked for, and the command that provides it."""
    from .store import search_path

    e = entry(name)
    found = find_file(e.file)
    if found is None:
        sha = expected_sha256(e) or "unknown"
        who = f" (needed by {needed_by})" if needed_by else ""
        way = (f"`avlocate weights pull {e.name}` downloads it from {e.url}; offline, {how_to_get(e)}" if e.url
               else f"no download is possible offline — {how_to_get(e)}")
        raise WeightsError(f"{e.file}{who}, sha256 {sha}, not found in {', '.join(str(d) for d in search_path())}; {way}")
    return found


def verify(names: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(name, file or '-', status) for each entry: ok | MISMATCH | unpinned | missing."""
    rows = []
    for name, e in sorted(entries().items()):
        if names and name not in names:
            continue
        found = find_file(e.file)
        if found is None:
            rows.append((name, "-", "missing"))
            continue
        want = expected_sha256(e)
        if want is None:
            rows.append((name, str(found), "unpinned"))
        else:
            rows.append((name, str(found), "ok" if sha256_of(found) == want else "MISMATCH"))
    return rows
