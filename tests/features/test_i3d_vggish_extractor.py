"""The registered i3d-vggish extractor, end to end from a video file, on seeded random weights.

Parity of each building block with the official extraction code is tested in the other
tests/features files; this checks the wiring: weight lookup, streaming over chunks, window and
example counts, alignment, and the offline error when weights are absent. The networks are the
published structures at test width (conftest.py: ``i3d_vggish_weights``, ``width_divisor``).
"""
import pytest
import torch

from avlocate.errors import WeightsError
from avlocate.features.i3d_vggish import WEIGHT_FILES, I3DVGGishConfig, I3DVGGishExtractor
from avlocate.media import open_clip, probe


@pytest.fixture()
def video(i3d_video):
    return i3d_video  # 33 frames at 25 fps -> 2 I3D windows; 1.32 s of stereo 44.1 kHz audio


@pytest.fixture()
def weights_dir(i3d_vggish_weights):
    return i3d_vggish_weights


def _extract(video, chunk, width_divisor):
    ex = I3DVGGishExtractor(I3DVGGishConfig(raft_iterations=2, frames_per_chunk=chunk, width_divisor=width_divisor))
    v, a = ex.media_request(probe(video))
    assert a.sample_rate == 44100  # audio stays at the file's rate; resampy-style resampling follows
    return ex.extract(open_clip(video, v, a))


def test_extracts_aligned_streams_independent_of_chunking(video, weights_dir, width_divisor, monkeypatch):
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(weights_dir))
    a = _extract(video, 5, width_divisor)  # chunks that split windows and frame pairs
    b = _extract(video, 64, width_divisor)
    # 33 frames -> 2 windows; 1.32 s of audio -> 2 examples (0.96 s every 0.32 s): trimmed to 2
    assert a.visual.shape == (2, 2048) and a.audio.shape == (2, 128)
    torch.testing.assert_close(a.visual, b.visual, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.audio, b.audio, atol=1e-5, rtol=1e-5)
    assert a.timeline.to_seconds(torch.arange(2), clip=False).tolist() == pytest.approx([0.48, 0.8])
    assert not torch.equal(a.visual[:, :1024], a.visual[:, 1024:])  # rgb and flow are different streams


def test_missing_weights_is_a_one_line_offline_error(video, tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path))
    ex = I3DVGGishExtractor()
    v, a = ex.media_request(probe(video))
    with pytest.raises(WeightsError, match="i3d_rgb.safetensors.*avlocate weights import"):
        ex.extract(open_clip(video, v, a))


def test_weights_import_of_extractor_checkpoints(cli, tmp_path):
    """A public-layout .pth (plain state dict) becomes the fixed-name safetensors file.

    I3D (rgb, at its published size: the importer loads into that strictly) stands for the
    extractor networks: its public checkpoint is such a plain state dict, of 50 MB, where VGGish's
    would write 2 x 288 MB into the temporary folder."""
    from safetensors.torch import load_file

    from avlocate.features.i3d import I3D, I3DConfig

    torch.manual_seed(2)
    sd = I3D(I3DConfig(modality="rgb")).state_dict()
    torch.save(sd, tmp_path / "i3d_rgb_public.pt")
    r = cli("weights", "import", tmp_path / "i3d_rgb_public.pt", "--from", "i3d-rgb", "--out", tmp_path / "w")
    assert r.code == 0, r.err
    loaded = load_file(str(tmp_path / "w" / WEIGHT_FILES["i3d-rgb"]))
    assert set(loaded) == set(sd) and all(torch.equal(loaded[k], v) for k, v in sd.items())
    # a checkpoint of the wrong network is refused in one line
    r = cli("weights", "import", tmp_path / "i3d_rgb_public.pt", "--from", "vggish", "--out", tmp_path / "w")
    assert r.code == 5 and r.err.count("\n") == 1


def test_run_esgnet_on_i3d_vggish_with_a_checkpoint(cli, video, weights_dir, width_divisor, tmp_path, monkeypatch):
    """`avlocate run clip.mp4 --model esgnet --extractor i3d-vggish --checkpoint X`, random weights."""
    import json

    from avlocate.heads.dense.config import EsgnetConfig
    from avlocate.heads.dense.esgnet import EsgnetHead
    from avlocate.weights.card import ModelCard
    from avlocate.weights.store import save_weights

    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(weights_dir))  # restored after the test (--weights-dir sets it)
    cards = tmp_path / "cards"
    cfg = EsgnetConfig(num_classes=4, max_seq_len=32, embed_dim=32, num_heads=2, head_dim=32)
    torch.manual_seed(0)
    card = ModelCard(name="esgnet", head="esgnet", extractor="i3d-vggish", classes=[f"c{i}" for i in range(4)],
                     weights_file="esgnet.safetensors", head_config=cfg.to_dict(),
                     extractor_config={"raft_iterations": 2, "width_divisor": width_divisor},
                     decode={"kind": "dense", "max_seg_num": 10},
                     feature_protocol={"fps": 25.0, "window": 24, "stride": 8, "visual_dim": 2048, "audio_dim": 128})
    save_weights(EsgnetHead(cfg).state_dict(), card, cards)
    torch.manual_seed(1)
    ckpt = tmp_path / "trained.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in EsgnetHead(cfg).state_dict().items()}, str(ckpt))
    for f in weights_dir.iterdir():  # --weights-dir holds the extractor weights too
        (cards / f.name).symlink_to(f)
    r = cli("run", video, "--model", "esgnet", "--extractor", "i3d-vggish", "--checkpoint", ckpt,
            "--weights-dir", cards, "-f", "json", "-q")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["extractor"] == "i3d-vggish" and out["weights"].startswith("trained.safetensors@")
    assert 0 < len(out["events"]) <= 10
    assert all(0 <= e["start"] <= e["end"] <= out["duration"] + 1e-3 for e in out["events"])
    r = cli("run", video, "--model", "esgnet", "--checkpoint", tmp_path / "nope.pth", "--weights-dir", cards, "-q")
    assert r.code == 5 and "weights import" in r.err
