"""``avlocate weights import``: official checkpoints -> avlocate safetensors + model card, once.

Official checkpoints are PyTorch pickles. They are read with ``torch.load(weights_only=True)``
(or, for VSCG's whole pickled modules, a restricted unpickler), so importing never executes code
from the file. The result is a safetensors file and a card in the weights cache, after which the
model is used by name: ``avlocate run clip.mp4 --model NAME``.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UsageError, WeightsError
from .card import ModelCard
from .store import cache_dir, save_weights

SOURCES = ("official-unav", "official-ccnet", "official-vscg")
_EXTRACTOR = {"official-unav": "i3d-vggish", "official-ccnet": "one-peace", "official-vscg": "vgg19-vggish"}


def read_class_names(path: Path) -> list[str]:
    """One class name per line (blank lines and '#' comments ignored), in the model's output order."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read class names ({exc.strerror or exc})") from None
    names = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if len(set(names)) != len(names):
        raise UsageError(f"{path}: class names are not unique")
    return names


def import_official(source: str, checkpoint: Path, name: str, classes_file: Path,
                    config_file: Path | None = None, out_dir: Path | None = None) -> Path:
    """Convert ``checkpoint`` and write ``<name>.safetensors`` + ``<name>.json``; returns the card path."""
    if source not in SOURCES:
        raise UsageError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
    classes = read_class_names(classes_file)
    out_dir = out_dir or cache_dir()
    provenance = {"imported_from": str(checkpoint), "source": source,
                  "metric": "unknown (not re-evaluated here)"}
    if source == "official-vscg":
        from .convert_vscg import build_vscg_from_converted, load_official_vscg

        variant, state = load_official_vscg(checkpoint)
        head = build_vscg_from_converted(state, variant)
        head_name = "vscg" if variant == "fully" else "vscg-weakly"
        head_config: dict = {}
        decode = {"kind": "segments"}
    else:
        from .convert_dense import load_official_head

        model = source.removeprefix("official-")
        config = None
        if config_file is not None:
            try:
                config = json.loads(Path(config_file).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise UsageError(f"{config_file}: not a readable JSON config ({exc})") from None
            config = config.get("config", config)
        head = load_official_head(model, checkpoint, config)
        head_name, head_config = model, head.cfg.to_dict()
        decode = {"kind": "dense"}
    expected = getattr(getattr(head, "cfg", None), "num_classes", None) or getattr(getattr(head, "config", None), "num_classes", None)
    if expected is not None and len(classes) != int(expected):
        raise WeightsError(f"{classes_file} lists {len(classes)} classes but the checkpoint has {expected}")
    card = ModelCard(name=name, head=head_name, extractor=_EXTRACTOR[source], classes=classes,
                     weights_file=f"{name}.safetensors", head_config=head_config, decode=decode,
                     provenance=provenance, description=f"{source} checkpoint imported by avlocate")
    save_weights(head.state_dict(), card, out_dir)
    return out_dir / f"{name}.json"
