"""`avlocate weights pull` / first-use fetching against real HTTP servers on 127.0.0.1 (see
conftest.py): upstream formats with random weights of the real architectures, verified by the
same checks as the real sources (torch.hub's sha256 prefix, git blob ids, the hub's checksum)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def _git_blob_id(path: Path) -> str:
    """The id git itself computes: an oracle independent of avlocate's implementation."""
    return subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True).stdout.strip()


def _leftovers(home: Path) -> list[Path]:
    """Files under home other than lock files (which cannot pass for a weight)."""
    return [f for f in home.rglob("*") if f.is_file() and f.suffix != ".lock"] if home.exists() else []


def _subprocess_env(**changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def _saved(state: dict) -> bytes:
    """What torch.save writes for ``state`` (served from memory: no upstream copy on disk)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def test_pull_downloads_a_git_blob_checked_i3d_converts_it_and_the_extractor_finds_it(cli, tmp_path, manifest,
                                                                                       file_host, home, i3d_rgb_state):
    """video_features' i3d_rgb.pt layout (a pickled state dict): fetched, checked against its git
    blob id, converted by the import code, installed where the i3d-vggish extractor looks."""
    from safetensors.torch import load_file

    from avlocate.features.i3d_vggish import _find_weights

    state = i3d_rgb_state
    upstream = tmp_path / "i3d_rgb.pt"  # on disk for `git hash-object`, removed before the pull
    upstream.write_bytes(_saved(state))
    file_host.files["models/i3d/checkpoints/i3d_rgb.pt"] = upstream.read_bytes()
    manifest({"i3d-rgb": {
        "file": "i3d_rgb.safetensors", "source": f"{file_host.url}/models/i3d/checkpoints/i3d_rgb.pt",
        "check": f"git-blob-sha1:{_git_blob_id(upstream)}", "import": "i3d-rgb", "extractors": ["i3d-vggish"]}})
    upstream.unlink()
    r = cli("weights", "pull", "i3d-rgb")
    assert r.code == 0, r.err
    installed = home / "i3d_rgb.safetensors"
    assert r.out.strip() == str(installed)
    converted = load_file(str(installed))
    assert converted.keys() == state.keys() and all(torch.equal(converted[k], v) for k, v in state.items())
    assert _find_weights("i3d-rgb") == str(installed)
    assert not (home / "downloads" / "i3d_rgb.pt").exists()  # the upstream copy is gone once converted
    assert sorted(f.name for f in _leftovers(home)) == ["i3d_rgb.safetensors", "pins.json"]
    # a second pull is a no-op: nothing is fetched again
    n = len(file_host.gets())
    assert cli("weights", "pull", "i3d-rgb").code == 0 and len(file_host.gets()) == n


def test_pull_checks_the_torch_hub_hash_prefix_of_a_release_file(cli, manifest, file_host, home, i3d_rgb_state):
    """A torch.hub release file (torchvggish's and torchvision's convention:
    `<name>-<first 8 hex of its sha256>.pth`, a state dict), checked by that prefix and converted.
    I3D's layout (51 MB) stands in for VGGish's (288 MB): the check and the pull's conversion step
    are tested here, the VGGish converter in tests/features/test_i3d_vggish_extractor.py."""
    from safetensors.torch import load_file

    state = i3d_rgb_state
    data = _saved(state)
    prefix = hashlib.sha256(data).hexdigest()[:8]
    file_host.files[f"v0.1/i3d_rgb-{prefix}.pth"] = data
    manifest({"i3d-rgb": {
        "file": "i3d_rgb.safetensors", "source": f"{file_host.url}/v0.1/i3d_rgb-{prefix}.pth",
        "check": f"sha256-prefix:{prefix}", "import": "i3d-rgb"}})
    r = cli("weights", "pull", "i3d-rgb")
    assert r.code == 0, r.err
    converted = load_file(str(home / "i3d_rgb.safetensors"))
    assert converted.keys() == state.keys() and all(torch.equal(converted[k], v) for k, v in state.items())
    listed = {row["name"]: row for row in json.loads(cli("weights", "list", "--json").out)}
    assert listed["i3d-rgb"]["present"] is True and listed["i3d-rgb"]["check"] == f"sha256-prefix:{prefix}"


def test_pull_refuses_a_download_that_fails_its_check_and_removes_it(cli, tmp_path, manifest, monkeypatch, file_host, home):
    file_host.files["vgg19-dcbb9e9d.pth"] = b"not the file whose sha256 starts with dcbb9e9d" * 100
    manifest({"vgg19": {
        "file": "vgg19.safetensors", "source": f"{file_host.url}/vgg19-dcbb9e9d.pth",
        "check": "sha256-prefix:dcbb9e9d", "import": "vgg19"}})
    r = cli("weights", "pull", "vgg19")
    assert r.code == 5 and r.err.count("\n") == 1, r.err
    assert "vgg19-dcbb9e9d.pth" in r.err and "fails its check" in r.err and "removed" in r.err
    assert _leftovers(home) == []  # neither the download, nor a .part, nor a converted file


def test_pull_resumes_a_cut_download_with_a_range_request(cli, tmp_path, manifest, monkeypatch, file_host, home):
    """The server hangs up mid-file on every response: the first pull keeps the .part and says
    to run again; the second pull asks for the rest with Range and ends with the verified file."""
    payload = os.urandom(300_000)
    src = tmp_path / "blob.bin"
    src.write_bytes(payload)
    file_host.files["blob.bin"] = payload
    file_host.cut_after, file_host.cuts_left = 50_000, 3  # 1 attempt + 2 automatic resumes, all cut
    manifest({"blob": {
        "file": "blob.safetensors", "source": f"{file_host.url}/blob.bin", "check": f"git-blob-sha1:{_git_blob_id(src)}"}})
    r = cli("weights", "pull", "blob")
    assert r.code == 8 and r.err.count("\n") == 1 and "again to resume" in r.err, r.err
    part = home / "downloads" / "blob.bin.part"
    assert part.stat().st_size == 150_000  # three cut responses, each resumed where the last stopped
    assert not (home / "blob.safetensors").exists()
    first = len(file_host.gets())
    r = cli("weights", "pull", "blob")
    assert r.code == 0, r.err
    assert (home / "blob.safetensors").read_bytes() == payload
    assert file_host.gets()[first:] == [("GET", "/blob.bin", "bytes=150000-")]
    assert not part.exists()


def test_two_processes_pulling_the_same_file_wait_for_each_other(tmp_path, file_host):
    payload = os.urandom(4_000_000)
    src = tmp_path / "big.bin"
    src.write_bytes(payload)
    file_host.files["big.bin"] = payload
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"models": {}, "files": {"big": {
        "file": "big.safetensors", "source": f"{file_host.url}/big.bin", "check": f"git-blob-sha1:{_git_blob_id(src)}"}}}))
    home = tmp_path / "home"
    env = _subprocess_env(AVLOCATE_HOME=str(home), AVLOCATE_MANIFEST=str(manifest), AVLOCATE_OFFLINE=None,
                          AVLOCATE_WEIGHTS=str(tmp_path / "nothing-here"))
    procs = [subprocess.Popen([sys.executable, "-m", "avlocate", "weights", "pull", "big"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert (home / "big.safetensors").read_bytes() == payload
    assert len(file_host.gets()) == 1  # the second process waited, then found it installed
    assert sorted(f.name for f in _leftovers(home)) == ["big.safetensors", "pins.json"]


def test_pull_from_the_hub_goes_through_hf_endpoint(tmp_path, fake_hub, monkeypatch):
    """roberta-base's tokenizer files (CLAP's text side) through huggingface_hub and HF_ENDPOINT,
    with the real manifest: hf://roberta-base/vocab.json. A fresh process, because huggingface_hub
    reads HF_ENDPOINT and HF_HUB_OFFLINE once, when it is imported; both pulls run in it."""
    vocab, merges = json.dumps({"<s>": 0, "hello": 1}).encode(), b"#version: 0.2\nh e\n"
    fake_hub.files["roberta-base/vocab.json"] = vocab
    fake_hub.files["roberta-base/merges.txt"] = merges
    home, hf_home = tmp_path / "home", tmp_path / "hf"
    env = _subprocess_env(AVLOCATE_HOME=str(home), HF_HOME=str(hf_home), HF_ENDPOINT=fake_hub.url,
                          HF_HUB_OFFLINE=None, TRANSFORMERS_OFFLINE=None, AVLOCATE_OFFLINE=None, AVLOCATE_MANIFEST=None,
                          AVLOCATE_WEIGHTS=str(tmp_path / "nothing-here"))
    pulls = ("from avlocate.cli import main; import sys;"
             "sys.exit(main(['weights', 'pull', 'clap-tokenizer-vocab']) or main(['weights', 'pull', 'clap-tokenizer-merges']))")
    r = subprocess.run([sys.executable, "-c", pulls], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    folder = home / "clap_roberta-base_tokenizer"
    assert (folder / "vocab.json").read_bytes() == vocab and (folder / "merges.txt").read_bytes() == merges
    assert list(hf_home.rglob("vocab.json"))  # the shared Hugging Face cache holds the hub copy
    assert any(m == "GET" and p == "/roberta-base/resolve/main/vocab.json" for m, p, _ in fake_hub.requests)
    from avlocate.features.clip_clap.weights import locate_clap_tokenizer

    monkeypatch.setenv("AVLOCATE_HOME", str(home))
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(home))
    assert locate_clap_tokenizer(None) == folder


@pytest.mark.parametrize("where", ["port", "dns"])
def test_pull_from_an_unreachable_host_fails_fast_in_one_line(cli, tmp_path, manifest, monkeypatch, home, unused_port, where):
    host = f"127.0.0.1:{unused_port}" if where == "port" else "weights.avlocate.invalid"
    manifest({"i3d-rgb": {
        "file": "i3d_rgb.safetensors", "source": f"http://{host}/models/i3d/checkpoints/i3d_rgb.pt",
        "check": "git-blob-sha1:2a7c22e23e6c74f50a0166ce61110bccd2ab48bb", "import": "i3d-rgb"}})
    t0 = time.monotonic()
    r = cli("weights", "pull", "i3d-rgb")
    assert time.monotonic() - t0 < 30
    assert r.code == 8 and r.err.count("\n") == 1, r.err
    assert "i3d_rgb.pt" in r.err and f"http://{host}/" in r.err and "avlocate weights import FILE --from i3d-rgb" in r.err
    assert not home.exists()  # not even a folder or a lock file is left behind


def test_pull_from_an_unreachable_hub_fails_fast_in_one_line(tmp_path, unused_port):
    env = _subprocess_env(AVLOCATE_HOME=str(tmp_path / "home"), HF_HOME=str(tmp_path / "hf"),
                          HF_ENDPOINT=f"http://127.0.0.1:{unused_port}", HF_HUB_OFFLINE=None, TRANSFORMERS_OFFLINE=None, AVLOCATE_OFFLINE=None,
                          AVLOCATE_MANIFEST=None, AVLOCATE_WEIGHTS=str(tmp_path / "nothing-here"))
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "avlocate", "weights", "pull", "clip-vit-b-32"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert time.monotonic() - t0 < 30
    assert r.returncode == 8 and r.stderr.count("\n") == 1, r.stderr
    assert "open_clip_model.safetensors" in r.stderr and "laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in r.stderr
    assert "weights import FILE --from clip" in r.stderr
    assert not (tmp_path / "home").exists()


def test_first_use_fetch_says_what_and_how_big_then_downloads(tmp_path, manifest, monkeypatch, file_host, home):
    from avlocate.weights.fetch import ensure_extractor_weights

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    a, b = os.urandom(2_000_000), os.urandom(1000)
    file_host.files["a.bin"], file_host.files["b.bin"] = a, b
    manifest({
        "toy-a": {"file": "a.safetensors", "source": f"{file_host.url}/a.bin", "size": len(a),
                  "check": f"sha256:{hashlib.sha256(a).hexdigest()}", "extractors": ["toy"]},
        "toy-b": {"file": "b.safetensors", "source": f"{file_host.url}/b.bin", "extractors": ["toy"]},
        "other": {"file": "c.safetensors", "source": f"{file_host.url}/c.bin", "extractors": ["other"]}})
    lines: list[str] = []
    got = ensure_extractor_weights("toy", say=lines.append)
    assert got == [home / "a.safetensors", home / "b.safetensors"]
    assert len(lines) == 1 and "toy-a" in lines[0] and "2.0 MB" in lines[0] and "size unknown" in lines[0]
    assert (home / "a.safetensors").read_bytes() == a and (home / "b.safetensors").read_bytes() == b
    lines.clear()
    assert ensure_extractor_weights("toy", say=lines.append) == [] and lines == []  # all present now


@pytest.fixture
def vgg19_vggish_setup(tmp_path, monkeypatch, manifest, unset_env):
    """``setup(base_url)``: a model card on the vgg19-vggish extractor, whose weights are not
    installed, and a manifest whose vgg19/vggish sources are on ``base_url`` (nothing real is ever
    contacted); no offline switch is set."""

    def setup(base_url: str) -> None:
        cards = tmp_path / "cards"
        cards.mkdir()
        (cards / "toy-vscg.json").write_text(json.dumps({
            "name": "toy-vscg", "head": "vscg", "extractor": "vgg19-vggish", "classes": ["a", "b"],
            "weights_file": "toy-vscg.safetensors"}))
        manifest({
            "vgg19": {"file": "vgg19.safetensors", "source": f"{base_url}/vgg19-dcbb9e9d.pth",
                      "check": "sha256-prefix:dcbb9e9d", "import": "vgg19", "extractors": ["vgg19-vggish"]},
            "vggish": {"file": "vggish.safetensors", "source": f"{base_url}/vggish-10086976.pth",
                       "check": "sha256-prefix:10086976", "import": "vggish", "extractors": ["vgg19-vggish"]}})
        monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("AVLOCATE_WEIGHTS", str(cards))
        unset_env("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "AVLOCATE_OFFLINE")

    return setup


@pytest.mark.parametrize("switch", ["AVLOCATE_OFFLINE", "HF_HUB_OFFLINE", "--offline"])
def test_offline_switches_prevent_first_use_fetch(cli, file_host, vgg19_vggish_setup, monkeypatch, switch):
    """With an offline switch the run makes no request and fails with the missing-weights error."""
    vgg19_vggish_setup(file_host.url)
    args = ["run", REPO / "samples" / "demo1.mp4", "--model", "toy-vscg"]
    if switch == "--offline":
        args.append("--offline")
    else:
        monkeypatch.setenv(switch, "1")
    r = cli(*args)
    assert r.code == 5 and r.err.count("\n") == 1, r.err
    assert "downloading" not in r.err and "not found" in r.err
    assert file_host.requests == []


def test_first_use_run_says_what_it_downloads_then_fails_fast_on_an_unreachable_host(cli, tmp_path, unused_port,
                                                                                     vgg19_vggish_setup):
    """No switch: the run says in one line what it will download, tries, and fails in one line."""
    vgg19_vggish_setup(f"http://127.0.0.1:{unused_port}")
    t0 = time.monotonic()
    r = cli("run", REPO / "samples" / "demo1.mp4", "--model", "toy-vscg")
    assert time.monotonic() - t0 < 30
    lines = r.err.strip().splitlines()
    assert r.code == 8 and len(lines) == 2, r.err
    assert "downloading" in lines[0] and "vgg19 (" in lines[0] and "vggish (" in lines[0] and "--offline" in lines[0]
    assert "cannot download vgg19-dcbb9e9d.pth" in lines[1] and "weights import FILE --from vgg19" in lines[1]
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("offline", [False, True])
def test_first_use_extract_fetches_unless_offline(cli, tmp_path, file_host, vgg19_vggish_setup, offline):
    """`avlocate extract -e vgg19-vggish` fetches its missing weights like a run (here from a
    server that has none of them: 404 in one line); `--offline` makes no request at all."""
    vgg19_vggish_setup(file_host.url)
    r = cli("extract", REPO / "samples" / "demo1.mp4", "-e", "vgg19-vggish", "-o", tmp_path / "feats",
            *(["--offline"] if offline else []))
    lines = r.err.strip().splitlines()
    if offline:
        # extract reports the video as failed (exit 1) with the missing-weights line; nothing fetched
        assert r.code == 1 and file_host.requests == [] and "downloading" not in r.err, r.err
        assert "vgg19.safetensors (needed by the vgg19-vggish extractor)" in r.err
        assert "`avlocate weights pull vgg19`" in r.err and "--from vgg19" in r.err
    else:
        assert r.code == 8 and len(lines) == 2 and "downloading" in lines[0], r.err
        assert "HTTP 404" in lines[1] and "vgg19-dcbb9e9d.pth" in lines[1]
        assert file_host.gets() == [("GET", "/vgg19-dcbb9e9d.pth", None)]


def test_pull_for_a_model_fetches_everything_its_extractor_needs(cli, tmp_path, manifest, monkeypatch, file_host, home):
    a, b = os.urandom(5000), os.urandom(7000)
    file_host.files["a.bin"], file_host.files["b.bin"] = a, b
    manifest({
        "toy-a": {"file": "a.safetensors", "source": f"{file_host.url}/a.bin", "extractors": ["toy"]},
        "toy-b": {"file": "b.safetensors", "source": f"{file_host.url}/b.bin", "extractors": ["toy", "other"]},
        "not-toy": {"file": "c.safetensors", "source": f"{file_host.url}/c.bin", "extractors": ["other"]}})
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "toy-model.json").write_text(json.dumps({"name": "toy-model", "head": "lite-av", "extractor": "toy",
                                                      "classes": ["x"], "weights_file": "toy-model.safetensors"}))
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(cards))
    r = cli("weights", "pull", "--for", "toy-model")
    assert r.code == 0, r.err
    assert r.out.split() == [str(home / "a.safetensors"), str(home / "b.safetensors")]
    assert (home / "a.safetensors").read_bytes() == a and (home / "b.safetensors").read_bytes() == b
    assert [p for _, p, _ in file_host.gets()] == ["/a.bin", "/b.bin"]
    assert cli("weights", "pull").code == 2 and cli("weights", "pull", "toy-a", "--for", "toy-model").code == 2


def test_list_json_shows_the_source_and_check_of_every_real_extractor_weight(cli, home, monkeypatch):
    """The bundled manifest: every real extractor file has an upstream source and a check."""
    from avlocate.weights.fetch import needed_by_model

    monkeypatch.delenv("AVLOCATE_MANIFEST", raising=False)
    r = cli("weights", "list", "--json")
    assert r.code == 0, r.err
    rows = {row["name"]: row for row in json.loads(r.out)}
    for name in ("clip-vit-b-32", "clap-htsat-tiny", "vgg19", "vggish", "i3d-rgb", "i3d-flow", "raft-sintel"):
        assert rows[name]["source"] and rows[name]["check"] and rows[name]["present"] is False, rows[name]
    assert rows["i3d-rgb"]["check"] == "git-blob-sha1:2a7c22e23e6c74f50a0166ce61110bccd2ab48bb"
    assert rows["vgg19"]["source"] == "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
    assert rows["vgg19"]["check"] == "sha256-prefix:dcbb9e9d"
    assert rows["clip-vit-b-32"]["check"] == "hub" and rows["clip-vit-b-32"]["source"].startswith("hf://laion/")
    assert rows["esgnet-demo"]["present"] is True and rows["esgnet"]["source"] is None  # unknown stays unknown
    assert all({"name", "source", "check", "present", "size"} <= row.keys() for row in rows.values())
    from avlocate.zeroshot.methods import DEFAULT_METHOD, weight_files

    assert {e.name for e in needed_by_model("zeroshot", weight_files(DEFAULT_METHOD))} == {  # av2a: OpenAI's CLIP
        "clip-vit-b-32-openai", "clap-htsat-tiny", "clap-tokenizer-vocab", "clap-tokenizer-merges"}
    assert rows["clip-vit-b-32-openai"]["source"] == "hf://timm/vit_base_patch32_clip_224.openai/open_clip_model.safetensors"
    # the official checkpoint first (the host most likely to refuse), then the extractor's files
    assert [e.name for e in needed_by_model("unav")][0] == "unav"
    assert {e.name for e in needed_by_model("unav")} == {"unav", "i3d-rgb", "i3d-flow", "raft-sintel", "vggish"}


def test_download_progress_shows_on_a_terminal_and_nothing_when_piped(cli, tmp_path, manifest, home, file_host,
                                                                     monkeypatch):
    """Size and rate on a terminal (stderr a pty, a fresh process); not a byte on stderr when it
    is not a terminal (in-process, stderr captured)."""
    import pty

    payload = os.urandom(3_000_000)
    file_host.files["p.bin"] = payload
    path = manifest({"p": {"file": "p.safetensors", "source": f"{file_host.url}/p.bin",
                           "check": f"sha256:{hashlib.sha256(payload).hexdigest()}"}})
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "120")
    piped = cli("weights", "pull", "p")
    assert piped.code == 0 and piped.err == "", piped.err
    assert (home / "p.safetensors").read_bytes() == payload
    leader, follower = pty.openpty()
    env = _subprocess_env(AVLOCATE_HOME=str(tmp_path / "tty"), AVLOCATE_MANIFEST=str(path), AVLOCATE_OFFLINE=None,
                          AVLOCATE_WEIGHTS=str(tmp_path / "nothing-here"), TERM="xterm", COLUMNS="120")
    proc = subprocess.Popen([sys.executable, "-m", "avlocate", "weights", "pull", "p"], env=env,
                            stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the pty closes when the process exits
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=120) == 0
    os.close(leader)
    text = seen.decode(errors="replace")
    assert "p.bin" in text and "3.0 MB" in text and "/s" in text, text


def test_pull_starts_over_when_a_stale_part_does_not_fit_the_download(cli, tmp_path, manifest, monkeypatch, file_host, home):
    """A .part longer than the server's file (left by another version): the server answers the
    Range with 416, the pull starts over without Range and ends with the verified file."""
    payload = os.urandom(20_000)
    src = tmp_path / "w.bin"
    src.write_bytes(payload)
    file_host.files["w.bin"] = payload
    (home / "downloads").mkdir(parents=True)
    (home / "downloads" / "w.bin.part").write_bytes(b"x" * 30_000)
    manifest({"w": {"file": "w.safetensors", "source": f"{file_host.url}/w.bin",
                                            "check": f"git-blob-sha1:{_git_blob_id(src)}"}})
    r = cli("weights", "pull", "w")
    assert r.code == 0, r.err
    assert (home / "w.safetensors").read_bytes() == payload
    assert file_host.gets() == [("GET", "/w.bin", "bytes=30000-"), ("GET", "/w.bin", None)]


def test_first_use_batch_fetches_once_before_its_workers(cli, tmp_path, unused_port, vgg19_vggish_setup):
    """`batch` fetches in the parent (one line, then the one-line network error), not per video."""
    import shutil

    vgg19_vggish_setup(f"http://127.0.0.1:{unused_port}")
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(REPO / "samples" / "demo1.mp4", videos / "a.mp4")
    r = cli("batch", videos, "--out", tmp_path / "r.jsonl", "--model", "toy-vscg")
    lines = r.err.strip().splitlines()
    assert r.code == 8 and len(lines) == 2 and "downloading" in lines[0], r.err
    assert "cannot download vgg19-dcbb9e9d.pth" in lines[1]


def test_pull_reuses_a_verified_torch_hub_copy_without_the_network(cli, tmp_path, manifest, home, unused_port,
                                                                   i3d_rgb_state):
    """A file torch.hub already downloaded (same name, hash prefix verified) is converted in place
    (I3D's layout standing in for VGGish's, as in the hash-prefix test above)."""
    from safetensors.torch import load_file

    state = i3d_rgb_state
    data = _saved(state)
    prefix = hashlib.sha256(data).hexdigest()[:8]
    hub = tmp_path / "torch-home" / "hub" / "checkpoints"  # TORCH_HOME of the `home` fixture
    hub.mkdir(parents=True)
    (hub / f"i3d_rgb-{prefix}.pth").write_bytes(data)
    manifest({"i3d-rgb": {
        "file": "i3d_rgb.safetensors", "source": f"http://127.0.0.1:{unused_port}/i3d_rgb-{prefix}.pth",
        "check": f"sha256-prefix:{prefix}", "import": "i3d-rgb"}})
    r = cli("weights", "pull", "i3d-rgb")
    assert r.code == 0, r.err
    converted = load_file(str(home / "i3d_rgb.safetensors"))
    assert converted.keys() == state.keys() and all(torch.equal(converted[k], v) for k, v in state.items())
    assert (hub / f"i3d_rgb-{prefix}.pth").is_file()  # torch.hub's copy is not ours to delete
