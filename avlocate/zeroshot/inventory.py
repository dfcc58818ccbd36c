"""The ``zeroshot`` model's row in ``avlocate models``: it has no card, so it is listed here.

Its weights are the CLIP and CLAP files of the clip-clap extractor at the zero-shot defaults;
"present" means both are found in the weights search path (the tokenizer files are checked
when the model is built).
"""
from __future__ import annotations


def zeroshot_row() -> dict[str, str]:
    from ..features.clip_clap import weights as W
    from ..weights.store import find_file

    files = (W.clip_weights_name(W.CLIP_DEFAULT_ARCH, W.CLIP_DEFAULT_TAG),
             W.clap_weights_name(W.CLAP_DEFAULT_AMODEL, W.CLAP_DEFAULT_TAG))
    missing = [f for f in files if find_file(f) is None]
    return {"model": "zeroshot", "head": "none (CLIP/CLAP similarity)", "extractor": "clip-clap",
            "classes": "any (--labels / --vocab)", "weights": "present" if not missing else "missing",
            "source": "built in (run -m zeroshot --labels ...)"}
