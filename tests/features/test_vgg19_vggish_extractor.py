"""The registered vgg19-vggish extractor (AVE protocol) end to end on seeded random weights.

Small frames (64x64 -> 2x2 pool5 maps), 4 frames per second and the networks at test width
(conftest.py: ``vgg19_vggish_weights``, ``width_divisor``) keep VGG-19 cheap on CPU; the default
protocol (224x224, 16 per second) only changes sizes, not the code path. The 224 path is
exercised by tests/e2e/test_vscg_locate.py, the published VGG-19's layout and maps below.
"""
import pytest
import torch

from avlocate.errors import WeightsError
from avlocate.features.vgg19_vggish import (
    WEIGHT_FILES, SegmentAverager, VGG19Pool5, VGG19VGGishConfig, VGG19VGGishExtractor, load_vgg19, normalize_frames,
)
from avlocate.media import open_clip, probe, write_av

FPS = 4
SIZE = 64


@pytest.fixture(scope="module")
def weights_dir(vgg19_vggish_weights):
    return vgg19_vggish_weights


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    g = torch.Generator().manual_seed(3)
    n = 35  # 3.5 s at 10 fps
    base = (torch.rand(n, 1, 1, 3, generator=g) * 255)
    frames = (base + torch.rand(n, 96, 128, 3, generator=g) * 40).clamp(0, 255).to(torch.uint8).numpy()
    t = torch.arange(int(44100 * 3.5)) / 44100
    audio = 0.3 * torch.sin(2 * torch.pi * 440 * t) * (t > 1.0)
    return write_av(tmp_path_factory.mktemp("vid") / "clip.mp4", frames, 10, audio.numpy(), 44100)


def _extract(video, batch, width_divisor):
    ex = VGG19VGGishExtractor(VGG19VGGishConfig(frames_per_second=FPS, image_size=SIZE, frames_per_batch=batch,
                                              device="cpu", width_divisor=width_divisor))
    v, a = ex.media_request(probe(video))
    return ex, ex.extract(open_clip(video, v, a))


def test_segments_timing_and_averaging_match_a_direct_computation(video, weights_dir, width_divisor, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(weights_dir))
    ex, feats = _extract(video, 3, width_divisor)  # batches of 3 frames straddle the 4-frame segments
    # 3.5 s: 14 frames -> 3 full segments + a half one (2 of 4 frames); audio examples start at
    # 0, 1, 2 s (a 4th would need 3.975 s): T = 3, segment i <-> [i, i+1) s.
    assert feats.visual.shape == (3, 2 * 2 * 512) and feats.audio.shape == (3, 128)
    assert feats.visual_shape == (2, 2, 512) and feats.visual_segments().shape == (3, 2, 2, 512)
    assert feats.extractor == "vgg19-vggish"
    assert feats.timeline.spans(3).tolist() == [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]]
    assert ex.protocol()["fps"] == 1.0 and ex.protocol()["visual_dim"] == 2048

    # Direct: all frames at once through the weights file, mean of each group of FPS frames.
    v, a = ex.media_request(probe(video))
    frames, _ = open_clip(video, v, a).read_all()
    assert frames.shape[1:3] == (SIZE, SIZE)
    net = load_vgg19(weights_dir / WEIGHT_FILES["vgg19"], width_divisor)
    with torch.inference_mode():
        maps = net(normalize_frames(frames[: 3 * FPS], SIZE))  # (12, 2, 2, 512) channels-last
    direct = maps.reshape(3, FPS, 2, 2, 512).mean(1)
    torch.testing.assert_close(feats.visual_segments(), direct, atol=1e-4, rtol=1e-4)
    # Silence then a tone from 1 s: the first audio example differs from the later ones.
    assert not torch.allclose(feats.audio[0], feats.audio[1])

    _, other = _extract(video, 64, width_divisor)  # one batch: same features
    torch.testing.assert_close(other.visual, feats.visual, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(other.audio, feats.audio)


def test_pool5_maps_are_channels_last_7x7_at_224():
    torch.manual_seed(0)
    net = VGG19Pool5().eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        out = net(x)
        ref = net.features(x)
    assert out.shape == (1, 7, 7, 512)
    torch.testing.assert_close(out[0, 2, 5], ref[0, :, 2, 5])  # (row, col, channel)
    assert VGG19VGGishExtractor().visual_dim == 7 * 7 * 512  # the default protocol's width


def test_half_segment_rule():
    avg = SegmentAverager(4)
    feats = torch.arange(10, dtype=torch.float32)[:, None]  # frames 0..9: 2 full segments + 2 frames
    avg.push(0, feats[:3])
    avg.push(3, feats[3:])
    out = avg.finish()
    assert out[:, 0].tolist() == [1.5, 5.5, 8.5]  # the last segment averages the 2 frames it has
    avg = SegmentAverager(4)
    avg.push(0, feats[:9])  # 1 frame of the third segment: dropped
    assert avg.finish()[:, 0].tolist() == [1.5, 5.5]


def test_torchvision_checkpoint_layout_imports(tmp_path):
    from avlocate.weights.checkpoint import read_state_dict
    from avlocate.weights.weight_import import import_official

    torch.manual_seed(1)
    # torchvision's ImageNet checkpoint layout: features.* + classifier.* (the classifier is
    # ~120 M parameters; small stand-ins keep the file small, they are dropped on import anyway).
    full = {**VGG19Pool5().state_dict(), "classifier.0.weight": torch.randn(8, 4), "classifier.0.bias": torch.randn(8)}
    ckpt = tmp_path / "vgg19-imagenet.pth"
    torch.save(full, ckpt)
    out = import_official("vgg19", ckpt, out_dir=tmp_path / "w")
    assert out.name == WEIGHT_FILES["vgg19"]
    saved = read_state_dict(out)
    assert set(saved) == {k for k in full if k.startswith("features.")}
    torch.testing.assert_close(saved["features.34.weight"], full["features.34.weight"])
    ckpt.unlink()  # 2 x 80 MB: gone before the next file is written (the temporary folder's peak)
    out.unlink()

    # A VGG-16 checkpoint (13 conv layers, not 16) does not fit: refused at import, in one line.
    from torchvision.models.vgg import cfgs, make_layers

    vgg16 = {f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}
    torch.save(vgg16, tmp_path / "vgg16.pth")
    with pytest.raises(WeightsError) as info:
        import_official("vgg19", tmp_path / "vgg16.pth", out_dir=tmp_path / "w2")
    assert "\n" not in str(info.value) and "VGG-19" in str(info.value)
    assert not (tmp_path / "w2" / WEIGHT_FILES["vgg19"]).exists()


def test_missing_weights_is_a_one_line_offline_error(video, tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path / "cache"))
    ex = VGG19VGGishExtractor(VGG19VGGishConfig(frames_per_second=FPS, image_size=SIZE))
    v, a = ex.media_request(probe(video))
    with pytest.raises(WeightsError) as info:
        ex.extract(open_clip(video, v, a))
    msg = str(info.value)
    assert "\n" not in msg
    assert WEIGHT_FILES["vgg19"] in msg and "avlocate weights import FILE --from vgg19" in msg
