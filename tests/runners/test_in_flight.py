"""Videos in flight: several videos per process, their network forwards batched together."""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from avlocate.features.vgg19_vggish import VGG19VGGishConfig, VGG19VGGishExtractor
from avlocate.runners.in_flight import InFlightCounter, run_in_flight, share_extractor
from avlocate.media import open_clip, probe, write_av


WIDTH = 8  # test-size VGG-19 / VGGish (1/8 of the inner widths): batching, not the networks, is tested


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory) -> Iterator[Path]:
    """Seeded random test-size VGG-19 (pool5) and VGGish under the names the vgg19-vggish
    extractor looks up (about 2 MB), removed when the module is done."""
    from avlocate.features.vgg19_vggish import WEIGHT_FILES, VGG19Pool5
    from avlocate.features.vggish.network import VGGish, VGGishConfig
    from avlocate.weights.checkpoint import write_safetensors

    d = tmp_path_factory.mktemp("in_flight_weights")
    torch.manual_seed(0)
    for name, net in (("vgg19", VGG19Pool5(WIDTH)), ("vggish", VGGish(VGGishConfig(width_divisor=WIDTH)))):
        write_safetensors(net.state_dict(), d / WEIGHT_FILES[name])
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("in_flight_videos")
    out = []
    for i in range(3):  # same size and length: their forwards are compatible
        g = torch.Generator().manual_seed(10 + i)
        frames = (torch.rand(25, 1, 1, 3, generator=g) * 255 + torch.rand(25, 96, 128, 3, generator=g) * 40)
        t = torch.arange(int(16000 * 2.5)) / 16000
        audio = 0.3 * torch.sin(2 * torch.pi * (300 + 100 * i) * t)
        out.append(write_av(root / f"v{i}.mp4", frames.clamp(0, 255).to(torch.uint8).numpy(), 10, audio.numpy(), 16000))
    return out


def _extractor() -> VGG19VGGishExtractor:
    return VGG19VGGishExtractor(VGG19VGGishConfig(frames_per_second=4, image_size=64, frames_per_batch=4, device="cpu",
                                                   width_divisor=WIDTH))


def _features(ex: VGG19VGGishExtractor, video: Path):  # noqa: ANN202
    v, a = ex.media_request(probe(video))
    return ex.extract(open_clip(video, v, a))


def test_shared_forwards_batch_across_videos_and_change_no_feature(videos, weights_dir, monkeypatch) -> None:
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(weights_dir))
    alone = _extractor()
    forwards: list[int] = []
    alone.models()["vgg19"].register_forward_pre_hook(lambda _m, args: forwards.append(args[0].shape[0]))
    want = {str(v): _features(alone, v) for v in videos}

    shared_ex = _extractor()
    counter = InFlightCounter()
    shared = share_extractor(shared_ex, counter, max_wait_s=2.0, min_wait_s=2.0)
    assert set(shared) == {"vgg19", "vggish"}
    assert share_extractor(shared_ex, counter) is shared  # wrapping happens once
    records = list(run_in_flight([str(v) for v in videos],
                                 lambda video: {"video": video, "features": _features(shared_ex, Path(video))},
                                 in_flight=3, counter=counter))
    assert sorted(r["video"] for r in records) == sorted(want)
    for r in records:
        got, ref = r["features"], want[r["video"]]
        assert got.visual.shape == ref.visual.shape and got.audio.shape == ref.audio.shape
        torch.testing.assert_close(got.visual, ref.visual, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(got.audio, ref.audio, atol=1e-4, rtol=1e-4)
    vgg = shared["vgg19"]
    assert vgg.rows == sum(forwards)  # every frame went through exactly once
    assert vgg.calls < len(forwards)  # ...in fewer, larger forwards than video by video
    assert counter.active == 0


def test_run_in_flight_yields_every_record_and_propagates_nothing_silently() -> None:
    counter = InFlightCounter()
    seen = []

    def work(video: str) -> dict:
        seen.append(counter.active)
        return {"video": video}

    records = list(run_in_flight([f"v{i}" for i in range(7)], work, in_flight=3, counter=counter))
    assert sorted(r["video"] for r in records) == [f"v{i}" for i in range(7)]
    assert max(seen) <= 3 and counter.active == 0
    with pytest.raises(ValueError):
        list(run_in_flight(["a"], work, in_flight=0, counter=counter))


def test_batch_with_videos_in_flight_matches_one_at_a_time(cli, repo_root, tmp_path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("demo1.mp4", "demo2.mp4"):
        (folder / name).symlink_to(repo_root / "samples" / name)
    one, many = tmp_path / "one.jsonl", tmp_path / "many.jsonl"
    small = ["--model", "lite-demo"]  # the batch's plumbing is tested, not the model (the default costs more)
    # In this process (no worker to start): one at a time, then the two videos sharing the model.
    assert cli("batch", folder, "--out", one, "--quiet", *small, "--in-process").code == 0
    assert cli("batch", folder, "--out", many, "--quiet", *small, "--in-process", "--videos-in-flight", "2").code == 0

    def events(path: Path) -> dict:
        lines = [json.loads(x) for x in path.read_text().splitlines()]
        return {Path(r["video"]).name: r["events"] for r in lines}

    assert events(one) == events(many) and len(events(many)) == 2
    assert all(events(one).values()), "each demo has events: the comparison is not of two empties"
    # In a supervised worker process (--timeout), the two videos sharing its model: same events.
    worker = tmp_path / "worker.jsonl"
    assert cli("batch", folder, "--out", worker, "--quiet", *small, "--videos-in-flight", "2", "--timeout", "300").code == 0
    assert events(worker) == events(one)
    bad = cli("batch", folder, "--out", tmp_path / "x.jsonl", "--videos-in-flight", "0")
    assert bad.code != 0 and "--videos-in-flight" in bad.err
