"""clip-clap with the real encoder architectures (open_clip CLIP, laion_clap HTS-AT + RoBERTa).

Weights are seeded random inits of those architectures, saved as safetensors into a temporary
$AVLOCATE_HOME and read back through the extractor's weights lookup. Skipped when the optional
libraries are not installed (`pip install 'avlocate[clip,clap]'`).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("open_clip", reason="open_clip_torch not installed: pip install 'avlocate[clip]'")
pytest.importorskip("laion_clap", reason="laion-clap not installed: pip install 'avlocate[clap]'")

from avlocate.errors import ModelError, OfflineError, WeightsError  # noqa: E402
from avlocate.features.clip_clap import weights as W  # noqa: E402
from avlocate.features.clip_clap.clap_audio import (  # noqa: E402
    ROBERTA_BASE, ClapEncoder, build_clap_model, load_tokenizer)
from avlocate.features.clip_clap.clip_image import ClipEncoder  # noqa: E402
from avlocate.features.clip_clap.extractor import ClipClapConfig, ClipClapExtractor  # noqa: E402
from avlocate.weights.checkpoint import write_safetensors  # noqa: E402
from avlocate.media import AudioSpec, VideoSpec, open_clip, write_av  # noqa: E402

TINY_CLIP = "avl-test-tiny-vit"  # open_clip's CLIP class and ViT, at a test size
TINY_CLIP_CFG = {"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": 1, "width": 64, "head_width": 32,
                                                   "patch_size": 32},
                 "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}}
# laion_clap's text projection needs hidden size 768; the rest is shrunk for speed
TINY_ROBERTA = {"vocab_size": 300, "num_hidden_layers": 1, "intermediate_size": 64}


def _byte_level_alphabet() -> list[str]:
    """The 256 printable stand-ins of byte-level BPE (GPT-2/RoBERTa convention)."""
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    extra = [b for b in range(256) if b not in keep]
    return [chr(b) for b in keep] + [chr(256 + n) for n in range(len(extra))]


def write_tiny_tokenizer(folder: Path) -> None:
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in _byte_level_alphabet():
        vocab[ch] = len(vocab)
    merges = [("d", "o"), ("do", "g"), ("Ġ", "c")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<mask>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """$AVLOCATE_HOME holding random-init CLIP/CLAP weights and a tokenizer, under test names."""
    import open_clip as oc

    root = tmp_path_factory.mktemp("avlocate_home")
    cfg_dir = tmp_path_factory.mktemp("clip_cfg")
    (cfg_dir / f"{TINY_CLIP}.json").write_text(json.dumps(TINY_CLIP_CFG))
    oc.add_model_config(cfg_dir)
    torch.manual_seed(0)
    clip = ClipEncoder.build(TINY_CLIP, None)
    write_safetensors(clip.model.state_dict(), root / W.clip_weights_name(TINY_CLIP, "test"))
    torch.manual_seed(1)
    model, _ = build_clap_model("HTSAT-tiny", text_config={**ROBERTA_BASE, **TINY_ROBERTA})
    write_safetensors(model.state_dict(), root / W.clap_weights_name("HTSAT-tiny", "test"))
    write_tiny_tokenizer(root / W.CLAP_TOKENIZER_DIR)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AVLOCATE_HOME", str(root))
        mp.delenv("AVLOCATE_WEIGHTS", raising=False)
        yield {"root": root, "clip_state": clip.model.state_dict(), "clap_state": model.state_dict()}


@pytest.fixture(scope="module")
def extractor(home):
    return ClipClapExtractor(ClipClapConfig(clip_arch=TINY_CLIP, clip_tag="test", clap_tag="test", device="cpu"))


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """3 s, 25 fps, 96x64: a moving gradient and a rising chirp, 48 kHz AAC."""
    fps, sr, n = 25, 48_000, 75
    yy, xx = np.mgrid[0:64, 0:96]
    frames = np.stack([np.stack([(xx * 2 + 8 * k) % 256, (yy * 3 + 5 * k) % 256, np.full_like(xx, 10 * k % 256)], -1)
                       for k in range(n)]).astype(np.uint8)
    t = np.arange(3 * sr) / sr
    audio = (0.4 * np.sin(2 * np.pi * (200 * t + 150 * t * t))).astype(np.float32)
    return write_av(tmp_path_factory.mktemp("ccv") / "v.mp4", frames, fps, audio, sr, crf=12)


def test_weights_are_read_back_through_the_lookup(home, extractor):
    for name, want in home["clip_state"].items():
        assert torch.equal(extractor.clip.model.state_dict()[name], want), name
    got = extractor.clap.model.state_dict()
    assert set(got) == set(home["clap_state"])
    assert all(torch.equal(got[k], v) for k, v in home["clap_state"].items())
    prov = extractor.provenance()
    assert prov["clip"].startswith(f"{TINY_CLIP} clip_{TINY_CLIP}_test.safetensors@")
    assert prov["clap"].startswith("HTSAT-tiny clap_HTSAT-tiny_test.safetensors@")


def test_public_open_clip_file_given_by_path(home, tmp_path):
    """open_clip's published .bin layout (a pickled dict, here with a DataParallel prefix) loads
    through --clip-weights PATH with torch.load(weights_only=True)."""
    torch.save({f"module.{k}": v for k, v in home["clip_state"].items()}, tmp_path / "open_clip_pytorch_model.bin")
    ex = ClipClapExtractor(ClipClapConfig(clip_arch=TINY_CLIP, clip_weights=str(tmp_path / "open_clip_pytorch_model.bin")))
    got = ex.clip.model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in home["clip_state"].items())
    assert ex.provenance()["clip"].startswith(f"{TINY_CLIP} open_clip_pytorch_model.bin@")
    with pytest.raises(WeightsError, match=r"CLIP weights .*missing\.bin not found \(given by --clip-weights\)"):
        ClipClapExtractor(ClipClapConfig(clip_weights=str(tmp_path / "missing.bin"))).clip


def test_weights_import_checks_the_architecture_and_writes_the_looked_up_name(home, tmp_path):
    torch.save({f"module.{k}": v for k, v in home["clip_state"].items()}, tmp_path / "open_clip_pytorch_model.bin")
    out = W.import_checkpoint("clip", tmp_path / "open_clip_pytorch_model.bin", tmp_path / "cache", TINY_CLIP, "imp")
    assert out == tmp_path / "cache" / W.clip_weights_name(TINY_CLIP, "imp")
    reread = ClipEncoder.build(TINY_CLIP, out).model.state_dict()
    assert all(torch.equal(reread[k], v) for k, v in home["clip_state"].items())
    with pytest.raises(WeightsError, match="do not fit CLIP ViT-B-32"):
        W.import_checkpoint("clip", tmp_path / "open_clip_pytorch_model.bin", tmp_path / "cache2")
    assert not (tmp_path / "cache2").exists() or not any((tmp_path / "cache2").iterdir())


def test_features_shapes_norms_and_determinism(extractor, video):
    feats = extractor.extract(open_clip(video, *extractor.media_request()))
    again = extractor.extract(open_clip(video, *extractor.media_request()))
    assert feats.visual.shape == (3, 512) and feats.audio.shape == (3, 512) and feats.extractor == "clip-clap"
    assert torch.allclose(feats.visual.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(feats.audio.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.equal(feats.visual, again.visual) and torch.equal(feats.audio, again.audio)
    assert feats.timeline.spans(3).tolist() == [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]]
    assert not torch.allclose(feats.audio[0], feats.audio[2], atol=1e-4)  # different sound, different vector


def test_segment_i_is_the_centre_frame_and_the_samples_of_second_i(extractor, video):
    feats = extractor.extract(open_clip(video, *extractor.media_request()))
    frames = open_clip(video, VideoSpec(fps=2.0), None).read_all()[0]  # frame 2i+1 is at i + 0.5 s
    want_v = extractor.clip.encode_frames(frames[1::2][:3])
    assert torch.allclose(feats.visual, want_v, atol=1e-5)
    wave = open_clip(video, None, AudioSpec(48_000)).read_all()[1]
    want_a = extractor.clap.encode_audio([wave[i * 48_000:(i + 1) * 48_000] for i in range(3)])
    assert torch.allclose(feats.audio, want_a, atol=1e-5)


def test_batch_first_audio_tower_equals_laion_clap_get_audio_embedding(extractor, video):
    """avlocate runs CLAP's audio side through ClapAudioTower (shareable across videos); it must
    give what laion_clap's own get_audio_embedding gives on the same per-window dicts."""
    wave = open_clip(video, None, AudioSpec(48_000)).read_all()[1]
    windows = [wave[i * 48_000:(i + 1) * 48_000] for i in range(3)]
    with torch.inference_mode():
        want = extractor.clap.model.get_audio_embedding([extractor.clap._prepare(w) for w in windows])
    torch.testing.assert_close(extractor.clap.encode_audio(windows), want.float(), atol=1e-6, rtol=1e-6)


