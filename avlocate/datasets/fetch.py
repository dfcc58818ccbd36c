"""``avlocate datasets pull``: fetch a data set's files, verify, unpack into the training layout.

Rules (the weights' rules, :mod:`avlocate.weights.download` / :mod:`avlocate.weights.drive`):

* one pull of a data set at a time (a lock file in its folder; a second pull waits);
* a URL file (the annotations at a pinned git commit) is resumed from its ``.part``, checked
  against its pinned sha256 / git blob id and only then renamed into place;
* a Drive file is resumed by the Drive client; its container is told by content and unpacked
  safely (:mod:`.unpack`) into the layout ``avlocate train`` reads, then the download is deleted
  (the unpacked files are what is kept; its sha256 stays in ``pulled.json``);
* every finished file is written down in ``pulled.json`` (source, check, sha256), so a second
  pull skips it and a model card can name exactly what it was trained on;
* a refused or unreachable host is one line (exit 8) with the manual way: download in a browser,
  then ``avlocate datasets pull NAME --from DIR``, which takes the files from ``DIR`` instead;
* a pull that fails before anything was fetched leaves nothing behind (not even the folder).
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OfflineError, OutputError, UsageError
from .registry import DataFile, Dataset, FeatureSet, get
from .unav import DatasetError
from .unpack import ARCHIVES, detect, unpack

RECORD = "pulled.json"


def datasets_root(directory: Path | str | None = None) -> Path:
    """``--dir``, else ``$AVLOCATE_HOME/datasets`` (the platform cache when AVLOCATE_HOME is unset)."""
    if directory is not None:
        return Path(directory).expanduser()
    from ..weights.store import cache_dir

    return cache_dir() / "datasets"


def dataset_dir(name: str, directory: Path | str | None = None) -> Path:
    return datasets_root(directory) / name


def read_record(folder: Path) -> dict[str, Any]:
    path = folder / RECORD
    if not path.is_file():
        return {"files": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data.get("files"), dict) else {"files": {}}
    except (OSError, json.JSONDecodeError, AttributeError):
        return {"files": {}}


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    tmp = folder / (RECORD + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, folder / RECORD)


@dataclass
class PullReport:
    dataset: str
    folder: Path
    fetched: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


def _manual(ds: Dataset, features: str | None, videos: bool) -> str:
    opts = " --videos" if videos else (f" --features {features}" if features else "")
    return f"avlocate datasets pull {ds.name}{opts} --from DIR"


def selection(ds: Dataset, features: str | None = None, videos: bool = False) -> tuple[list[DataFile], FeatureSet | None]:
    """The files a pull fetches: annotations, then the chosen features (or the videos)."""
    if videos:
        if ds.videos is None:
            raise DatasetError(f"data set {ds.name} has no video archive in the table")
        return [*ds.annotations, ds.videos], None
    fs = ds.feature_set(features)
    files = list(fs.files)
    if not files and fs.unavailable:
        # fetched by hand only (Baidu): one entry per stream, taken by name from --from DIR
        files = [DataFile(f"{fs.name}{suffix.removesuffix('.npy')}", "by hand", "none", fs.folder, unpack=True,
                          members=f"*{suffix}", format=f"<id>{suffix}, T x {dim}") for suffix, dim in fs.dims.items()]
    return [*ds.annotations, *files], fs


def _done(folder: Path, record: dict[str, Any], f: DataFile) -> bool:
    if f.name not in record["files"]:
        return False
    dest = folder / f.dest
    if f.unpack and not f.keep_tree:  # a shared folder: this file's members must be there
        return dest.is_dir() and next(dest.glob(f.members), None) is not None
    return dest.exists()


def _offline_switch() -> str | None:
    try:
        from ..weights.offline import offline_switch
    except ImportError:  # before the Drive client's helpers landed
        return None
    return offline_switch()


def _fetch_url(f: DataFile, dest: Path, what: str, manual: str, timeout: float) -> str:
    from ..weights.download import Check, Fetch, fetch_url
    from ..weights.store import sha256_of as sha256_file

    switch = _offline_switch()
    if switch is not None:
        raise OfflineError(f"{switch} is set: not downloading {what} from {f.source}; unset it, or download it "
                           f"in a browser and run `{manual}`")
    hint = f"download it in a browser and run `{manual}`"
    fetch_url(Fetch(url=f.source, dest=dest, check=Check.parse(f.check), what=what, hint=hint,
                    connect_timeout=timeout, resumes=2))
    return sha256_file(dest)


def approx_bytes(size: str) -> int | None:
    """Bytes of a size as a source states it ("5.55 GB", "263.4 MB", "2,991,422 bytes"), or None."""
    m = re.fullmatch(r"\s*([\d,]+(?:\.\d+)?)\s*(bytes|B|KB|MB|GB|TB)\s*", size)
    if not m:
        return None
    scale = {"bytes": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}[m.group(2)]
    return int(float(m.group(1).replace(",", "")) * scale)


def _check_room(f: DataFile, where: Path) -> None:
    """A download that cannot fit is refused before it starts (the archive alone; unpacking
    checks its members again)."""
    from .unpack import free_bytes

    need = f.bytes or approx_bytes(f.size)
    free = free_bytes(where)
    if need is not None and need > free:
        raise OutputError(f"{f.name} is {f.size} but {where} has {free / 1e9:.2f} GB free; free some space "
                          "or use --dir on a larger disk")


def _fetch_drive(f: DataFile, dest: Path, what: str, manual: str, timeout: float, pinned: str | None) -> str:
    """The Drive client's download (:mod:`avlocate.weights.drive`); ``pinned``: the sha256 an
    earlier pull recorded (the archive must not have changed since)."""
    from ..weights.drive import download_drive_file

    got = download_drive_file(f.source[len("drive:"):], dest, what=f"{what} ({f.size})", manual=manual,
                              timeout=timeout, expect_sha256=pinned)
    return got.sha256


def _install(download: Path, f: DataFile, folder: Path) -> None:
    """An archive is unpacked into ``f.dest``; a plain file becomes ``f.dest`` (or is looked
    for inside an archive, when the source turned out to be one)."""
    if f.unpack:
        unpack(download, folder / f.dest, flat=not f.keep_tree, members=f.members)
        return
    dest = folder / f.dest
    if detect(download) in ARCHIVES:
        unpack(download, dest.parent, flat=True, members=dest.name)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(download, dest)


def _check_local(path: Path, f: DataFile, manual_from: Path) -> None:
    from ..weights.download import Check

    problem = Check.parse(f.check).problem(path)
    if problem is not None:
        raise DatasetError(f"{path}: not the published {f.name} of the data set ({problem}); get it from {f.manual}")


def _from_dir(f: DataFile, source: Path, folder: Path) -> str | None:
    """Take ``f`` from the user's folder ``source``; the sha256 of what was taken, None when
    ``source`` holds nothing for it. The user's files are only read."""
    from ..weights.store import sha256_of as sha256_file

    base = Path(f.dest).name if not f.unpack else None
    url_base = f.source.rsplit("/", 1)[-1] if "://" in f.source else None
    if base is not None:
        for cand in dict.fromkeys(n for n in (base, url_base) if n):
            path = source / cand
            if path.is_file():
                _check_local(path, f, source)
                dest = folder / f.dest
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(dest.name + ".copying")
                shutil.copyfile(path, tmp)
                os.replace(tmp, dest)
                return sha256_file(dest)
        if f.check != "none":
            return None
    # Archives (any name) holding members of this file: unpacked from where they are.
    pattern = f.members if f.unpack else Path(f.dest).name
    digests: list[str] = []
    loose = 0
    for path in sorted(p for p in source.iterdir() if p.is_file()):
        if detect(path) not in ARCHIVES:
            if f.unpack and fnmatch.fnmatch(path.name, pattern):  # loose feature files in the folder
                target = folder / f.dest
                target.mkdir(parents=True, exist_ok=True)
                tmp = target / (path.name + ".copying")
                shutil.copyfile(path, tmp)
                os.replace(tmp, target / path.name)
                loose += 1
            continue
        try:
            if f.unpack:
                unpack(path, folder / f.dest, flat=not f.keep_tree, members=pattern)
            else:
                unpack(path, (folder / f.dest).parent, flat=True, members=pattern)
        except DatasetError as exc:
            if "no member matches" in str(exc):
                continue
            raise
        digests.append(sha256_file(path))
    if loose:
        digests.append(f"{loose} loose files (no archive to hash)")
    if not digests:
        return None
    return digests[0] if len(digests) == 1 else "several: " + ", ".join(digests[:3])


