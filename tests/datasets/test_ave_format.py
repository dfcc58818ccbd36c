"""AVE-format data: Annotations.txt + splits + .h5 features -> loader -> labels from the times."""
import numpy as np
import pytest
import torch

h5py = pytest.importorskip("h5py")

from avlocate.datasets.ave import (  # noqa: E402
    BACKGROUND, AVEAnnotation, load_ave, read_annotations, segment_labels, split_indices, write_ave,
)
from avlocate.datasets.unav import DatasetError  # noqa: E402

ROWS = [
    AVEAnnotation("Church bell", "vid0", "good", 0, 10),
    AVEAnnotation("Bark", "vid1", "good", 3, 7),
    AVEAnnotation("Race car, auto racing", "vid2", "bad", 2.5, 5.4),
    AVEAnnotation("Bark", "vid3", "good", 9, 10),
    AVEAnnotation("Bark", "vid1", "good", 3, 7),  # the same line twice (AVE has such videos)
    AVEAnnotation("Church bell", "vid4", "good", 0, 1),
]


@pytest.fixture()
def ave_dir(tmp_path):
    rng = np.random.default_rng(0)
    visual = rng.standard_normal((len(ROWS), 10, 7, 7, 512)).astype(np.float32)
    audio = rng.standard_normal((len(ROWS), 10, 128)).astype(np.float32)
    return write_ave(tmp_path / "ave", ROWS, visual, audio, {"train": [0, 1, 4, 3], "test": [5, 2]}), visual, audio


def test_labels_follow_the_annotation_times(ave_dir):
    root, visual, audio = ave_dir
    data = load_ave(root)
    assert data.classes == ["Church bell", "Bark", "Race car, auto racing", BACKGROUND]  # first appearance
    bg = 3
    expected = [
        [0] * 10,
        [bg, bg, bg, 1, 1, 1, 1, bg, bg, bg],  # [3, 7): segments 3..6
        [bg, bg, 2, 2, 2, bg, bg, bg, bg, bg],  # [2.5, 5.4): midpoints 2.5, 3.5, 4.5 inside
        [bg] * 9 + [1],
        [bg, bg, bg, 1, 1, 1, 1, bg, bg, bg],
        [0] + [bg] * 9,
    ]
    assert data.labels.shape == (6, 10, 4)
    assert data.labels.argmax(-1).tolist() == expected
    assert torch.all(data.labels.sum(-1) == 1)


def test_splits_read_features_in_annotation_order(ave_dir):
    root, visual, audio = ave_dir
    data = load_ave(root)
    train = data.split("train")
    assert train.indices.tolist() == [0, 1, 4, 3]  # the repeated line matched to its 2nd occurrence
    a, v, y = train.batch([3, 0, 2])  # any order, repeated reads fine
    np.testing.assert_array_equal(a.numpy(), audio[[3, 0, 4]])
    np.testing.assert_array_equal(v.numpy(), visual[[3, 0, 4]])
    assert v.shape == (3, 10, 7, 7, 512)
    torch.testing.assert_close(y, data.labels[[3, 0, 4]])
    a, v, y = data.split("test").load()
    np.testing.assert_array_equal(a.numpy(), audio[[5, 2]])


def test_official_order_files_take_precedence(ave_dir):
    root, _, _ = ave_dir
    with h5py.File(root / "val_order.h5", "w") as f:
        f.create_dataset("order", data=np.array([2, 5]))
    rows = read_annotations(root / "Annotations.txt")
    assert len(rows) == len(ROWS)  # the header line is skipped
    assert split_indices(root, "val", rows).tolist() == [2, 5]
    with pytest.raises(DatasetError, match="valSet.txt|val_order.h5"):
        (root / "val_order.h5").unlink()
        split_indices(root, "val", rows)


def test_malformed_inputs_are_dataset_errors(ave_dir, tmp_path):
    root, _, _ = ave_dir
    with h5py.File(root / "audio_feature.h5", "w") as f:
        f.create_dataset("avadataset", data=np.zeros((5, 10, 128), np.float32))  # one row short
    with pytest.raises(DatasetError, match="one row per line"):
        load_ave(root)
    bad = tmp_path / "Annotations.txt"
    bad.write_text("Bark&vid&good&7&3\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="bad event"):
        read_annotations(bad)


def test_clip_clap_layout_with_label_text(tmp_path):
    rng = np.random.default_rng(1)
    rows = ROWS[:4]
    events = ["Race car, auto racing", "Bark", "Church bell"]  # label_text.h5 fixes the order
    clip, clap = rng.standard_normal((3, 512)), rng.standard_normal((3, 512))
    root = write_ave(tmp_path / "avsgn", rows, rng.standard_normal((4, 10, 512)), rng.standard_normal((4, 10, 512)),
                     {"train": [0, 1, 2, 3]}, layout="clip-clap", label_text=(events, clip, clap))
    data = load_ave(root, layout="clip-clap")
    assert data.classes == events + [BACKGROUND]
    assert data.labels[0].argmax(-1).tolist() == [2] * 10
    np.testing.assert_allclose(data.text_clap.numpy(), clap, rtol=1e-6)
    a, v, _ = data.split("train").load()
    assert a.shape == v.shape == (4, 10, 512)


def test_segment_labels_on_other_lengths():
    rows = [AVEAnnotation("x", "v", "good", 1, 3)]
    assert segment_labels(rows, ["x", BACKGROUND], 4).argmax(-1).tolist() == [[1, 0, 0, 1]]