def test_label_text_embeddings(extractor):
    out = extractor.label_text(["dog", "car horn", "church bell", "background"])
    assert out.classes == ("dog", "car horn", "church bell")
    for emb in (out.clip, out.clap):
        assert emb.shape == (3, 512) and torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-5)
        assert torch.cdist(emb, emb)[~torch.eye(3, dtype=torch.bool)].min() > 1e-3  # prompts differ
    assert extractor.clip.logit_scale == pytest.approx(1 / 0.07, rel=1e-4)  # both towers' init value
    assert extractor.clap.logit_scale == pytest.approx(1 / 0.07, rel=1e-4)
    clip_zs, clap_zs = extractor.text_embeddings(["dog"], ["a photo of a {}", "a {}"], ["the sound of a {}"])
    assert clip_zs.shape == (1, 512) and clap_zs.shape == (1, 512)


def test_an_empty_tokenizer_is_refused(tmp_path):
    (tmp_path / "vocab.json").write_text(json.dumps({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(WeightsError, match="only 5 tokens"):
        load_tokenizer(tmp_path, 50265)
    write_tiny_tokenizer(tmp_path / "ok")
    with pytest.raises(WeightsError, match="do not belong together"):
        load_tokenizer(tmp_path / "ok", 100)


def test_weights_of_another_architecture_fail_in_one_line(home):
    path = home["root"] / W.clip_weights_name(TINY_CLIP, "test")
    with pytest.raises(WeightsError, match="weights do not fit CLIP ViT-S-32") as err:
        ClipEncoder.build("ViT-S-32", path)
    assert "\n" not in str(err.value)
    assert ClipClapExtractor(ClipClapConfig(clip_arch="ViT-L-14")).visual_dim == 768
    with pytest.raises(ModelError, match="unknown CLIP architecture"):
        ClipEncoder.build("no-such-net", None)
    start = time.monotonic()
    with pytest.raises(OfflineError, match="needs files from the Hugging Face hub") as err:
        ClipEncoder.build("roberta-ViT-B-32", None)  # its text tower's config comes from the hub
    assert "\n" not in str(err.value) and time.monotonic() - start < 30
    clap_path = home["root"] / W.clap_weights_name("HTSAT-tiny", "test")
    with pytest.raises(WeightsError, match=r"CLAP HTSAT-tiny \(fusion\)"):
        ClapEncoder.build(clap_path, enable_fusion=True)


def test_missing_tokenizer_fails_fast_offline(home, tmp_path):
    ex = ClipClapExtractor(ClipClapConfig(clip_arch=TINY_CLIP, clip_tag="test", clap_tag="test", device="cpu",
                                          clap_text_dir=str(tmp_path / "nowhere")))
    start = time.monotonic()
    with pytest.raises(WeightsError, match=r"vocab\.json, merges\.txt .*--clap-text-dir"):
        ex.label_text(["dog"])
    assert time.monotonic() - start < 30


@pytest.mark.slow
def test_default_architectures_from_files_under_their_manifest_names(tmp_path, monkeypatch, video):
    """ViT-B-32 and HTSAT-tiny + full roberta-base, found under the default names; CLAP in the
    public checkpoint layout (.pt, ``module.`` prefix, ``position_ids`` buffer, extra entries)."""
    torch.manual_seed(2)
    clip = ClipEncoder.build("ViT-B-32", None)
    write_safetensors(clip.model.state_dict(), tmp_path / W.clip_weights_name("ViT-B-32", "laion2b_s34b_b79k"))
    model, _ = build_clap_model("HTSAT-tiny")
    public = {f"module.{k}": v for k, v in model.state_dict().items()}
    public["module.text_branch.embeddings.position_ids"] = torch.arange(514)[None]
    torch.save({"epoch": 45, "state_dict": public}, tmp_path / "630k-audioset-best.pt")
    write_tiny_tokenizer(tmp_path / W.CLAP_TOKENIZER_DIR)
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path))
    monkeypatch.delenv("AVLOCATE_WEIGHTS", raising=False)
    ex = ClipClapExtractor(ClipClapConfig(device="cpu"))
    feats = ex.extract(open_clip(video, *ex.media_request()))
    assert feats.visual.shape == (3, 512) and feats.audio.shape == (3, 512)
    assert ex.provenance()["clap"].startswith("HTSAT-tiny 630k-audioset-best.pt@")
    assert all(torch.equal(ex.clap.model.state_dict()[k], v) for k, v in model.state_dict().items())
    assert ex.label_text(["dog", "cat"]).clap.shape == (2, 512)
    out = W.import_checkpoint("clap", tmp_path / "630k-audioset-best.pt", tmp_path / "imported")
    assert out.name == "clap_HTSAT-tiny_630k-audioset-best.safetensors"
    assert set(W.read_clap_state(out)) == set(model.state_dict())


def test_laion_clap_import_never_waits_for_the_hub_even_if_the_hub_client_came_first():
    """laion_clap's import asks the hub for three tokenizers (minutes of retries offline). Our
    guarded import forces offline mode, also when huggingface_hub/transformers were imported
    before without HF_HUB_OFFLINE (then the environment variable alone is read too late)."""
    import os
    import subprocess
    import sys

    code = ("import huggingface_hub, transformers\n"
            "from avlocate.features.clip_clap import _deps\n"
            "_deps.import_laion_clap(); print('ok')\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    start = time.monotonic()
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=100,
                         cwd=Path(__file__).resolve().parents[2])
    assert res.stdout.strip() == "ok", res.stderr[-2000:]
    assert time.monotonic() - start < 60  # the imports take ~10 s; the hub retries take minutes


def test_features_and_label_texts_feed_the_avsgn_head(extractor, tmp_path):
    """AVE protocol end to end: a 10-s clip gives the 10 segments AVSGN sees at once."""
    from avlocate.heads.segment.avsgn import AVSGN, AVSGNConfig

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (250, 48, 64, 3), dtype=np.uint8)
    audio = (0.3 * rng.standard_normal(480_000)).astype(np.float32)
    video = write_av(tmp_path / "ten.mp4", frames, 25, audio, 48_000)
    feats = extractor.extract(open_clip(video, *extractor.media_request()))
    assert feats.num_snippets == 10
    classes = ["Church bell", "Dog", "Race car, auto racing", "background"]
    text = extractor.label_text(classes)
    torch.manual_seed(0)
    head = AVSGN(AVSGNConfig(num_classes=len(classes))).eval()
    head.set_label_text(text.clip, text.clap)
    with torch.inference_mode():
        probs = head.segment_probs(feats.audio[None], feats.visual[None])
    assert probs.shape == (1, 10, 4) and torch.isfinite(probs).all()


