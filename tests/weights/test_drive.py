"""The Google Drive client (avlocate.weights.drive) against a local Drive stand-in reached as an
HTTPS proxy (drive_server.py): gdown's real handling of Drive's pages runs; nothing is mocked."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from avlocate.errors import DriveRefusedError, OfflineError

REPO = Path(__file__).resolve().parents[2]
MANUAL = "avlocate weights import FILE --from official-unav"


def _leftovers(folder: Path) -> list[str]:
    """What is left that is not a lock file (which cannot pass for a checkpoint)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.suffix != ".lock")


def _payload(n: int, seed: int = 0) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}-{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


def test_drive_small_file_is_fetched_verified_and_renamed(drive, tmp_path):
    from drive_server import DriveFile

    from avlocate.weights.drive import download_drive_file

    data = _payload(50_000)
    drive.files["small-id"] = DriveFile(data, "small.bin", "direct")
    got = download_drive_file("small-id", tmp_path / "x" / "small.bin", what="small.bin", manual=MANUAL)
    assert got.path == tmp_path / "x" / "small.bin" and got.path.read_bytes() == data
    assert got.size == len(data) and got.sha256 == hashlib.sha256(data).hexdigest()
    assert _leftovers(tmp_path / "x") == ["small.bin"]


def test_drive_large_file_passes_the_confirmation_page(drive, tmp_path):
    from drive_server import DriveFile

    from avlocate.weights.drive import download_drive_file

    data = _payload(300_000, seed=1)
    drive.files["big-id"] = DriveFile(data, "big.pth.tar", "confirm")
    got = download_drive_file("big-id", tmp_path / "big.pth.tar", what="big.pth.tar", manual=MANUAL)
    assert got.path.read_bytes() == data
    hosts = [h for h, _, _ in drive.requests]
    assert hosts[0] == "drive.google.com" and "drive.usercontent.google.com" in hosts  # the form was followed


@pytest.mark.parametrize("mode, said", [("quota", "quota exceeded"), ("page", "web page"),
                                        ("page-attachment", "web page")])
def test_drive_refused_file_is_one_line_exit_8_and_leaves_nothing(drive, tmp_path, mode, said):
    from drive_server import DriveFile

    from avlocate.weights.drive import download_drive_file

    drive.files["1qiC2osEaBSH8HFvF0WY_535F21CM3JXj"] = DriveFile(_payload(1000), "unav.pth.tar", mode)
    with pytest.raises(DriveRefusedError) as err:
        download_drive_file("1qiC2osEaBSH8HFvF0WY_535F21CM3JXj", tmp_path / "unav.pth.tar", what="unav.pth.tar",
                            manual=MANUAL)
    msg = str(err.value)
    assert err.value.exit_code == 8 and "\n" not in msg
    assert said in msg and "1qiC2osEaBSH8HFvF0WY_535F21CM3JXj" in msg
    assert "https://drive.google.com/file/d/1qiC2osEaBSH8HFvF0WY_535F21CM3JXj" in msg and f"`{MANUAL}`" in msg
    assert _leftovers(tmp_path) == []


def test_drive_resumes_a_cut_transfer_with_a_range_request(drive, tmp_path):
    """Every transfer is cut after 600 kB until the first call gives up (gdown's own retries
    resume too); the next call asks only for the rest. gdown writes whole 512 KiB chunks, so the
    partial file grows by those."""
    from drive_server import DriveFile

    from avlocate.weights.drive import download_drive_file

    data = _payload(3_000_000, seed=2)
    drive.files["cut-id"] = DriveFile(data, "cut.bin", "confirm")
    drive.cut_after, drive.cuts_left = 600_000, 3  # as many cuts as gdown's attempts: the first call fails
    with pytest.raises(OfflineError) as err:
        download_drive_file("cut-id", tmp_path / "cut.bin", what="cut.bin", manual=MANUAL, timeout=5)
    assert "\n" not in str(err.value) and "resume" in str(err.value)
    assert not (tmp_path / "cut.bin").exists()
    parts = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert len(parts) == 1  # nothing named like the file
    kept = parts[0].stat().st_size
    assert 0 < kept < len(data)
    drive.cuts_left = 0
    got = download_drive_file("cut-id", tmp_path / "cut.bin", what="cut.bin", manual=MANUAL)
    assert got.path.read_bytes() == data and got.sha256 == hashlib.sha256(data).hexdigest()
    assert drive.served()[-1] == ("cut-id", f"bytes={kept}-")
    assert _leftovers(tmp_path) == ["cut.bin"]


def test_drive_pinned_sha256_mismatch_is_refused_and_removed(drive, tmp_path):
    from drive_server import DriveFile

    from avlocate.errors import WeightsError
    from avlocate.weights.drive import download_drive_file

    drive.files["pin-id"] = DriveFile(_payload(5000), "p.bin", "direct")
    with pytest.raises(WeightsError, match="pinned"):
        download_drive_file("pin-id", tmp_path / "p.bin", what="p.bin", manual=MANUAL, expect_sha256="0" * 64)
    assert _leftovers(tmp_path) == []


def test_drive_two_processes_pulling_at_once_download_once(drive, tmp_path):
    """The first process holds the lock while the server holds its transfer; the second waits,
    then finds the verified file: one transfer, one file, both report the same sha256."""
    import threading

    from drive_server import DriveFile

    data = _payload(200_000, seed=3)
    drive.files["two-id"] = DriveFile(data, "two.bin", "direct")
    drive.hold = threading.Event()
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from avlocate.weights.drive import download_drive_file
        got = download_drive_file("two-id", Path(sys.argv[1]), what="two.bin", manual="x")
        print(got.sha256)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    dest = tmp_path / "two.bin"
    first = subprocess.Popen([sys.executable, "-c", code, str(dest)], env=env, stdout=subprocess.PIPE, text=True)
    assert drive.started.wait(60), "the first download never reached the server"
    second = subprocess.Popen([sys.executable, "-c", code, str(dest)], env=env, stdout=subprocess.PIPE, text=True)
    lock = tmp_path / ".locks" / "two.bin.lock"
    drive.hold.set()  # whenever the second one reaches the lock, the first one still holds it or is done
    out1, _ = first.communicate(timeout=60)
    out2, _ = second.communicate(timeout=60)
    assert first.returncode == 0 and second.returncode == 0
    assert out1.strip() == out2.strip() == hashlib.sha256(data).hexdigest()
    assert len(drive.served()) == 1 and dest.read_bytes() == data and lock.exists()
    assert _leftovers(tmp_path) == ["two.bin"]


@pytest.mark.parametrize("switch", ["AVLOCATE_OFFLINE", "HF_HUB_OFFLINE"])
def test_drive_offline_switch_stops_before_any_request(drive, tmp_path, monkeypatch, switch):
    from drive_server import DriveFile

    from avlocate.weights.drive import download_drive_file

    drive.files["off-id"] = DriveFile(b"x" * 10, "off.bin", "direct")
    monkeypatch.setenv(switch, "1")
    with pytest.raises(OfflineError, match=switch):
        download_drive_file("off-id", tmp_path / "off.bin", what="off.bin", manual=MANUAL)
    assert drive.requests == [] and _leftovers(tmp_path) == []


def test_drive_unreachable_host_is_one_line_within_30_s(tmp_path, monkeypatch, unused_port):
    from avlocate.weights.drive import download_drive_file

    monkeypatch.setenv("AVLOCATE_DRIVE_ENDPOINT", f"http://127.0.0.1:{unused_port}")
    for switch in ("AVLOCATE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(switch, raising=False)
    t0 = time.monotonic()
    with pytest.raises(OfflineError) as err:
        download_drive_file("gone-id", tmp_path / "g.bin", what="g.bin", manual=MANUAL)
    assert time.monotonic() - t0 < 30
    msg = str(err.value)
    assert "\n" not in msg and "gone-id" in msg and "https://drive.google.com/file/d/gone-id" in msg
    assert not tmp_path.joinpath("g.bin").exists() and _leftovers(tmp_path) == []
