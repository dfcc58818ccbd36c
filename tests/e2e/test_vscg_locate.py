"""`avlocate.locate(video, model=<VSCG card>)` end to end through the vgg19-vggish extractor.

Seeded random weights everywhere (VGG-19, VGGish, VSCG). The VSCG head's relevance bias is set
high so that every segment is an event: the test then checks the events' shape (labels from the
card, whole-second boundaries inside the video) rather than what random weights would say.
The extractor runs at the real 224x224 input (7x7x512 maps) but with 2 frames per second and
VGG-19 and VGGish at 1/16 of their inner widths (card extractor_config ``width_divisor``; same
layers and outputs) to stay fast on CPU and light on disk (~1 MB of weights instead of 370 MB).
"""
import pytest
import torch

import avlocate.features.vgg19_vggish  # noqa: F401 - registers the extractor (until builtins does)
from avlocate.errors import WeightsError
from avlocate.features.vgg19_vggish import WEIGHT_FILES, VGG19Pool5, VGG19VGGishConfig, VGG19VGGishExtractor
from avlocate.media import write_av
from avlocate.weights.card import ModelCard
from avlocate.weights.store import save_weights

CLASSES = [f"event {i}" for i in range(28)]
WIDTH_DIVISOR = 16  # extractor networks at test width (see the module docstring)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    g = torch.Generator().manual_seed(5)
    frames = (torch.rand(30, 1, 1, 3, generator=g) * 200 + torch.rand(30, 120, 160, 3, generator=g) * 50)
    t = torch.arange(3 * 22050) / 22050
    audio = 0.3 * torch.sin(2 * torch.pi * 330 * t)
    return write_av(tmp_path_factory.mktemp("vid") / "clip.mp4", frames.to(torch.uint8).numpy(), 10, audio.numpy(), 22050)


def _card(out_dir, name="rand-vscg"):
    from avlocate.heads.segment.vscg import VSCG

    torch.manual_seed(0)
    head = VSCG()
    with torch.no_grad():
        head.relevance.bias.fill_(8.0)  # sigmoid > 0.7 everywhere: every segment is an event
    extractor = VGG19VGGishExtractor(VGG19VGGishConfig(frames_per_second=2, width_divisor=WIDTH_DIVISOR))
    card = ModelCard(name=name, head="vscg", extractor="vgg19-vggish", classes=CLASSES,
                     weights_file=f"{name}.safetensors",
                     extractor_config={"frames_per_second": 2, "width_divisor": WIDTH_DIVISOR},
                     feature_protocol=extractor.protocol(), decode={"kind": "segments"})
    save_weights(head.state_dict(), card, out_dir)
    return out_dir / f"{name}.json"


def test_locate_with_a_vscg_card(video, tmp_path, monkeypatch):
    from avlocate.features.vggish.network import VGGish, VGGishConfig
    from avlocate.weights.checkpoint import write_safetensors
    from avlocate.pipeline.video import locate

    torch.set_num_threads(1)
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    torch.manual_seed(1)
    write_safetensors(VGG19Pool5(WIDTH_DIVISOR).state_dict(), tmp_path / WEIGHT_FILES["vgg19"])
    vggish = VGGish(VGGishConfig(width_divisor=WIDTH_DIVISOR))
    write_safetensors(vggish.state_dict(), tmp_path / WEIGHT_FILES["vggish"])
    card = _card(tmp_path)
    result = locate(video, model=str(card), device="cpu")
    assert result.duration == pytest.approx(3.0, abs=0.05)
    assert result.events, "every segment is an event with this head"
    covered = 0.0
    for ev in result.events:
        assert ev.label in CLASSES
        assert ev.start == int(ev.start) and ev.end == int(ev.end)
        assert 0 <= ev.start < ev.end <= result.duration + 1e-6
        assert 0.0 <= ev.score <= 1.0
        covered += ev.end - ev.start
    assert covered == 3.0  # three 1-s segments, all events
    starts = [ev.start for ev in result.events]
    assert starts == sorted(starts)


def test_missing_extractor_weights_name_the_file_and_the_command(video, tmp_path, monkeypatch):
    from avlocate.pipeline.video import locate

    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path / "cache"))
    card = _card(tmp_path, "rand-vscg-noweights")
    with pytest.raises(WeightsError) as info:
        locate(video, model=str(card), device="cpu")
    msg = str(info.value)
    assert "\n" not in msg and "vgg19.safetensors" in msg and "avlocate weights import FILE --from vgg19" in msg