def test_videos_in_flight_share_the_clip_image_and_clap_audio_towers(home, extractor, video):
    """Cross-video batching (batch --videos-in-flight): CLIP's image tower and CLAP's audio tower
    are shared through coalescers, the features are those of one video at a time, and the
    towers stay readable."""
    from avlocate.runners.in_flight import InFlightCounter, run_in_flight, share_extractor

    want = extractor.extract(open_clip(video, *extractor.media_request()))
    shared_ex = ClipClapExtractor(ClipClapConfig(clip_arch=TINY_CLIP, clip_tag="test", clap_tag="test", device="cpu"))
    counter = InFlightCounter()
    shared = share_extractor(shared_ex, counter, max_wait_s=2.0, min_wait_s=2.0)
    assert set(shared) == {"clip-visual", "clap-audio"}
    assert shared_ex.clip._input_size() == extractor.clip._input_size()  # attributes read through the wrapper
    records = list(run_in_flight(["a", "b", "c"], lambda name: {
        "video": name, "features": shared_ex.extract(open_clip(video, *shared_ex.media_request()))}, 3, counter))
    for r in records:
        torch.testing.assert_close(r["features"].visual, want.visual, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(r["features"].audio, want.audio, atol=1e-5, rtol=1e-5)
    co = shared["clip-visual"]
    assert co.rows == 3 * want.num_snippets and co.calls < 3  # three videos' frames, fewer forwards
    co = shared["clap-audio"]
    assert co.rows == 3 * want.num_snippets and co.calls < 3  # three videos' windows, fewer forwards


def test_openai_clip_entry_matches_open_clips_own_tables():
    """The zero-shot AV²A CLIP: open_clip's ViT-B-32 tag "openai" is the hub repo the manifest
    names, with quick-GELU; ``ViT-B-32-quickgelu`` is ViT-B-32 with quick-GELU (same shapes)."""
    import open_clip as oc

    from avlocate.weights.manager import entries

    pre = oc.get_pretrained_cfg("ViT-B-32", "openai")
    assert pre["hf_hub"].rstrip("/") == "timm/vit_base_patch32_clip_224.openai" and pre["quick_gelu"] is True
    e = entries()["clip-vit-b-32-openai"]
    assert e.url.startswith("hf://" + pre["hf_hub"].rstrip("/") + "/")
    assert e.file == W.clip_weights_name(W.CLIP_OPENAI_ARCH, W.CLIP_OPENAI_TAG) and e.import_source == "clip-openai"
    quick, plain = oc.get_model_config(W.CLIP_OPENAI_ARCH), oc.get_model_config("ViT-B-32")
    assert quick.get("quick_gelu") is True
    assert quick["vision_cfg"] == plain["vision_cfg"] and quick["text_cfg"] == plain["text_cfg"]


@pytest.mark.slow
def test_openai_clip_imports_under_its_manifest_name(tmp_path):
    """A checkpoint of OpenAI's layout (random weights) goes through `weights import --from
    clip-openai` into the file the av2a method looks for, built with quick-GELU."""
    from avlocate.weights.weight_import import import_official

    torch.manual_seed(3)
    clip = ClipEncoder.build(W.CLIP_OPENAI_ARCH, None)
    torch.save(clip.model.state_dict(), tmp_path / "open_clip_pytorch_model.bin")
    out = import_official("clip-openai", tmp_path / "open_clip_pytorch_model.bin", out_dir=tmp_path / "w")
    assert out.name == "clip_ViT-B-32-quickgelu_openai.safetensors"
    back = ClipEncoder.build(W.CLIP_OPENAI_ARCH, out)
    assert type(back.model.visual.transformer.resblocks[0].mlp.gelu).__name__ == "QuickGELU"
