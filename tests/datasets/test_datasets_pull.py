"""`avlocate datasets pull / verify / path / list` against local hosts: a raw-git host for the
annotations (checked against their sha256 / git blob id) and the Google Drive stand-in for the
feature archives, whose containers differ (zip, tar.gz, tar) and are told by content."""
from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from avlocate.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mini_data  # noqa: E402


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AVLOCATE_DATASETS", str(tmp_path / "table.json"))
    return tmp_path / "home"


def _err_lines(capsys) -> tuple[str, list[str]]:
    out, err = capsys.readouterr()
    return out, [line for line in err.splitlines() if line.strip()]


def test_datasets_pull_unav100_verify_and_path(tmp_path, home, git_host, drive, capsys):
    mini_data.serve(tmp_path / "table.json", git_host, drive, unav=mini_data.mini_unav_i3d())
    assert main(["datasets", "pull", "unav100"]) == 0
    out, err = _err_lines(capsys)
    folder = home / "datasets" / "unav100"
    assert out.strip() == str(folder)
    feats = folder / "features" / "i3d-vggish"
    names = sorted(p.name for p in feats.iterdir())
    assert len(names) == 12 and sum(n.endswith("_rgb.npy") for n in names) == 4
    assert np.load(feats / names[0]).shape[1] in (1024, 128)
    assert not (folder / "downloads").exists()  # archives removed once unpacked
    record = json.loads((folder / "pulled.json").read_text())
    assert set(record["files"]) == {"annotations", "i3d-rgb", "i3d-flow", "vggish"}
    assert all(len(v["sha256"]) == 64 for v in record["files"].values())
    assert main(["datasets", "verify", "unav100"]) == 0
    assert capsys.readouterr().out.startswith("ok: unav100 (i3d-vggish)")
    assert main(["datasets", "path", "unav100"]) == 0
    assert capsys.readouterr().out.strip() == str(folder)
    # a second pull fetches nothing
    before = len(drive.served())
    assert main(["datasets", "pull", "unav100"]) == 0
    assert len(drive.served()) == before
    capsys.readouterr()
    # verify names a missing feature file and a wrong width
    (feats / names[0]).unlink()
    np.save(feats / names[1], np.zeros((3, 7), np.float32))
    assert main(["datasets", "verify", "unav100"]) == 2
    _, err = _err_lines(capsys)
    assert len(err) == 1 and names[0] in err[0] and "expected [T," in err[0]


def test_datasets_pull_annotations_failing_their_check_are_not_kept(tmp_path, home, git_host, drive, capsys):
    recs = mini_data.serve(tmp_path / "table.json", git_host, drive, unav=mini_data.mini_unav_i3d())
    path = recs["unav100"]["annotations"][0]["source"].split("/", 3)[3]
    git_host.files[path] = git_host.files[path].replace(b"train", b"trian", 1)  # the host changed it
    assert main(["datasets", "pull", "unav100"]) == 5
    _, err = _err_lines(capsys)
    assert len(err) == 1 and "fails its check" in err[0]
    assert not home.exists()  # nothing behind


