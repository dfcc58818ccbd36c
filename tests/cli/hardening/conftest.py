"""Fixtures of tests/cli/hardening: the corpus (generated once), a small model of our own, a CLI runner.

The model is the demo architecture (``lite-av`` on ``lite`` features) with seeded random weights,
so these tests do not depend on the bundled demo weights (exit codes do not depend on the
weights' values) and never touch the user's cache.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_corpus  # noqa: E402
from harness import MODEL  # noqa: E402



@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``hardening-lite.json`` + ``.safetensors``, first on the weights search path."""
    from avlocate.features.lite import LiteExtractor
    from avlocate.heads.lite import LiteAVHead, LiteHeadConfig
    from avlocate.weights.card import ModelCard
    from avlocate.weights.store import save_weights

    d = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    head = LiteAVHead(LiteHeadConfig())
    card = ModelCard(name=MODEL, head="lite-av", extractor="lite", classes=["bell", "siren", "engine", "drum"],
                     weights_file=f"{MODEL}.safetensors", head_config=vars(LiteHeadConfig()),
                     feature_protocol=LiteExtractor().protocol(), decode={"kind": "snippet-scores", "threshold": 0.5})
    save_weights(head.state_dict(), card, d)
    old = os.environ.get("AVLOCATE_WEIGHTS")
    os.environ["AVLOCATE_WEIGHTS"] = str(d)
    yield d
    if old is None:
        os.environ.pop("AVLOCATE_WEIGHTS", None)
    else:
        os.environ["AVLOCATE_WEIGHTS"] = old


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, make_corpus.Entry]:
    return make_corpus.make_corpus(tmp_path_factory.mktemp("corpus") / "videos")
