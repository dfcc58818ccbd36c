"""The ``zeroshot`` model's row in ``avlocate models``: it has no card, so it is listed here.

Its weights are the CLIP and CLAP files of the default zero-shot method (``--zs-method``);
"present" means both are found in the weights search path (the tokenizer files are checked
when the model is built).
"""
from __future__ import annotations


def zeroshot_row() -> dict[str, str]:
    from ..weights.store import find_file
    from .methods import DEFAULT_METHOD, weight_files

    files = weight_files(DEFAULT_METHOD)[:2]  # the default method's CLIP and CLAP
    missing = [f for f in files if find_file(f) is None]
    return {"model": "zeroshot", "head": "none (CLIP/CLAP similarity)", "extractor": "clip-clap",
            "classes": "any (--labels / --vocab)", "weights": "present" if not missing else "missing",
            "source": "built in (run -m zeroshot --labels ...)"}