@pytest.mark.parametrize("damage", ["truncated", "dotdot"])
def test_datasets_pull_corrupt_or_hostile_archive(tmp_path, home, git_host, drive, capsys, damage):
    ann, files = mini_data.mini_unav_i3d()
    if damage == "truncated":
        files["i3d-flow"] = files["i3d-flow"][: len(files["i3d-flow"]) // 2]
    else:
        files["i3d-flow"] = mini_data.tar_bytes({"flow/a_flow.npy": b"x" * 10, "../../evil_flow.npy": b"y" * 10})
    mini_data.serve(tmp_path / "table.json", git_host, drive, unav=(ann, files))
    assert main(["datasets", "pull", "unav100"]) == 2
    _, err = _err_lines(capsys)
    assert len(err) == 1 and ("corrupt" in err[0] or "outside the target" in err[0])
    folder = home / "datasets" / "unav100"
    assert not list(folder.rglob("*_flow.npy")) and not list(tmp_path.rglob("evil_flow.npy"))
    assert not list(folder.rglob(".unpack-*"))
    record = json.loads((folder / "pulled.json").read_text())
    assert "i3d-flow" not in record["files"] and "i3d-rgb" in record["files"]  # what passed stays (resume)


def test_datasets_pull_drive_refusal_is_one_line_exit_8(tmp_path, home, git_host, drive, capsys):
    mini_data.serve(tmp_path / "table.json", git_host, drive, unav=mini_data.mini_unav_i3d(), drive_mode="quota")
    assert main(["datasets", "pull", "unav100"]) == 8
    _, err = _err_lines(capsys)
    assert len(err) == 1
    assert "14i0F37OKmDJ5yhd_tThtBbVUqKt_NqbZ" in err[0] and "--from DIR" in err[0] and "quota" in err[0]


def test_datasets_pull_from_a_folder_without_network(tmp_path, home, monkeypatch, capsys):
    """The manual way: files downloaded by hand, any archive names, taken by content."""
    ann, files = mini_data.mini_unav_i3d()
    hand = tmp_path / "by-hand"
    hand.mkdir()
    (hand / "unav100_annotations.json").write_bytes(ann)
    for i, data in enumerate(files.values()):
        (hand / f"download ({i})").write_bytes(data)
    import hashlib

    records = mini_data.as_records(mini_data.BUILTIN)
    records[0]["annotations"][0]["check"] = f"sha256:{hashlib.sha256(ann).hexdigest()}"
    (tmp_path / "table.json").write_text(json.dumps({"datasets": records}))
    monkeypatch.setenv("AVLOCATE_OFFLINE", "1")
    assert main(["datasets", "pull", "unav100", "--from", str(hand)]) == 0
    capsys.readouterr()
    assert main(["datasets", "verify", "unav100"]) == 0
    assert sorted(p.name for p in hand.iterdir())[0] == "download (0)"  # the user's files are left as they were


def test_datasets_one_peace_is_baidu_only(home, monkeypatch, capsys):
    monkeypatch.delenv("AVLOCATE_DATASETS")
    assert main(["datasets", "pull", "unav100", "--features", "one-peace"]) == 2
    _, err = _err_lines(capsys)
    assert len(err) == 1 and "Baidu only" in err[0] and "--from DIR" in err[0]
    assert not home.exists()


def test_datasets_list_json_names_every_source_and_check(monkeypatch, capsys):
    monkeypatch.delenv("AVLOCATE_DATASETS", raising=False)
    assert main(["datasets", "list", "--json"]) == 0
    data = {d["name"]: d for d in json.loads(capsys.readouterr().out)["datasets"]}
    assert set(data) == {"unav100", "ave"}
    files = [f for d in data.values() for f in d["annotations"] + [x for fs in d["features"].values() for x in fs["files"]]]
    assert all(f["source"] and f["check"] for f in files)
    by_source = {f["source"]: f["check"] for f in files}
    # the pinned checks are DATA_SOURCES.md's (when the shared folder is beside the project)
    sources_md = Path(__file__).resolve().parents[2].parent / "shared" / "DATA_SOURCES.md"
    if sources_md.is_file():
        text = sources_md.read_text()
        for check in by_source.values():
            if check != "none":
                assert check.split(":")[1] in text, check
        for src in by_source:
            key = src[6:] if src.startswith("drive:") else src.rsplit("/", 1)[-1]
            assert key in text, src
    assert data["unav100"]["features"]["one-peace"]["unavailable"].startswith("ONE-PEACE features are on Baidu only")


def _has_route(host: str) -> bool:
    try:
        socket.create_connection((host, 443), timeout=5).close()
        return True
    except OSError:
        return False


def test_datasets_pull_unav100_without_a_route_fails_fast(tmp_path, monkeypatch, capsys):
    """Done-when: no route to the data hosts -> within 60 s, exit 8, one line naming the source and
    the manual way, nothing left behind. Skipped on a machine that can reach the host."""
    if _has_route("raw.githubusercontent.com"):
        pytest.skip("this machine reaches raw.githubusercontent.com: the test is for one without a route")
    home = tmp_path / "home"
    monkeypatch.setenv("AVLOCATE_HOME", str(home))
    for name in ("AVLOCATE_DATASETS", "AVLOCATE_OFFLINE"):  # the built-in table, online
        monkeypatch.delenv(name, raising=False)
    capsys.readouterr()
    start = time.monotonic()
    code = main(["datasets", "pull", "unav100"])
    took = time.monotonic() - start
    _, err = capsys.readouterr()
    assert code == 8, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "raw.githubusercontent.com/ttgeng233/UnAV" in lines[0] and "--from DIR" in lines[0]
    assert took < 60
    assert not home.exists()


def test_datasets_one_peace_from_a_folder(tmp_path, home, monkeypatch, capsys):
    """Baidu-only features, downloaded by hand, come in with --from (loose .npy files here)."""
    import hashlib

    rng = np.random.default_rng(0)
    ann, _ = mini_data.unav_annotations([20, 24], 1, rng, 16.0, 16, 4)
    hand = tmp_path / "baidu"
    hand.mkdir()
    raw = json.dumps(ann).encode()
    (hand / "unav100_annotations.json").write_bytes(raw)
    for vid in ann["database"]:
        np.save(hand / f"{vid}_one_peace_video_finetune.npy", rng.standard_normal((20, 1536)).astype(np.float32))
        np.save(hand / f"{vid}_one_peace_audio.npy", rng.standard_normal((20, 1536)).astype(np.float32))
    records = mini_data.as_records(mini_data.BUILTIN)
    records[0]["annotations"][0]["check"] = f"sha256:{hashlib.sha256(raw).hexdigest()}"
    (tmp_path / "table.json").write_text(json.dumps({"datasets": records}))
    monkeypatch.setenv("AVLOCATE_OFFLINE", "1")
    assert main(["datasets", "pull", "unav100", "--features", "one-peace", "--from", str(hand)]) == 0
    capsys.readouterr()
    assert main(["datasets", "verify", "unav100", "--features", "one-peace"]) == 0
    assert len(list((home / "datasets" / "unav100" / "features" / "one-peace").iterdir())) == 4


def test_datasets_pull_refuses_a_download_that_cannot_fit(tmp_path, home, git_host, drive, monkeypatch, capsys):
    from avlocate.datasets import unpack as unpack_mod
    from avlocate.datasets.fetch import approx_bytes

    assert approx_bytes("5.55 GB") == 5_550_000_000 and approx_bytes("2,991,422 bytes") == 2_991_422
    assert approx_bytes("unknown") is None
    mini_data.serve(tmp_path / "table.json", git_host, drive, unav=mini_data.mini_unav_i3d())
    monkeypatch.setattr(unpack_mod, "free_bytes", lambda path: 10**9)  # 1 GB free: the 5.55 GB archive cannot fit
    assert main(["datasets", "pull", "unav100"]) == 7
    _, err = _err_lines(capsys)
    assert len(err) == 1 and "i3d-rgb is 5.55 GB" in err[0]
    assert drive.served() == []  # refused before any Drive byte moved


def test_datasets_pull_refetches_deleted_features_against_the_recorded_sha256(tmp_path, home, git_host, drive, capsys):
    ann, files = mini_data.mini_unav_i3d()
    mini_data.serve(tmp_path / "table.json", git_host, drive, unav=(ann, files))
    assert main(["datasets", "pull", "unav100"]) == 0
    feats = home / "datasets" / "unav100" / "features" / "i3d-vggish"
    for p in feats.glob("*_flow.npy"):
        p.unlink()
    drive.files["15by2wgj6ty9bsxOcmeFhT4-M3xOvUBG9"].data = mini_data.tar_bytes({"x_flow.npy": b"changed"})
    capsys.readouterr()
    assert main(["datasets", "pull", "unav100"]) == 5  # the archive changed upstream since the first pull
    _, err = _err_lines(capsys)
    assert len(err) == 1 and "pinned" in err[0]
    assert not list(feats.glob("*_flow.npy"))


def test_datasets_path_and_usage_errors_are_one_line(tmp_path, home, monkeypatch, capsys):
    monkeypatch.delenv("AVLOCATE_DATASETS")
    assert main(["datasets", "path", "ave"]) == 2
    assert main(["datasets", "pull", "nosuch"]) == 2
    assert main(["train", "--head", "esgnet", "--dataset", "unav100", "--annotations", str(tmp_path / "a.json")]) == 2
    assert main(["train", "--head", "esgnet", "--features", str(tmp_path)]) == 2
    _, err = _err_lines(capsys)
    assert len(err) == 4
    assert "not pulled" in err[0] and "no data set named 'nosuch'" in err[1]
    assert "drop --annotations" in err[2] and "give --dataset NAME" in err[3]
    assert not home.exists()
