"""Where the CLIP and CLAP weights come from — local files only, found or refused in one line.

Nothing here downloads (``avlocate weights pull`` and a run's first use do, see
:mod:`avlocate.weights.fetch`). A weight
file is found, first hit wins, at

1. an explicit path (``ClipClapConfig.clip_weights`` / ``clap_weights``; CLI ``--clip-weights`` /
   ``--clap-weights``),
2. its manifest name in the weights search path (``$AVLOCATE_WEIGHTS``, the package's
   ``assets/weights/``, ``$AVLOCATE_HOME`` — see :mod:`avlocate.weights.store`).

Accepted formats: safetensors (our own), or the public PyTorch files (open_clip's
``open_clip_pytorch_model.bin``, LAION-CLAP's ``630k-audioset-best.pt``) read with
``torch.load(weights_only=True)``, which never runs code; :func:`convert_to_safetensors` turns
them into safetensors once. sha256 of the public files is unknown here (``None``) and gets
pinned from the first verified copy.

CLAP's text branch also needs the roberta-base *tokenizer* files (``vocab.json`` and
``merges.txt``) in the folder :data:`CLAP_TOKENIZER_DIR` (or ``--clap-text-dir DIR``); the
text-branch weights themselves are part of the CLAP checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch

from ...errors import WeightsError
from ...weights.store import find_file, search_path, sha256_of
from ...weights.checkpoint import read_state_dict, write_safetensors

CLIP_DEFAULT_ARCH = "ViT-B-32"
CLIP_DEFAULT_TAG = "laion2b_s34b_b79k"  # open_clip's pretrained tag of the LAION-2B ViT-B/32
CLAP_DEFAULT_AMODEL = "HTSAT-tiny"
CLAP_DEFAULT_TAG = "630k-audioset-best"  # LAION-CLAP's non-fusion checkpoint (its model id 1)
CLAP_TOKENIZER_DIR = "clap_roberta-base_tokenizer"
CLAP_TOKENIZER_FILES = ("vocab.json", "merges.txt")


def clip_weights_name(arch: str, tag: str) -> str:
    return f"clip_{arch}_{tag}.safetensors"


def clap_weights_name(amodel: str, tag: str) -> str:
    return f"clap_{amodel}_{tag}.safetensors"


@dataclass(frozen=True)
class WeightsSource:
    path: Path
    sha256: str

    @property
    def id(self) -> str:
        """Provenance id written into Features/results: ``file@sha256[:12]``."""
        return f"{self.path.name}@{self.sha256[:12]}"


def _where() -> str:
    return ", ".join(str(d) for d in search_path())


def locate(what: str, explicit: str | Path | None, names: tuple[str, ...], option: str,
           expected_sha256: str | None = None) -> WeightsSource:
    """The weight file of ``what`` (explicit path, else the first of ``names`` found), verified.

    Raises one-line :class:`WeightsError` naming the file, where it was looked for, and how to
    provide it; never tries the network.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightsError(f"{what} weights {path} not found (given by {option})")
    else:
        found = [p for p in (find_file(n) for n in names) if p is not None]
        if not found:
            raise WeightsError(
                f"{what} weights {names[0]} not found in {_where()}; no download is possible offline: "
                f"copy the file there, or pass {option} PATH"
            )
        path = found[0]
    digest = sha256_of(path)
    if expected_sha256 and digest != expected_sha256:
        raise WeightsError(f"{path}: sha256 {digest[:12]}… does not match the expected {expected_sha256[:12]}…; "
                           f"the file is corrupt or not the {what} weights")
    return WeightsSource(path, digest)


def locate_clap_tokenizer(explicit: str | Path | None) -> Path:
    """Folder holding roberta-base's ``vocab.json`` and ``merges.txt`` (CLAP's text tokenizer)."""
    if explicit is not None:
        folder = Path(explicit).expanduser()
        where = f"{folder} (given by --clap-text-dir)"
    else:
        hits = [d / CLAP_TOKENIZER_DIR for d in search_path() if (d / CLAP_TOKENIZER_DIR).is_dir()]
        folder = hits[0] if hits else None  # type: ignore[assignment]
        where = f"a folder {CLAP_TOKENIZER_DIR}/ in {_where()}"
    missing = [f for f in CLAP_TOKENIZER_FILES if folder is None or not (folder / f).is_file()]
    if missing:
        raise WeightsError(
            f"CLAP text tokenizer files {', '.join(missing)} (roberta-base) not found in {where}; no download is "
            f"possible offline: copy roberta-base's vocab.json and merges.txt there, or pass --clap-text-dir DIR"
        )
    return folder  # type: ignore[return-value]


