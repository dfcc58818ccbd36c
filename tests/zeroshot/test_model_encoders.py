"""The zero-shot path with the real encoder architectures (open_clip CLIP, laion_clap HTS-AT +
RoBERTa) at seeded random init, on a bundled sample: plumbing, shapes, timings.

Random weights make the *events* meaningless; what is checked is that labels reach both text
towers, that 1-s windows every 0.5 s come out of the extractor, and that scores and events have
the right shapes and ranges. Skipped when the optional libraries are absent
(`pip install 'avlocate[clip,clap]'`).
"""
from __future__ import annotations

import json
import time

import pytest
import torch

pytest.importorskip("open_clip", reason="open_clip_torch not installed: pip install 'avlocate[clip]'")
pytest.importorskip("laion_clap", reason="laion-clap not installed: pip install 'avlocate[clap]'")

from avlocate.features.clip_clap import weights as W  # noqa: E402
from avlocate.features.clip_clap.clap_audio import ROBERTA_BASE, build_clap_model  # noqa: E402
from avlocate.features.clip_clap.clip_image import ClipEncoder  # noqa: E402
from avlocate.features.clip_clap.extractor import ClipClapExtractor  # noqa: E402
from avlocate.weights.checkpoint import write_safetensors  # noqa: E402
from avlocate.zeroshot.model import default_extractor_config  # noqa: E402
from avlocate.zeroshot.prompts import build_text_bank  # noqa: E402
import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parent))  # tests/zeroshot/door.py
from door import locate_zeroshot  # noqa: E402

torch.set_num_threads(1)
ARCH = "avl-zs-tiny-vit"  # open_clip's CLIP/ViT classes at a test size
ARCH_CFG = {"embed_dim": 512,
            "vision_cfg": {"image_size": 224, "layers": 1, "width": 64, "head_width": 32, "patch_size": 32},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}}
SMALL_ROBERTA = {"vocab_size": 400, "num_hidden_layers": 1, "intermediate_size": 64}  # hidden stays 768


def _write_bpe_tokenizer(folder) -> None:  # noqa: ANN001
    """A minimal byte-level BPE vocabulary (all 256 byte symbols + specials + a few merges)."""
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    symbols = [chr(b) for b in printable] + [chr(256 + i) for i in range(256 - len(printable))]
    vocab = {tok: i for i, tok in enumerate(["<s>", "<pad>", "</s>", "<unk>"] + symbols)}
    merges = [("b", "e"), ("be", "l"), ("bel", "l"), ("Ġ", "s")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<mask>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")


@pytest.fixture(scope="module")
def extractor(tmp_path_factory):
    import open_clip

    home = tmp_path_factory.mktemp("zs_home")
    cfg_dir = tmp_path_factory.mktemp("zs_clip_cfg")
    (cfg_dir / f"{ARCH}.json").write_text(json.dumps(ARCH_CFG))
    open_clip.add_model_config(cfg_dir)
    torch.manual_seed(0)
    write_safetensors(ClipEncoder.build(ARCH, None).model.state_dict(), home / W.clip_weights_name(ARCH, "test"))
    torch.manual_seed(1)
    clap, _ = build_clap_model("HTSAT-tiny", text_config={**ROBERTA_BASE, **SMALL_ROBERTA})
    write_safetensors(clap.state_dict(), home / W.clap_weights_name("HTSAT-tiny", "test"))
    _write_bpe_tokenizer(home / W.CLAP_TOKENIZER_DIR)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AVLOCATE_HOME", str(home))
        mp.delenv("AVLOCATE_WEIGHTS", raising=False)
        yield ClipClapExtractor(default_extractor_config(clip_arch=ARCH, clip_tag="test", clap_tag="test", device="cpu"))


def test_text_bank_from_both_real_text_towers(extractor):
    bank = build_text_bank(extractor.clip, extractor.clap, ["bell", "drum", "siren"])
    assert bank.visual.shape == (4, 512) and bank.audio.shape == (4, 512)
    for rows in (bank.visual, bank.audio):
        assert torch.allclose(rows.norm(dim=-1), torch.ones(4), atol=1e-5)
        assert (torch.cdist(rows, rows) + torch.eye(4)).min() > 1e-4  # different prompts, different rows


def test_whole_path_on_demo1_with_random_weight_encoders(extractor, repo_root):
    labels = ["bell", "drum", "siren", "engine"]
    start = time.perf_counter()
    res = locate_zeroshot(repo_root / "samples" / "demo1.mp4", labels=labels, extractor=extractor,
                          per_modality=True, scores=True, threshold=0.0, min_duration=0.0)
    wall = time.perf_counter() - start
    t = extractor.num_windows(res.duration)
    assert t == 35 and res.feature_protocol["fps"] == 2.0 and res.feature_protocol["visual_dim"] == 512
    scores = res.extra["scores"]
    assert len(scores["times"]) == t and scores["times"][:3] == [0.5, 1.0, 1.5]
    assert all(len(row) == 4 and all(0.0 <= v <= 1.0 for v in row) for row in scores["values"])
    assert res.weights.startswith(f"clip: {ARCH} clip_{ARCH}_test.safetensors@")
    assert "clap: HTSAT-tiny clap_HTSAT-tiny_test.safetensors@" in res.weights
    # threshold 0: every label is decoded somewhere, in each reported modality
    assert {e.label for e in res.events if e.modality is None} == set(labels)
    assert {e.modality for e in res.events} == {None, "audio", "visual"}
    assert all(0.0 <= e.start < e.end <= res.duration + 1e-6 for e in res.events)
    assert res.timing["total"] <= wall and res.timing["extract"] > 0
    print(f"\nzero-shot demo1 ({res.duration:.1f} s, {t} windows, random weights): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in res.timing.items()))


def test_av2a_whole_path_with_random_weight_encoders(extractor, repo_root):
    """The default method for a vocabulary (AV²A) through both real towers: 1-s windows every
    1 s, one prompt per label and encoder, scores in (0, 1), events inside the video."""
    from avlocate.zeroshot.methods import extractor_config

    ex = ClipClapExtractor(extractor_config("av2a", clip_arch=ARCH, clip_tag="test", clap_tag="test", device="cpu"))
    labels = ["bell", "drum", "siren", "engine", "dog barking", "car horn", "piano", "applause"]
    res = locate_zeroshot(repo_root / "samples" / "demo1.mp4", labels=labels, extractor=ex, keep_scores=True)
    assert res.extra["zs_method"] == "av2a" and res.feature_protocol["fps"] == 1.0
    values = res.extra["scores"]["values"]
    assert len(values) == ex.num_windows(res.duration) == 18
    assert all(len(row) == 8 and all(0.0 < v < 1.0 for v in row) for row in values)
    assert all(e.label in labels and 0.0 <= e.start < e.end <= res.duration + 1e-6 for e in res.events)
    assert res.weights.startswith(f"clip: {ARCH} clip_{ARCH}_test.safetensors@")
