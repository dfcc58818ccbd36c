"""The zero-shot model through the one door: usage errors, the offline weights error, and the whole path on a bundled
sample with stand-in encoders (runs without open_clip / laion_clap; the real architectures are
exercised in test_model_encoders.py)."""
from __future__ import annotations

import hashlib
import time

import pytest
import torch
import torch.nn.functional as F

import avlocate.media as media
from avlocate.errors import InputNotFoundError, ModelError, UsageError, WeightsError
from avlocate.features.clip_clap import _deps
from avlocate.features.clip_clap.extractor import ClipClapExtractor
from avlocate.zeroshot.model import default_extractor_config
import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parent))  # tests/zeroshot/door.py
from door import locate_zeroshot, zeroshot_model  # noqa: E402

torch.set_num_threads(1)
DIM = 64


def _hash_vec(text: str) -> torch.Tensor:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
    return torch.randn(DIM, generator=torch.Generator().manual_seed(seed))


class StandInClip:
    """Image embedding = a fixed projection of the frame's mean colour; text = a hashed vector."""

    dim, arch, weights_id, device = DIM, "stand-in", "stand-in-clip", torch.device("cpu")
    proj = torch.randn(3, DIM, generator=torch.Generator().manual_seed(7))

    def preprocess_frames(self, frames: torch.Tensor) -> torch.Tensor:
        return frames.float().mean(dim=(1, 2)) / 255.0

    def encode_images(self, pixels: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        return F.normalize(pixels @ self.proj, dim=-1)

    def encode_text(self, texts, batch_size: int = 64) -> torch.Tensor:
        self.texts = list(texts)
        self.text_calls = getattr(self, "text_calls", 0) + 1
        return F.normalize(torch.stack([_hash_vec(t) for t in texts]), dim=-1)


class StandInClap(StandInClip):
    """Audio embedding = a fixed projection of the window's loudness and length."""

    amodel, weights_id = "stand-in", "stand-in-clap"
    proj = torch.randn(2, DIM, generator=torch.Generator().manual_seed(8))

    def encode_audio(self, windows, batch_size: int = 8) -> torch.Tensor:
        feats = torch.stack([torch.stack([w.float().pow(2).mean().sqrt(), torch.tensor(w.numel() / 48_000)])
                             for w in windows])
        return F.normalize(feats @ self.proj, dim=-1)


@pytest.fixture()
def demo(repo_root):
    return repo_root / "samples" / "demo1.mp4"


@pytest.fixture()
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path))
    monkeypatch.delenv("AVLOCATE_WEIGHTS", raising=False)

    def refuse(*_a, **_k):
        raise AssertionError("media was opened before the weights were checked")

    monkeypatch.setattr(media, "open_clip", refuse)
    monkeypatch.setattr(media, "probe", refuse)
    return tmp_path


def test_labels_are_required_and_checked_before_anything_else(demo, no_weights):
    with pytest.raises(UsageError, match="--labels"):
        locate_zeroshot(demo)
    with pytest.raises(UsageError, match="no label names"):
        locate_zeroshot(demo, labels=" , ,")
    with pytest.raises(InputNotFoundError):
        locate_zeroshot(no_weights / "nope.mp4", labels="dog")
    with pytest.raises(UsageError, match="--threshold"):
        locate_zeroshot(demo, labels="dog", threshold=1.5)


@pytest.fixture()
def libraries_present(monkeypatch):
    """Pretend open_clip / laion_clap are installed: the weights lookup runs before either is
    imported, so the missing-weights path is testable in an environment without them."""
    monkeypatch.setattr(_deps, "require", lambda which: None)


@pytest.mark.skipif(_deps.have_open_clip(), reason="open_clip is installed: no missing-library error to see")
def test_missing_encoder_library_fails_fast_with_the_install_hint(demo, no_weights):
    with pytest.raises(ModelError, match=r"needs open_clip, which is not installed; pip install 'avlocate\[clip\]'"):
        locate_zeroshot(demo, labels="dog", device="cpu")