def _strip_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)


def read_clip_state(path: Path) -> dict[str, torch.Tensor]:
    """open_clip state dict from safetensors or a public ``.bin``/``.pt`` (DataParallel prefix removed)."""
    return _strip_prefix(read_state_dict(path), "module.")


def read_clap_state(path: Path) -> dict[str, torch.Tensor]:
    """LAION-CLAP state dict. As laion_clap's own loader does: drop the ``module.`` prefix of its
    DDP-trained checkpoints, and the ``position_ids`` buffer that transformers >= 4.31 no longer
    keeps in the state dict (it is a constant ``arange``, not a learned weight)."""
    state = _strip_prefix(read_state_dict(path), "module.")
    state.pop("text_branch.embeddings.position_ids", None)
    return state


def convert_to_safetensors(src: str | Path, dst: str | Path, kind: str) -> str:
    """Convert a public CLIP/CLAP PyTorch checkpoint to safetensors; returns the new file's sha256.

    ``kind`` is ``"clip"`` or ``"clap"`` (which key clean-up to apply). The public file is read
    with ``weights_only=True``: a pickle that needs code execution is refused, not run.
    """
    readers = {"clip": read_clip_state, "clap": read_clap_state}
    if kind not in readers:
        raise ValueError(f"kind must be 'clip' or 'clap', got {kind!r}")
    state = readers[kind](Path(src))
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(dst.suffix + ".part")
    write_safetensors(state, tmp)
    tmp.replace(dst)  # atomic: a half-written file never carries the final name
    return sha256_of(dst)


def import_checkpoint(kind: str, checkpoint: str | Path, out_dir: str | Path | None = None,
                      arch: str | None = None, tag: str | None = None, fusion: bool = False) -> Path:
    """``avlocate weights import`` of a public CLIP/CLAP checkpoint: load it into the real model
    (so a file of another architecture is refused now, not at the first run), then write the
    model's weights as safetensors under the name the extractor looks for, atomically.

    ``kind`` "clip": ``arch``/``tag`` default to ViT-B-32 / laion2b_s34b_b79k; "clap": ``arch`` is
    the audio model (default HTSAT-tiny), ``tag`` default 630k-audioset-best.
    """
    from ...weights.store import cache_dir

    if kind == "clip":
        from .clip_image import ClipEncoder

        arch, tag = arch or CLIP_DEFAULT_ARCH, tag or CLIP_DEFAULT_TAG
        model = ClipEncoder.build(arch, Path(checkpoint)).model
        name = clip_weights_name(arch, tag)
    elif kind == "clap":
        from .clap_audio import ClapEncoder

        arch, tag = arch or CLAP_DEFAULT_AMODEL, tag or CLAP_DEFAULT_TAG
        model = ClapEncoder.build(Path(checkpoint), arch, fusion).model
        name = clap_weights_name(arch, tag)
    else:
        raise ValueError(f"kind must be 'clip' or 'clap', got {kind!r}")
    out = Path(out_dir) if out_dir is not None else cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (name + ".part")
    write_safetensors(model.state_dict(), tmp)
    tmp.replace(out / name)
    return out / name


#: Entries for ``assets/weights/manifest.json`` (owned by the weights manager, which now also holds
#: their hub sources and checks). sha256 unknown.
MANIFEST_ENTRIES: dict[str, dict] = {
    "clip-vit-b-32": {
        "file": clip_weights_name(CLIP_DEFAULT_ARCH, CLIP_DEFAULT_TAG),
        "for": "clip-clap extractor: CLIP image and text towers (open_clip ViT-B-32, pretrained tag laion2b_s34b_b79k)",
        "url": None, "sha256": None, "size": None, "licence": "unknown",
        "note": "open_clip's checkpoint file of that tag; import it with `avlocate weights import PATH --as clip-vit-b-32`",
    },
    "clap-htsat-tiny": {
        "file": clap_weights_name(CLAP_DEFAULT_AMODEL, CLAP_DEFAULT_TAG),
        "for": "clip-clap extractor: LAION-CLAP HTS-AT audio tower + RoBERTa text tower (630k-audioset-best.pt)",
        "url": None, "sha256": None, "size": None, "licence": "unknown",
        "note": "LAION-CLAP's 630k-audioset-best.pt; also needs roberta-base vocab.json + merges.txt in "
                + CLAP_TOKENIZER_DIR + "/",
    },
}
