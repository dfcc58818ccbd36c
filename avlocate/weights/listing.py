"""``avlocate weights list --json``: every known weight as a plain record (for scripts)."""
from __future__ import annotations

from .manager import entries, expected_sha256
from .store import find_file


def weights_as_records() -> list[dict]:
    """One object per manifest entry (models and extractor files): name, kind, file, source
    (URL or hf://REPO/FILE, null if unknown), check, present, path, size (upstream bytes, when
    known), sha256 (of the installed safetensors, when known or pinned), licence, for, extractors."""
    rows = []
    for name, e in sorted(entries().items()):
        found = find_file(e.file)
        rows.append({
            "name": name, "kind": e.kind, "file": e.file, "source": e.url, "check": e.check,
            "present": found is not None, "path": str(found) if found else None, "size": e.size,
            "sha256": expected_sha256(e), "licence": e.licence, "for": e.purpose, "extractors": list(e.extractors),
            "sources": [{"source": s.source, "check": s.check, "fetch": s.fetch, "host": s.host,
                         "browser_url": s.browser_url(), "stated_in": s.stated_in} for s in e.sources],
        })
    return rows
