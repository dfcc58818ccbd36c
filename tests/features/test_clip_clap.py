"""clip-clap extractor: protocol, timing, weights errors — without open_clip / laion_clap.

The encoders are replaced by transparent stand-ins (an image's "embedding" is its mean colour, an
audio window's is its dominant frequency), so these tests check which frames and samples reach
each segment, on a generated video, in any environment. The real encoders are tested in
test_clip_clap_encoders.py (skipped when the optional libraries are absent).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from avlocate.errors import WeightsError
from avlocate.features.clip_clap import _deps
from avlocate.features.clip_clap import weights as W
from avlocate.features.clip_clap.extractor import ClipClapConfig, ClipClapExtractor
from avlocate.features.clip_clap.text import ensemble_text_embeddings, label_text_embeddings
from avlocate.media import open_clip, write_av
from avlocate.registry import EXTRACTORS

COLOURS = [(220, 30, 30), (30, 200, 40), (40, 60, 230), (230, 220, 40), (200, 40, 210)]
TONES = [300.0, 500.0, 700.0, 900.0, 1100.0]
REPO = Path(__file__).resolve().parents[2]


class ColourEncoder:
    """Stand-in CLIP: 'pixels' are the frames' mean colours; embedding = that colour, padded."""

    dim = 512
    arch, weights_id = "fake", "fake"

    def preprocess_frames(self, frames: torch.Tensor) -> torch.Tensor:
        return frames.float().mean(dim=(1, 2))

    def encode_images(self, pixels: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        return torch.nn.functional.pad(pixels, (0, self.dim - 3))

    def encode_text(self, texts, batch_size: int = 64) -> torch.Tensor:
        self.seen = list(texts)
        gen = [torch.Generator().manual_seed(sum(map(ord, t)) * 7919 + len(t)) for t in texts]
        return torch.nn.functional.normalize(torch.stack([torch.randn(self.dim, generator=g) for g in gen]), dim=-1)


class ToneEncoder(ColourEncoder):
    """Stand-in CLAP: embedding[0] = the window's dominant frequency in Hz, [1] = its length in s."""

    amodel = "fake"

    def encode_audio(self, windows, batch_size: int = 8) -> torch.Tensor:
        out = torch.zeros(len(windows), self.dim)
        for n, w in enumerate(windows):
            spec = torch.fft.rfft(w.double()).abs()
            out[n, 0] = float(spec.argmax()) * 48_000 / w.numel()
            out[n, 1] = w.numel() / 48_000
        return out


@pytest.fixture(scope="module")
def coloured_video(tmp_path_factory) -> Path:
    """5 s at 25 fps: second i is solid COLOURS[i] and sounds TONES[i] (48 kHz AAC)."""
    fps, sr = 25, 48_000
    frames = np.concatenate([np.broadcast_to(np.array(c, np.uint8), (fps, 48, 64, 3)) for c in COLOURS])
    t = np.arange(sr) / sr
    audio = np.concatenate([0.5 * np.sin(2 * np.pi * f * t) for f in TONES]).astype(np.float32)
    return write_av(tmp_path_factory.mktemp("cc") / "colours.mp4", frames, fps, audio, sr, crf=10)


def _extract(video: Path, config: ClipClapConfig | None = None):
    ex = ClipClapExtractor(config, clip_encoder=ColourEncoder(), clap_encoder=ToneEncoder())
    clip = open_clip(video, *ex.media_request())
    return ex, ex.extract(clip)


def test_registered_with_the_ave_protocol():
    ex = EXTRACTORS.get("clip-clap")()
    assert ex.timeline.fps == 1.0 and ex.timeline.window == 1 and ex.timeline.stride == 1
    assert ex.timeline.spans(3).tolist() == [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]]
    video, audio = ex.media_request()
    assert audio.sample_rate == 48_000 and video.fps == 2.0
    assert ex.protocol()["visual_dim"] == 512 and ex.protocol()["audio_dim"] == 512