def pull(name: str, features: str | None = None, videos: bool = False, directory: Path | str | None = None,
         source: Path | None = None, timeout: float = 30.0, log: Callable[[str], None] = lambda m: None) -> PullReport:
    """Fetch (or take from ``source``) every file of the selection; see the module docstring."""
    ds = get(name)
    files, fs = selection(ds, features, videos)
    if fs is not None and fs.unavailable and source is None:
        raise DatasetError(f"{ds.title} {fs.name}: {fs.unavailable}")
    if source is not None and not Path(source).is_dir():
        raise UsageError(f"--from {source}: no such folder")
    folder = dataset_dir(name, directory)
    existed = folder.exists()
    created_top = folder
    while not created_top.parent.exists():
        created_top = created_top.parent
    folder.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    report = PullReport(name, folder)
    try:
        with FileLock(str(folder / ".pull.lock")):
            record = read_record(folder)
            record.setdefault("dataset", name)
            manual = _manual(ds, features, videos)
            for f in files:
                if _done(folder, record, f):
                    report.already.append(f.name)
                    continue
                if source is not None:
                    digest = _from_dir(f, Path(source), folder)
                    if digest is None:
                        raise DatasetError(f"--from {source}: nothing there for {f.name} ({f.format or f.dest}); "
                                           f"get it from {f.manual}")
                    origin = str(Path(source).resolve())
                else:
                    what = f"{ds.title} {f.name}"
                    log(f"fetching {what} ({f.size}) from {f.source}")
                    if f.source.startswith("drive:"):
                        download = folder / "downloads" / f"{f.name}.download"
                        download.parent.mkdir(parents=True, exist_ok=True)
                        _check_room(f, download.parent)
                        before = record["files"].get(f.name, {}).get("sha256", "")
                        pinned = before if re.fullmatch(r"[0-9a-f]{64}", before or "") else None
                        digest = _fetch_drive(f, download, what, manual, timeout, pinned)
                        _install(download, f, folder)
                        download.unlink(missing_ok=True)
                    else:
                        dest = folder / f.dest
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        digest = _fetch_url(f, dest, what, manual, timeout)
                    origin = f.source
                record["files"][f.name] = {"source": origin, "check": f.check, "sha256": digest, "dest": f.dest}
                _write_record(folder, record)
                report.fetched.append(f.name)
    except BaseException:
        _tidy(folder, existed, created_top)
        raise
    _tidy_empty(folder)
    return report


def _tidy_empty(folder: Path) -> None:
    """Remove the lock files' and downloads' folders when nothing is in them."""
    for sub in (folder / "downloads" / ".locks", folder / "downloads", *folder.glob("**/.locks")):
        try:
            if sub.is_dir():
                for lock in sub.glob("*.lock"):
                    lock.unlink(missing_ok=True)
                sub.rmdir()
        except OSError:
            pass


def _tidy(folder: Path, existed: bool, created_top: Path) -> None:
    """After a failure: nothing that holds data is removed (a ``.part`` resumes), but the folders
    this pull created, when they hold no data at all, are removed whole."""
    if not folder.exists():
        return
    if not existed:
        data = [p for p in folder.rglob("*") if p.is_file() and p.stat().st_size > 0
                and not p.name.endswith(".lock") and p.name != RECORD]
        if not data:
            shutil.rmtree(created_top, ignore_errors=True)
            return
    _tidy_empty(folder)
    lock = folder / ".pull.lock"
    if lock.exists() and not any(p for p in folder.iterdir() if p.name != ".pull.lock"):
        shutil.rmtree(folder, ignore_errors=True)
