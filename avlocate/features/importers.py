"""``avlocate weights import --from NAME`` for the frozen extractors' public checkpoints: each
importer loads the file into avlocate's network (so a file that does not fit is refused at import,
not at the first run) and writes the safetensors under its fixed name. Registered in
:data:`avlocate.registry.IMPORTERS`; :mod:`avlocate.weights.weight_import` calls them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..registry import IMPORTERS
from ..weights.checkpoint import write_safetensors


def _write(module: Any, out_dir: Path, file_name: str) -> Path:
    path = out_dir / file_name
    write_safetensors(module.state_dict(), path)
    return path


def _i3d(stream: str) -> Callable[[Path, Path], Path]:
    def import_i3d(checkpoint: Path, out_dir: Path) -> Path:
        from .i3d import load_i3d
        from .i3d_vggish import WEIGHT_FILES

        return _write(load_i3d(checkpoint, stream), out_dir, WEIGHT_FILES[f"i3d-{stream}"])

    return import_i3d


IMPORTERS.register("i3d-rgb")(_i3d("rgb"))
IMPORTERS.register("i3d-flow")(_i3d("flow"))


@IMPORTERS.register("raft-sintel")
def import_raft(checkpoint: Path, out_dir: Path) -> Path:
    from .flow.raft import load_raft
    from .i3d_vggish import WEIGHT_FILES

    return _write(load_raft(checkpoint), out_dir, WEIGHT_FILES["raft-sintel"])


@IMPORTERS.register("vggish")
def import_vggish(checkpoint: Path, out_dir: Path) -> Path:
    from .i3d_vggish import WEIGHT_FILES
    from .vggish.weights import load_vggish

    return _write(load_vggish(checkpoint), out_dir, WEIGHT_FILES["vggish"])


@IMPORTERS.register("vgg19")
def import_vgg19(checkpoint: Path, out_dir: Path) -> Path:
    """torchvision's ImageNet VGG-19 layout; only the convolutional part (pool5) is kept."""
    from .vgg19_vggish import WEIGHT_FILES, load_vgg19

    return _write(load_vgg19(checkpoint), out_dir, WEIGHT_FILES["vgg19"])


def _clip_clap(source: str) -> Callable[[Path, Path], Path]:
    def import_tower(checkpoint: Path, out_dir: Path) -> Path:
        from .clip_clap.weights import import_checkpoint

        return Path(import_checkpoint(source, checkpoint, out_dir))

    return import_tower


IMPORTERS.register("clip")(_clip_clap("clip"))
IMPORTERS.register("clap")(_clip_clap("clap"))
