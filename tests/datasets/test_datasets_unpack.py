"""Safe unpacking of data-set archives whose container is told by content (zip, tar, tar.gz,
one plain file): hostile members, corrupt archives and a full disk leave nothing behind."""
from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from avlocate.datasets import unpack as unpack_mod
from avlocate.datasets.unav import DatasetError
from avlocate.datasets.unpack import detect, unpack
from avlocate.errors import OutputError


def _npy(rows: int, dim: int, seed: int) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32))
    return buf.getvalue()


MEMBERS = {"feats/rgb/a_rgb.npy": _npy(5, 4, 0), "feats/rgb/b_rgb.npy": _npy(7, 4, 1), "feats/README.txt": b"hello"}


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tar(path: Path, members: dict[str, bytes], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _leftovers(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*"))


@pytest.mark.parametrize("kind,maker", [("zip", lambda p: _zip(p, MEMBERS)), ("tar", lambda p: _tar(p, MEMBERS)),
                                        ("tar.gz", lambda p: _tar(p, MEMBERS, "w:gz")),
                                        ("tar.xz", lambda p: _tar(p, MEMBERS, "w:xz"))])
def test_datasets_unpack_detects_by_content_and_flattens(tmp_path, kind, maker):
    archive = maker(tmp_path / "download.bin")  # the name says nothing: the content decides
    assert detect(archive) == kind
    target = tmp_path / "out" / "features"
    written = unpack(archive, target, members="*_rgb.npy")
    assert sorted(p.name for p in written) == ["a_rgb.npy", "b_rgb.npy"]
    assert sorted(p.name for p in target.iterdir()) == ["a_rgb.npy", "b_rgb.npy"]
    assert (target / "b_rgb.npy").read_bytes() == MEMBERS["feats/rgb/b_rgb.npy"]
    assert np.load(target / "a_rgb.npy").shape == (5, 4)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["features"]  # no staging folder left


def test_datasets_unpack_keeps_tree_and_plain_files(tmp_path):
    archive = _zip(tmp_path / "x", MEMBERS)
    unpack(archive, tmp_path / "videos", flat=False)
    assert (tmp_path / "videos" / "feats" / "README.txt").read_bytes() == b"hello"
    npy = tmp_path / "one"
    npy.write_bytes(MEMBERS["feats/rgb/a_rgb.npy"])
    assert detect(npy) == "npy"
    (dest,) = unpack(npy, tmp_path / "plain", single_name="a_rgb.npy")
    assert dest == tmp_path / "plain" / "a_rgb.npy" and not npy.exists()


@pytest.mark.parametrize("maker", [_zip, _tar])
def test_datasets_unpack_refuses_a_dotdot_member(tmp_path, maker):
    archive = maker(tmp_path / "evil", {"ok_rgb.npy": _npy(2, 4, 0), "../escape_rgb.npy": _npy(2, 4, 1)})
    target = tmp_path / "data" / "features"
    with pytest.raises(DatasetError, match="outside the target folder") as info:
        unpack(archive, target)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "data").exists() and not (tmp_path / "escape_rgb.npy").exists()


def test_datasets_unpack_refuses_links(tmp_path):
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("a_rgb.npy")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(DatasetError, match="is a link"):
        unpack(archive, tmp_path / "t")
    assert not (tmp_path / "t").exists()
    zarch = tmp_path / "links.zip"
    with zipfile.ZipFile(zarch, "w") as zf:
        zi = zipfile.ZipInfo("b_rgb.npy")
        zi.external_attr = (0o120777 << 16)
        zf.writestr(zi, "/etc/passwd")
    with pytest.raises(DatasetError, match="is a link"):
        unpack(zarch, tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_datasets_unpack_corrupt_archives_leave_nothing(tmp_path):
    good = _zip(tmp_path / "good.zip", {"a_rgb.npy": _npy(50, 16, 0)})
    data = bytearray(good.read_bytes())
    data[60] ^= 0xFF  # inside the compressed member: its CRC fails
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="corrupt"):
        unpack(bad, tmp_path / "t1")
    gz = _tar(tmp_path / "good.tgz", {"a_rgb.npy": _npy(200, 16, 0)}, "w:gz")
    truncated = tmp_path / "cut.tgz"
    truncated.write_bytes(gz.read_bytes()[: len(gz.read_bytes()) // 2])
    with pytest.raises(DatasetError, match="corrupt|truncated"):
        unpack(truncated, tmp_path / "t2")
    page = tmp_path / "page"
    page.write_bytes(b"<!doctype html><html>quota exceeded</html>")
    with pytest.raises(DatasetError, match="not a zip or tar"):
        unpack(page, tmp_path / "t3", single_name="x.h5")
    for t in ("t1", "t2", "t3"):
        assert not any((tmp_path / t).rglob("*_rgb.npy")) if (tmp_path / t).exists() else True
        assert not list(tmp_path.glob(f".unpack-{t}*"))


def test_datasets_unpack_full_disk_is_refused_before_writing(tmp_path, monkeypatch):
    archive = _tar(tmp_path / "big.tar", {"a_rgb.npy": _npy(100, 64, 0), "b_rgb.npy": _npy(100, 64, 1)})
    needed = 2 * len(_npy(100, 64, 0))
    # a faked free-space answer: just under what the members plus the margin need
    monkeypatch.setattr(unpack_mod, "free_bytes", lambda path: needed + unpack_mod.FREE_MARGIN - 1)
    with pytest.raises(OutputError, match="free") as info:
        unpack(archive, tmp_path / "data" / "features")
    assert info.value.exit_code == 7
    assert not (tmp_path / "data").exists()
    monkeypatch.setattr(unpack_mod, "free_bytes", lambda path: needed + unpack_mod.FREE_MARGIN)
    assert len(unpack(archive, tmp_path / "data" / "features")) == 2