def test_importing_needs_no_optional_library():
    code = ("import sys; import avlocate.builtins; from avlocate.registry import EXTRACTORS; "
            "EXTRACTORS.get('clip-clap')(); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('open_clip', 'laion_clap', 'transformers')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)


@pytest.mark.parametrize("hop,hops,k", [(1.0, 1, 1), (1.0, 1, 4), (0.5, 2, 1), (0.5, 2, 3), (0.25, 4, 2), (2.0, 1, 16)])
def test_frames_sit_at_the_centres_of_equal_parts_of_each_window(hop, hops, k):
    ex = ClipClapExtractor(ClipClapConfig(hop_seconds=hop, window_hops=hops, frames_per_window=k))
    spans = ex.timeline.spans(6)
    for i, (start, end) in enumerate(spans.tolist()):
        times = [g / ex.frame_fps for g in ex.frame_indices(i)]
        part = (end - start) / k
        assert times == pytest.approx([start + (j + 0.5) * part for j in range(k)], abs=1e-9)


def test_window_count_and_end_tolerance():
    ex = ClipClapExtractor()
    assert [ex.num_windows(d) for d in (10.0, 9.95, 9.85, 1.0, 0.95, 0.5)] == [10, 10, 9, 1, 1, 0]
    zs = ClipClapExtractor(ClipClapConfig(hop_seconds=0.5, window_hops=2))
    assert zs.num_windows(10.0) == 19 and zs.timeline.spans(19)[-1].tolist() == [9.0, 10.0]
    with pytest.raises(ValueError):
        ClipClapConfig(hop_seconds=5.0, window_hops=3)  # 15 s > CLAP's 10 s
    with pytest.raises(ValueError):
        ClipClapConfig(hop_seconds=1 / 7)  # not a whole number of 48 kHz samples


def test_segment_i_sees_second_i(coloured_video):
    ex, feats = _extract(coloured_video)
    assert feats.num_snippets == 5 and feats.visual.shape == (5, 512) and feats.audio.shape == (5, 512)
    assert feats.timeline.duration == pytest.approx(5.0, abs=0.05)
    colour = feats.visual[:, :3]
    want = torch.nn.functional.normalize(torch.tensor(COLOURS, dtype=torch.float32), dim=-1)
    assert torch.allclose(colour, want, atol=0.03), colour  # the centre frame of second i
    assert feats.audio[:, 0].tolist() == pytest.approx(TONES, abs=2.0)  # the samples of second i
    assert feats.audio[:, 1].tolist() == pytest.approx([1.0] * 5)


def test_overlapping_windows_reuse_the_same_frames_and_samples(coloured_video):
    _, ave = _extract(coloured_video)
    _, zs = _extract(coloured_video, ClipClapConfig(hop_seconds=0.5, window_hops=2))
    assert zs.num_snippets == 9 and zs.timeline.step_seconds == 0.5
    assert torch.equal(zs.visual[0::2], ave.visual) and torch.equal(zs.audio[0::2], ave.audio)
    # an odd window straddles two seconds: both tones are present, the window is still 1 s long
    assert zs.audio[1::2, 1].tolist() == pytest.approx([1.0] * 4)


def test_several_frames_per_segment_are_averaged(coloured_video):
    _, one = _extract(coloured_video)
    _, four = _extract(coloured_video, ClipClapConfig(frames_per_window=4))
    assert four.num_snippets == 5
    assert torch.allclose(four.visual, one.visual, atol=0.03)  # solid seconds: same mean colour


def test_short_clip_gives_no_segment_and_a_warning(tmp_path):
    frames = np.zeros((10, 48, 64, 3), np.uint8)
    video = write_av(tmp_path / "short.mp4", frames, 25, np.zeros(19_200, np.float32), 48_000)
    _, feats = _extract(video)
    assert feats.num_snippets == 0 and "features" in feats.warnings


def test_label_text_drops_background_and_uses_the_paper_prompts():
    clip, clap = ColourEncoder(), ToneEncoder()
    out = label_text_embeddings(clip, clap, ["Church bell", "Dog_barking", "background"])
    assert out.classes == ("Church bell", "Dog_barking")
    assert clip.seen == ["This photo contains the Church bell", "This photo contains the Dog barking"]
    assert clap.seen == ["This sound contains the Church bell", "This sound contains the Dog barking"]
    assert out.clip.shape == (2, 512) and out.clap.shape == (2, 512)


def test_prompt_ensemble_is_the_renormalised_mean():
    enc = ColourEncoder()
    templates = ["a photo of {}", "{} in a video"]
    got = ensemble_text_embeddings(enc, ["dog", "car horn"], templates)
    single = [enc.encode_text([t.format(n) for t in templates]) for n in ("dog", "car horn")]
    want = torch.nn.functional.normalize(torch.stack([s.mean(0) for s in single]), dim=-1)
    assert torch.allclose(got, want, atol=1e-6) and torch.allclose(got.norm(dim=-1), torch.ones(2))
    with pytest.raises(ValueError):
        ensemble_text_embeddings(enc, ["dog"], ["no placeholder"])


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AVLOCATE_WEIGHTS"}
    env.update(AVLOCATE_HOME=str(home), HF_HUB_OFFLINE="1")
    return env


def test_missing_weights_fail_fast_with_one_line(tmp_path, coloured_video):
    code = ("from avlocate.features.clip_clap import ClipClapExtractor; from avlocate.media import open_clip\n"
            "ex = ClipClapExtractor(); clip = open_clip(%r, *ex.media_request())\n"
            "for call in (lambda: ex.extract(clip), lambda: ex.label_text(['dog'])):\n"
            "    try:\n        call()\n    except Exception as e:\n        print(type(e).__name__, e)\n" % str(coloured_video))
    start = time.monotonic()
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_clean_env(tmp_path), capture_output=True,
                         text=True, timeout=60)
    assert time.monotonic() - start < 30
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 2, res.stdout + res.stderr
    for line in lines:
        if not _deps.have_open_clip():  # the main environment: the missing library is named first
            assert line == ("ModelError the clip-clap extractor needs open_clip, which is not installed; "
                            "pip install 'avlocate[clip]' (open_clip_torch)")
            continue
        assert line.startswith("WeightsError CLIP weights clip_ViT-B-32_laion2b_s34b_b79k.safetensors not found")
        assert "--clip-weights PATH" in line and str(tmp_path) in line


