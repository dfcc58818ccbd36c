"""The examples/avlocate-onepeace plugin: registered through its own pyproject's entry point,
the ONE-PEACE protocol, and one clear error line when the `one_peace` package is absent."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from avlocate.datasets.unav import FEATURE_FORMATS
from avlocate.datasets.unav import load_features as read_unav


@pytest.fixture(scope="module")
def example(repo_root) -> Path:
    return repo_root / "examples" / "avlocate-onepeace"


@pytest.fixture()
def site(example, tmp_path) -> Path:
    """The example as `pip install` would expose it: its sources + a dist-info with ITS entry points."""
    meta = tomllib.loads((example / "pyproject.toml").read_text())
    eps = meta["project"]["entry-points"]["avlocate.extractors"]
    dist = tmp_path / "site" / "avlocate_onepeace-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['project']['name']}\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[avlocate.extractors]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    return tmp_path / "site"


def _python(code: str, site: Path, example: Path, repo_root: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, AVLOCATE_HOME=str(tmp_path / "home"))
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(example / "src"), str(repo_root)])
    return subprocess.run([sys.executable, *code], capture_output=True, text=True, env=env, cwd=repo_root, timeout=120)


def test_listed_by_avlocate_models(site, example, repo_root, tmp_path):
    r = _python(["-m", "avlocate", "models"], site, example, repo_root, tmp_path)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("extractors:"))
    assert "one-peace" in line.split(": ", 1)[1].split(", ")
    assert "failed to load" not in r.stdout  # registering must not need one_peace


@pytest.mark.skipif(importlib.util.find_spec("one_peace") is not None, reason="one_peace is installed here")
def test_clear_message_without_one_peace(site, example, repo_root, tmp_path):
    code = (
        "import sys\n"
        "from avlocate.errors import AvlocateError\n"
        "from avlocate.extraction.video import build_extractor, extract_features\n"
        "try:\n"
        "    extract_features(sys.argv[1], build_extractor('one-peace'), sys.argv[2])\n"
        "except AvlocateError as exc:\n"
        "    print(type(exc).__name__, exc.exit_code, str(exc))\n"
    )
    r = _python(["-c", code, str(repo_root / "samples" / "demo1.mp4"), str(tmp_path / "out")], site, example, repo_root, tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 1
    kind, code_, message = r.stdout.strip().split(" ", 2)
    assert (kind, code_) == ("ModelError", "6")
    assert "one_peace" in message and "github.com/OFA-Sys/ONE-PEACE" in message and "Python <= 3.10" in message
    assert not (tmp_path / "out" / "demo1.json").exists()


class RecordingBackend:
    """Stands in for the ONE-PEACE encoders: a per-window summary, plus the inputs it saw."""

    def __init__(self) -> None:
        self.videos: list[torch.Tensor] = []
        self.audios: list[torch.Tensor] = []

    def encode_video(self, clips):  # noqa: ANN001, ANN201
        self.videos.append(clips)
        return clips.mean(dim=(1, 2, 3, 4))[:, None].expand(-1, 1536).clone()

    def encode_audio(self, waves):  # noqa: ANN001, ANN201
        self.audios.append(waves)
        return waves.abs().mean(1)[:, None].expand(-1, 1536).clone()


def test_protocol_windows_and_layout_with_a_stand_in_encoder(example, repo_root, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(example / "src"))
    from avlocate_onepeace.extractor import OnePeaceExtractor

    from avlocate.extraction.video import extract_features
    from avlocate.media import open_clip

    backend = RecordingBackend()
    ext = OnePeaceExtractor(backend=backend)
    fmt = FEATURE_FORMATS["onepeace"]
    tl = ext.timeline
    assert (ext.visual_dim, ext.audio_dim) == tuple(fmt["dims"]) and (tl.fps, tl.window, tl.stride) == \
        (fmt["timeline"].fps, fmt["timeline"].window, fmt["timeline"].stride)
    assert torch.allclose(tl.centres(4), torch.tensor([0.5, 0.75, 1.0, 1.25], dtype=torch.float64))

    video = repo_root / "samples" / "demo1.mp4"
    side = extract_features(video, ext, tmp_path)
    assert side["layout"] == "onepeace" and side["extractor"]["name"] == "one-peace"
    visual, audio = read_unav(tmp_path, "demo1", "onepeace")

    vspec, aspec = ext.media_request()
    frames, samples = open_clip(video, vspec, aspec).read_all()
    assert min(frames.shape[1:3]) == 256  # shorter side 256, then the 256 centre crop
    n_video = tl.num_snippets(frames.shape[0])
    n_audio = (samples.numel() - 16000) // 4000 + 1
    assert visual.shape == audio.shape == (min(n_video, n_audio), 1536) and visual.shape[0] > 0
    # window k sees frames [4k, 4k+16) and samples [4000k, 4000k+16000), normalised as documented
    k = 7
    seen_video = torch.cat(backend.videos)[k]
    assert torch.allclose(seen_video, ext.preprocess_frames(frames[4 * k:4 * k + 16]))
    crop_mean = seen_video.mean(dim=(1, 2, 3))
    assert crop_mean.abs().max() < 3.0  # CLIP mean/std on 0-255 pixels gives roughly unit-scale values
    wave = samples[4000 * k:4000 * k + 16000]
    seen_audio = torch.cat(backend.audios)[k]
    assert torch.allclose(seen_audio, (wave - wave.mean()) / torch.sqrt(wave.var(unbiased=False) + 1e-5), atol=1e-4)
    assert json.loads((tmp_path / "demo1.json").read_text())["provenance"]["weights"] == {"video": "unknown", "audio": "unknown"}