def test_missing_clip_weights_fail_fast_in_one_line_without_decoding(demo, no_weights, libraries_present):
    start = time.monotonic()
    with pytest.raises(WeightsError) as err:
        locate_zeroshot(demo, labels="dog barking, car horn", device="cpu")
    assert time.monotonic() - start < 10
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("CLIP weights clip_ViT-B-32_laion2b_s34b_b79k.safetensors not found")
    assert str(no_weights) in msg and "--clip-weights PATH" in msg


def test_missing_clap_weights_fail_fast_too(demo, no_weights, libraries_present):
    ex = ClipClapExtractor(default_extractor_config(device="cpu"), clip_encoder=StandInClip())
    with pytest.raises(WeightsError, match=r"^CLAP weights clap_HTSAT-tiny_630k-audioset-best\.safetensors not found.*--clap-weights"):
        locate_zeroshot(demo, labels="dog", extractor=ex)


def test_whole_path_on_a_bundled_sample_with_stand_in_encoders(demo):
    labels = ["bell", "drum", "siren", "engine"]
    ex = ClipClapExtractor(default_extractor_config(device="cpu"), clip_encoder=StandInClip(), clap_encoder=StandInClap())
    res = locate_zeroshot(demo, labels=", ".join(labels), extractor=ex, per_modality=True, scores=True)
    t = ex.num_windows(res.duration)
    assert res.duration == pytest.approx(18.142, abs=0.05) and t == 35  # 1-s windows every 0.5 s
    assert res.model == "zeroshot" and res.extractor == "clip-clap" and res.extra["labels"] == labels
    assert res.feature_protocol["fps"] == 2.0 and res.feature_protocol["window"] == 2
    assert res.weights == "clip: stand-in stand-in-clip; clap: stand-in stand-in-clap"
    scores = res.extra["scores"]
    assert scores["times"] == pytest.approx([0.5 * i + 0.5 for i in range(t)])
    assert len(scores["values"]) == t and all(len(r) == 4 and all(0 <= v <= 1 for v in r) for r in scores["values"])
    for e in res.events:
        assert e.label in labels and e.modality in (None, "audio", "visual")
        assert 0.0 <= e.start < e.end <= res.duration + 1e-6 and 0.0 <= e.score <= 1.0
    assert set(res.timing) == {"encoders+text", "decode", "extract", "head", "postprocess", "total"}
    assert res.timing["total"] >= res.timing["extract"] > 0 and res.timing["decode"] > 0
    assert res.extra["throughput"]["frames_decoded"] > 0
    # label prompts: every label x every CLIP template, plus the background set, in one call
    assert len(ex.clip.texts) == 4 * 5 + 4 and "a photo of drum." in ex.clip.texts
    # the CLI's --threshold / --min-duration reach the decoder
    everything = locate_zeroshot(demo, labels=labels, extractor=ex, threshold=0.0, min_duration=0.0)
    assert {e.label for e in everything.events} == set(labels)
    assert locate_zeroshot(demo, labels=labels, extractor=ex, threshold=1.0).events == []


def test_one_model_embeds_the_prompts_once_for_many_videos(repo_root):
    ex = ClipClapExtractor(default_extractor_config(device="cpu"), clip_encoder=StandInClip(), clap_encoder=StandInClap())
    model = zeroshot_model("bell; drum", ex, threshold=0.0, min_duration=0.0)
    first = model.locate(repo_root / "samples" / "demo2.mp4")
    second = model.locate(repo_root / "samples" / "demo3.mp4")
    assert ex.clip.text_calls == 1 and ex.clap.text_calls == 1
    assert first.timing["encoders+text"] > 0 and second.timing["encoders+text"] == 0.0
    assert {e.label for e in first.events} == {e.label for e in second.events} == {"bell", "drum"}
