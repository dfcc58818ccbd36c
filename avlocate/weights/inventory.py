"""What models exist here: bundled/installed cards plus the manifest of known ones."""
from __future__ import annotations

from pathlib import Path

from .card import ModelCard
from .store import find_file, manifest, search_path


def installed_cards(shadowed: list[tuple[ModelCard, Path]] | None = None) -> dict[str, tuple[ModelCard, Path]]:
    """Each model name's card as ``-m NAME`` loads it: the first in the search path. Later copies of
    the same name (hidden by it) are appended to ``shadowed`` when given."""
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
            if card.name in cards:
                if shadowed is not None and cards[card.name][1].resolve() != p.resolve():
                    shadowed.append((card, p))
                continue
            cards[card.name] = (card, p)
    return cards


def model_inventory() -> list[dict[str, str]]:
    rows = []
    hidden: list[tuple[ModelCard, Path]] = []
    cards = installed_cards(hidden)
    for name, (card, path) in cards.items():
        if card.weights_file is None:  # no head weights (zero-shot): its extractor's files are its weights
            from .manager import entries

            files = [e.file for e in entries().values() if card.extractor in e.extractors]
            present = all(find_file(f) is not None for f in files)
        else:  # the file beside the card is the one it loads (avlocate.weights.store.load_state_dict)
            present = (path.parent / card.weights_file).is_file() or find_file(card.weights_file) is not None
        classes = str(len(card.classes)) if card.classes else "any (" + ", ".join(
            "--" + o for o in card.options if o in ("labels", "vocab")) + ")"
        others = sum(1 for c, _ in hidden if c.name == name)
        source = str(path.parent) + (f" (used by -m {name}; {others} other copy hidden)" if others else "")
        rows.append({"model": name, "head": card.head, "extractor": card.extractor, "classes": classes,
                     "weights": "present" if present else "missing", "source": source})
        for other, other_path in hidden:
            if other.name == name:
                rows.append({"model": name, "head": other.head, "extractor": other.extractor,
                             "classes": str(len(other.classes)), "weights": "hidden",
                             "source": f"{other_path.parent} (hidden by {path.parent}; use -m {other_path})"})
    for name, entry in manifest().items():
        if name in cards:
            continue
        rows.append({"model": name, "head": entry.get("head", "?"), "extractor": entry.get("extractor", "?"),
                     "classes": str(entry.get("classes", "?")), "weights": "missing",
                     "source": entry.get("note", "unknown")})
    return rows
