"""What models exist here: bundled/installed cards plus the manifest of known ones."""
from __future__ import annotations

from pathlib import Path

from .card import ModelCard
from .store import find_file, manifest, search_path


def installed_cards() -> dict[str, tuple[ModelCard, Path]]:
    cards: dict[str, tuple[ModelCard, Path]] = {}
    for d in search_path():
        if not d.is_dir():
            continue
        for p in sorted(d.glob("*.json")):
            if p.name == "manifest.json":
                continue
            try:
                card = ModelCard.load(p)
            except Exception:  # noqa: BLE001 — a stray JSON file is not a model card
                continue
            cards.setdefault(card.name, (card, p))
    return cards


def model_inventory() -> list[dict[str, str]]:
    rows = []
    cards = installed_cards()
    for name, (card, path) in cards.items():
        if card.weights_file is None:  # no head weights (zero-shot): its extractor's files are its weights
            from .manager import entries

            files = [e.file for e in entries().values() if card.extractor in e.extractors]
            present = all(find_file(f) is not None for f in files)
        else:  # the file beside the card is the one it loads (avlocate.weights.store.load_state_dict)
            present = (path.parent / card.weights_file).is_file() or find_file(card.weights_file) is not None
        classes = str(len(card.classes)) if card.classes else "any (" + ", ".join(
            "--" + o for o in card.options if o in ("labels", "vocab")) + ")"
        rows.append({"model": name, "head": card.head, "extractor": card.extractor, "classes": classes,
                     "weights": "present" if present else "missing", "source": str(path.parent)})
    for name, entry in manifest().items():
        if name in cards:
            continue
        rows.append({"model": name, "head": entry.get("head", "?"), "extractor": entry.get("extractor", "?"),
                     "classes": str(entry.get("classes", "?")), "weights": "missing",
                     "source": entry.get("note", "unknown")})
    return rows