def test_clap_file_lookup_and_tokenizer_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path))
    monkeypatch.delenv("AVLOCATE_WEIGHTS", raising=False)
    with pytest.raises(WeightsError, match=r"CLAP weights clap_HTSAT-tiny_630k-audioset-best\.safetensors.*--clap-weights"):
        W.locate("CLAP", None, (W.clap_weights_name("HTSAT-tiny", "630k-audioset-best"),), "--clap-weights")
    (tmp_path / "630k-audioset-best.pt").write_bytes(b"x")  # the public file name is found as well
    src = W.locate("CLAP", None, ("clap_HTSAT-tiny_630k-audioset-best.safetensors", "630k-audioset-best.pt"), "--clap-weights")
    assert src.path.name == "630k-audioset-best.pt" and src.id.startswith("630k-audioset-best.pt@")
    with pytest.raises(WeightsError, match="does not match"):
        W.locate("CLAP", src.path, ("unused",), "--clap-weights", expected_sha256="0" * 64)
    with pytest.raises(WeightsError, match=r"vocab\.json, merges\.txt .*--clap-text-dir"):
        W.locate_clap_tokenizer(None)
    (tmp_path / W.CLAP_TOKENIZER_DIR).mkdir()
    (tmp_path / W.CLAP_TOKENIZER_DIR / "vocab.json").write_text("{}")
    with pytest.raises(WeightsError, match=r"merges\.txt"):
        W.locate_clap_tokenizer(None)


def test_public_checkpoints_convert_to_safetensors_without_running_code(tmp_path):
    from safetensors.torch import load_file

    a, pos = torch.randn(3, 2), torch.arange(5)[None]
    torch.save({"epoch": 3, "state_dict": {"module.text_branch.embeddings.position_ids": pos, "module.audio.w": a}},
               tmp_path / "clap.pt")
    digest = W.convert_to_safetensors(tmp_path / "clap.pt", tmp_path / "out" / "clap.safetensors", "clap")
    out = load_file(str(tmp_path / "out" / "clap.safetensors"))
    assert list(out) == ["audio.w"] and torch.equal(out["audio.w"], a)
    assert digest == W.sha256_of(tmp_path / "out" / "clap.safetensors")
    torch.save({"model": Path("not a tensor")}, tmp_path / "evil.pt")  # needs code to unpickle
    with pytest.raises(WeightsError):
        W.convert_to_safetensors(tmp_path / "evil.pt", tmp_path / "evil.safetensors", "clip")
    assert not (tmp_path / "evil.safetensors").exists()
