"""Feature layouts written by avlocate.features.store, read back by the dataset readers (no decoding)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from avlocate import __version__
from avlocate.datasets import unav
from avlocate.datasets.ave import AVEAnnotation, load_ave
from avlocate.errors import UsageError
from avlocate.features.store import load_features, read_sidecar, resolve_layout, write_features
from avlocate.extraction.ave import ORDER_FILE, assemble_ave
from avlocate.features.base import Extractor, Features
from avlocate.timeline import Timeline


class FakeExtractor(Extractor):
    """Stands in for a real extractor: only its name, dims and Timeline matter to the writers."""

    def __init__(self, name: str, dims: tuple[int, int], timeline: Timeline, visual_shape=None) -> None:
        self.name = name
        self.config = None
        self._dims, self._tl, self.visual_shape = dims, timeline, visual_shape

    visual_dim = property(lambda self: self._dims[0])
    audio_dim = property(lambda self: self._dims[1])
    timeline = property(lambda self: self._tl)

    def media_request(self, info=None):  # noqa: ANN001, ANN201
        raise AssertionError("not used")

    def extract(self, clip):  # noqa: ANN001, ANN201
        raise AssertionError("not used")

    def features(self, t: int, seed: int, duration: float = 12.3) -> Features:
        g = torch.Generator().manual_seed(seed)
        v = torch.randn(t, self.visual_dim, generator=g)
        a = torch.randn(t, self.audio_dim, generator=g)
        return Features(v, a, self.timeline.with_duration(duration), self.name, {"audio": "resampled"}, self.visual_shape)


I3D = lambda: FakeExtractor("i3d-vggish", (2048, 128), Timeline(25.0, 24, 8))  # noqa: E731
ONEPEACE = lambda: FakeExtractor("one-peace", (1536, 1536), Timeline(16.0, 16, 4))  # noqa: E731
VGG = lambda: FakeExtractor("vgg19-vggish", (7 * 7 * 512, 128), Timeline(1.0, 1, 1), (7, 7, 512))  # noqa: E731


def test_unav100_round_trip_through_the_official_reader(tmp_path):
    ext = I3D()
    f = ext.features(37, seed=1)
    side = write_features(f, tmp_path, "vid_A", ext)
    assert side["layout"] == "unav100"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vid_A.json", "vid_A_flow.npy", "vid_A_rgb.npy", "vid_A_vggish.npy"]
    rgb = np.load(tmp_path / "vid_A_rgb.npy")
    flow = np.load(tmp_path / "vid_A_flow.npy")
    assert rgb.dtype == np.float32 and rgb.shape == (37, 1024) and flow.shape == (37, 1024)
    assert np.array_equal(rgb, f.visual[:, :1024].numpy()) and np.array_equal(flow, f.visual[:, 1024:].numpy())
    visual, audio = unav.load_features(tmp_path, "vid_A", "i3d_vggish")
    assert torch.equal(visual, f.visual) and torch.equal(audio, f.audio)
    # the training loader turns annotation seconds into steps with the same Timeline we wrote
    db = {"vid_A": {"subset": "test", "duration": 12.3, "annotations": [{"label": "x", "label_id": 0, "segment": [2.0, 5.0]}]}}
    item = unav.load_items(db, tmp_path, "test", "i3d_vggish")[0]
    tl = load_features(tmp_path, "vid_A").timeline
    assert torch.allclose(item.segments[0].double(), tl.to_index(torch.tensor([2.0, 5.0])), atol=1e-5)


def test_onepeace_round_trip(tmp_path):
    ext = ONEPEACE()
    f = ext.features(21, seed=2)
    write_features(f, tmp_path, "v", ext)
    assert (tmp_path / "v_one_peace_video_finetune.npy").is_file() and (tmp_path / "v_one_peace_audio.npy").is_file()
    visual, audio = unav.load_features(tmp_path, "v", "onepeace")
    assert torch.equal(visual, f.visual) and torch.equal(audio, f.audio)


def test_generic_round_trip_and_sidecar(tmp_path):
    ext = FakeExtractor("my-ext", (6, 5), Timeline(8.0, 4, 2))
    f = ext.features(9, seed=3, duration=5.5)
    write_features(f, tmp_path, "clip 1", ext, video="/videos/clip 1.mkv")
    back = load_features(tmp_path, "clip 1")
    assert torch.equal(back.visual, f.visual) and torch.equal(back.audio, f.audio)
    assert back.timeline == f.timeline and back.extractor == "my-ext" and back.warnings == f.warnings
    side = json.loads((tmp_path / "clip 1.json").read_text())
    assert side["timeline"] == {"fps": 8.0, "window": 4, "stride": 2, "duration": 5.5}
    assert side["extractor"]["protocol"] == ext.protocol()
    assert side["provenance"]["avlocate"] == __version__ and side["provenance"]["weights"] == "unknown"
    assert side["video"] == "/videos/clip 1.mkv" and side["num_snippets"] == 9
    assert read_sidecar(tmp_path, "clip 1") == side


def test_layout_must_fit_the_extractor():
    lite_like = FakeExtractor("lite", (56, 81), Timeline(8.0, 4, 2))
    assert resolve_layout(lite_like) == "generic"
    assert resolve_layout(I3D()) == "unav100" and resolve_layout(ONEPEACE()) == "onepeace" and resolve_layout(VGG()) == "ave"
    for layout in ("unav100", "onepeace", "ave"):
        with pytest.raises(UsageError, match="--layout generic"):
            resolve_layout(lite_like, layout)
    with pytest.raises(UsageError, match="unknown layout"):
        resolve_layout(lite_like, "hdf5")
    # right dims but another time grid would be misplaced by the official loader
    with pytest.raises(UsageError):
        resolve_layout(FakeExtractor("i3d-vggish", (2048, 128), Timeline(25.0, 16, 8)), "unav100")
    assert resolve_layout(I3D(), "generic") == "generic"


def test_ave_h5_follow_annotations_and_load_with_the_ave_reader(tmp_path):
    ext = VGG()
    feats = {"b": ext.features(10, seed=4), "a": ext.features(12, seed=5), "c": ext.features(9, seed=6)}
    for vid, f in feats.items():
        write_features(f, tmp_path, vid, ext)
    rows = [AVEAnnotation("Dog", "c", "good", 0, 5), AVEAnnotation("Car", "a", "good", 2, 10),
            AVEAnnotation("Dog", "b", "good", 1, 3), AVEAnnotation("Car", "a", "bad", 0, 4)]
    (tmp_path / "Annotations.txt").write_text("Category&VideoID&Quality&StartTime&EndTime\n" + "".join(r.line + "\n" for r in rows))
    notes = assemble_ave(tmp_path, "vgg19-vggish")
    assert any(n.startswith("a: 12 segments") for n in notes) and any(n.startswith("c: 9 segments") for n in notes)
    data = load_ave(tmp_path, "vgg19-vggish")
    audio, visual = data.features(np.arange(len(rows)))
    assert visual.shape == (4, 10, 7, 7, 512) and audio.shape == (4, 10, 128)
    for n, r in enumerate(rows):
        f = feats[r.video_id]
        k = min(10, f.num_snippets)
        assert torch.equal(visual[n, :k], f.visual_segments()[:k]) and torch.equal(audio[n, :k], f.audio[:k])
    assert torch.equal(audio[0, 9], feats["c"].audio[8])  # the short clip repeats its last segment
    assert not list(tmp_path.glob(".*.tmp"))


def test_ave_without_annotations_writes_the_row_order(tmp_path):
    ext = VGG()
    for vid in ("z", "m"):
        write_features(ext.features(10, seed=len(vid) + ord(vid)), tmp_path, vid, ext)
    assemble_ave(tmp_path, "vgg19-vggish")
    assert (tmp_path / ORDER_FILE).read_text().split() == ["m", "z"]


def test_a_crash_mid_write_leaves_no_half_file_and_no_complete_marker(tmp_path, monkeypatch):
    ext = I3D()
    old = ext.features(5, seed=7)
    write_features(old, tmp_path, "v", ext)
    calls = {"n": 0}
    real_save = np.save

    def failing_save(f, arr, **kw):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 2:  # the flow file: write some bytes, then die
            f.write(b"\x93NUMPY partial")
            raise OSError(28, "No space left on device")
        return real_save(f, arr, **kw)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError):
        write_features(ext.features(5, seed=8), tmp_path, "v", ext)
    assert not list(tmp_path.glob(".*"))  # no temporary left behind
    assert not (tmp_path / "v.json").exists()  # not marked complete: resume will redo it
    assert np.array_equal(np.load(tmp_path / "v_flow.npy"), old.visual[:, 1024:].numpy())  # old file intact, not torn
