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
from ..weights.card import ModelCard
from ..weights.store import cache_dir, save_weights

MODEL_SOURCES = ("official-unav", "official-ccnet", "official-vscg")
#: public checkpoints of the frozen feature extractors (converted to fixed file names)
EXTRACTOR_SOURCES = ("i3d-rgb", "i3d-flow", "raft-sintel", "vggish", "vgg19", "clip", "clap")
SOURCES = MODEL_SOURCES + EXTRACTOR_SOURCES
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


def _pinned(path: Path) -> Path:
    """Record the sha256 of an imported extractor file, so `weights verify` can check it later."""
    from ..weights.manager import pin
    from ..weights.store import sha256_of

    pin(Path(path).name, sha256_of(Path(path)))
    return Path(path)


def import_extractor_weights(source: str, checkpoint: Path, out_dir: Path | None = None) -> Path:
    """A public extractor checkpoint (I3D rgb/flow, RAFT Sintel, VGGish, torchvision's ImageNet
    VGG-19) -> its safetensors file.

    The weights are loaded into avlocate's module first, so a file that does not fit is refused
    here rather than at the first run.
    """
    from ..features.i3d_vggish import WEIGHT_FILES
    from ..features.vggish.weights import write_safetensors

    if source in ("i3d-rgb", "i3d-flow"):
        from ..features.i3d import load_i3d

        module = load_i3d(checkpoint, source.removeprefix("i3d-"))
    elif source == "vgg19":
        # torchvision's ImageNet VGG-19 layout; only the convolutional part (pool5) is kept.
        from ..features.vgg19_vggish import WEIGHT_FILES as VGG19_FILES
        from ..features.vgg19_vggish import load_vgg19

        module = load_vgg19(checkpoint)
        out_dir = out_dir or cache_dir()
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / VGG19_FILES["vgg19"]
        write_safetensors(module.state_dict(), path)
        return path
    elif source == "raft-sintel":
        from ..features.flow.raft import load_raft

        module = load_raft(checkpoint)
    else:
        from ..features.vggish.weights import load_vggish

        module = load_vggish(checkpoint)
    out_dir = out_dir or cache_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / WEIGHT_FILES[source]
    write_safetensors(module.state_dict(), path)
    return path


def import_official(source: str, checkpoint: Path, name: str | None = None, classes_file: Path | None = None,
                    config_file: Path | None = None, out_dir: Path | None = None,
                    provenance: dict | None = None) -> Path:
    """Convert ``checkpoint``; models get ``<name>.safetensors`` + ``<name>.json`` (returns the card
    path), extractor weights their fixed file name (returns it)."""
    if source not in SOURCES:
        raise UsageError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
    if source in ("clip", "clap"):
        from ..features.clip_clap.weights import import_checkpoint

        return _pinned(import_checkpoint(source, checkpoint, out_dir))
    if source in EXTRACTOR_SOURCES:
        return _pinned(import_extractor_weights(source, checkpoint, out_dir))
    if name is None or classes_file is None:
        raise UsageError(f"--from {source} needs --name and --classes (checkpoints carry no class names)")
    classes = read_class_names(classes_file)
    out_dir = out_dir or cache_dir()
    provenance = {"imported_from": str(checkpoint), "source": source,
                  "metric": "unknown (not re-evaluated here)", **(provenance or {})}
    extractor = _EXTRACTOR[source]
    if source == "official-vscg":
        from .convert_vscg import build_vscg_from_converted, load_official_vscg

        variant, state = load_official_vscg(checkpoint)
        head = build_vscg_from_converted(state, variant)
        head_name = "vscg" if variant == "fully" else "vscg-weakly"
        head_config: dict = {}
        decode = {"kind": "segments"}
        feature_protocol = {"extractor": _EXTRACTOR[source], "fps": 1.0, "window": 1, "stride": 1}
    else:
        from .convert_dense import ONE_PEACE_DIMS, load_official_head

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
        from dataclasses import asdict

        from ..decode.dense import DenseDecodeConfig

        test_cfg = (config or {}).get("model", {}).get("test_cfg")
        decode_cfg = DenseDecodeConfig.from_official(test_cfg) if test_cfg else DenseDecodeConfig()
        decode = {"kind": "dense", **asdict(decode_cfg)}
        c = head.cfg
        if (c.input_dim_visual, c.input_dim_audio) == ONE_PEACE_DIMS:
            extractor = "one-peace"  # decided by the checkpoint's first embedding layers
        elif (c.input_dim_visual, c.input_dim_audio) == (2048, 128):
            extractor = "i3d-vggish"
        feature_protocol = {"extractor": extractor, "fps": c.fps, "window": c.window, "stride": c.stride,
                            "visual_dim": c.input_dim_visual, "audio_dim": c.input_dim_audio}
    if source == "official-vscg":
        # VSCG's outputs are the event classes + background (last); the card lists events only.
        expected = int(head.config.num_classes) - 1
    else:
        expected = int(head.cfg.num_classes)
    if len(classes) != expected:
        raise WeightsError(f"{classes_file} lists {len(classes)} classes but the checkpoint has {expected} event classes")
    card = ModelCard(name=name, head=head_name, extractor=extractor, classes=classes,
                     weights_file=f"{name}.safetensors", head_config=head_config, decode=decode,
                     feature_protocol=feature_protocol,
                     provenance=provenance, description=f"{source} checkpoint imported by avlocate")
    save_weights(head.state_dict(), card, out_dir)
    return out_dir / f"{name}.json"
