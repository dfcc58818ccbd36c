"""`avlocate weights list | pull | import --as | verify | path` against a local manifest and server."""
import functools
import hashlib
import http.server
import json
import threading
import time

import pytest
import torch


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the server's access log out of captured stderr
            pass

    handler = functools.partial(Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_pull_pins_on_first_download_and_verify_catches_tampering(cli, tmp_path, manifest, server, home):
    root, url = server
    payload = b"weights bytes " * 1000
    (root / "w.bin").write_bytes(payload)
    manifest({"thing": {"file": "thing.safetensors", "url": f"{url}/w.bin", "sha256": None}})
    r = cli("weights", "pull", "thing")
    assert r.code == 0, r.err
    assert (home / "thing.safetensors").read_bytes() == payload
    assert json.loads((home / "pins.json").read_text())["thing.safetensors"] == hashlib.sha256(payload).hexdigest()
    assert not list(home.glob(".*part"))  # no temporary file left behind
    r = cli("weights", "verify", "thing")
    assert r.code == 0 and r.out.startswith("ok")
    (home / "thing.safetensors").write_bytes(payload + b"x")
    r = cli("weights", "verify", "thing")
    assert r.code == 5 and "MISMATCH" in r.out
    r = cli("weights", "path", "thing")
    assert r.code == 0 and r.out.strip() == str(home / "thing.safetensors")


def test_pull_refuses_a_wrong_hash_and_keeps_nothing(cli, tmp_path, manifest, server, home):
    root, url = server
    (root / "w.bin").write_bytes(b"evil")
    manifest({"thing": {"file": "thing.safetensors", "url": f"{url}/w.bin", "sha256": "0" * 64}})
    r = cli("weights", "pull", "thing")
    assert r.code == 5 and "expected" in r.err and r.err.count("\n") == 1
    assert not (home / "thing.safetensors").exists()


def test_unreachable_url_fails_fast_with_the_offline_code(cli, tmp_path, manifest, home):
    manifest({"thing": {"file": "thing.safetensors", "url": "http://127.0.0.1:9/w.bin", "import": "vggish"}})
    t0 = time.monotonic()
    r = cli("weights", "pull", "thing", "--timeout", "3")
    assert r.code == 8 and "--from vggish" in r.err and r.err.count("\n") == 1
    assert time.monotonic() - t0 < 10


def test_no_url_and_missing_path_name_the_file_and_the_command(cli, home):
    r = cli("weights", "pull", "esgnet")  # no published weights anywhere
    assert r.code == 5 and "esgnet.safetensors" in r.err and "avlocate train" in r.err
    r = cli("weights", "path", "vggish")
    assert r.code == 5 and "vggish.safetensors" in r.err and "--from vggish" in r.err
    r = cli("weights", "list")
    assert r.code == 0 and "raft-sintel" in r.out and "lite-demo" in r.out


def test_import_as_a_manifest_name_pins_the_file(cli, tmp_path, home, i3d_rgb_state):
    """`--as NAME` imports with that manifest entry's converter (I3D's, a real layout smaller than
    VGGish's) and pins the file, so `weights verify` checks it."""
    torch.save(i3d_rgb_state, tmp_path / "i3d_rgb.pt")
    r = cli("weights", "import", tmp_path / "i3d_rgb.pt", "--as", "i3d-rgb")
    assert r.code == 0, r.err
    assert (home / "i3d_rgb.safetensors").is_file()
    r = cli("weights", "verify", "i3d-rgb")
    assert r.code == 0 and r.out.startswith("ok")


def test_a_partial_download_never_becomes_a_cached_file(cli, tmp_path, manifest, home):
    """The server promises 100000 bytes and hangs up after 10 (every time): one-line offline error,
    no installed file."""
    class Liar(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Liar)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        manifest({"thing": {"file": "thing.safetensors",
                                                    "url": f"http://127.0.0.1:{httpd.server_address[1]}/w"}})
        r = cli("weights", "pull", "thing", "--timeout", "5")
    finally:
        httpd.shutdown()
    assert r.code == 8 and r.err.count("\n") == 1, r.err
    assert not (home / "thing.safetensors").exists()
    # Only what cannot pass for a weight stays: the partial download (kept to resume) and lock files.
    left = [f for f in home.rglob("*") if f.is_file()]
    assert all(f.suffix in (".part", ".lock") for f in left), left
