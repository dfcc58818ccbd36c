"""``avlocate weights import``: official checkpoints -> avlocate safetensors + model card, once.

Official checkpoints are PyTorch pickles. They are read with ``torch.load(weights_only=True)``
(or, for VSCG's whole pickled modules, a restricted unpickler), so importing never executes code
from the file. The result is a safetensors file and a card in the weights cache, after which the
model is used by name: ``avlocate run clip.mp4 --model NAME``.

How the work is split (imports go one way, down the layers): this module reads class names,
writes the card and the safetensors and pins them; the format of each official file is read by
:mod:`.convert_dense` / :mod:`.convert_vscg` (key tables, ``state_dict_ema``, the restricted
unpickler); building the module those tensors belong to is done by the importer registered under
the source's name in :data:`avlocate.registry.IMPORTERS`, beside that module
(``heads/dense/official.py``, ``heads/segment/official.py``, ``features/importers.py``), because
only a head or an extractor knows its own layout.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError, WeightsError
from .card import ModelCard
from .store import cache_dir, save_weights

if TYPE_CHECKING:
    import torch

MODEL_SOURCES = ("official-unav", "official-ccnet", "official-vscg")
#: public checkpoints of the frozen feature extractors (converted to fixed file names)
EXTRACTOR_SOURCES = ("i3d-rgb", "i3d-flow", "raft-sintel", "vggish", "vgg19", "clip", "clap")
SOURCES = MODEL_SOURCES + EXTRACTOR_SOURCES


@dataclass
class ImportedHead:
    """What a model importer hands back: the head holding the official weights, and what its card says."""

    module: "torch.nn.Module"
    head: str  # the registered head name
    head_config: dict[str, Any]
    decode: dict[str, Any]
    feature_protocol: dict[str, Any]
    extractor: str  # the features the checkpoint was trained on
    event_classes: int  # outputs that are event classes (background excluded)


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


def _importer(source: str) -> Any:
    from ..registry import IMPORTERS

    return IMPORTERS.get(source)


def _pinned(path: Path) -> Path:
    """Record the sha256 of an imported extractor file, so `weights verify` can check it later."""
    from .manager import pin
    from .store import sha256_of

    pin(Path(path).name, sha256_of(Path(path)))
    return Path(path)


def import_extractor_weights(source: str, checkpoint: Path, out_dir: Path | None = None) -> Path:
    """A public extractor checkpoint (I3D rgb/flow, RAFT Sintel, VGGish, torchvision's ImageNet
    VGG-19, CLIP, CLAP) -> its safetensors file. The importer loads the weights into avlocate's
    module first, so a file that does not fit is refused here rather than at the first run."""
    out_dir = out_dir or cache_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    return Path(_importer(source)(Path(checkpoint), out_dir))


def import_official(source: str, checkpoint: Path, name: str | None = None, classes_file: Path | None = None,
                    config_file: Path | None = None, out_dir: Path | None = None,
                    provenance: dict | None = None) -> Path:
    """Convert ``checkpoint``; models get ``<name>.safetensors`` + ``<name>.json`` (returns the card
    path), extractor weights their fixed file name (returns it)."""
    if source not in SOURCES:
        raise UsageError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
    if source in EXTRACTOR_SOURCES:
        return _pinned(import_extractor_weights(source, checkpoint, out_dir))
    if name is None or classes_file is None:
        raise UsageError(f"--from {source} needs --name and --classes (checkpoints carry no class names)")
    classes = read_class_names(classes_file)
    out_dir = out_dir or cache_dir()
    config = None
    if config_file is not None:
        try:
            config = json.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{config_file}: not a readable JSON config ({exc})") from None
        config = config.get("config", config)
    imported: ImportedHead = _importer(source)(Path(checkpoint), config)
    if len(classes) != imported.event_classes:
        raise WeightsError(f"{classes_file} lists {len(classes)} classes but the checkpoint has "
                           f"{imported.event_classes} event classes")
    card = ModelCard(name=name, head=imported.head, extractor=imported.extractor, classes=classes,
                     weights_file=f"{name}.safetensors", head_config=imported.head_config, decode=imported.decode,
                     feature_protocol=imported.feature_protocol,
                     provenance={"imported_from": str(checkpoint), "source": source,
                                 "metric": "unknown (not re-evaluated here)", **(provenance or {})},
                     description=f"{source} checkpoint imported by avlocate")
    save_weights(imported.module.state_dict(), card, out_dir)
    return out_dir / f"{name}.json"
