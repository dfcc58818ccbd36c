"""Official localization checkpoints fetched on first use (#26), against the local Drive stand-in
(drive_server.py) and the local git-style raw host (conftest.py `file_host`). The served files
are in the official formats, built from the official state-dict layouts of ../shared/reference
with random weights: UnAV's `.pth.tar` (`state_dict_ema`, `module.` prefix) and VSCG's whole
pickled `vscg_net` module under a module path avlocate was never told about."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
UNAV_ID = "1qiC2osEaBSH8HFvF0WY_535F21CM3JXj"


def _leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.suffix != ".lock") \
        if folder.exists() else []


def _official_unav_pth_tar(reference_dir: Path, out: Path) -> dict:
    """The small UnAV model's state dict, saved as train.py saves its checkpoints."""
    small = reference_dir / "dense" / "unav" / "small"
    state = torch.load(small / "state_dict.pt", weights_only=True)
    torch.manual_seed(0)
    ema = {f"module.{k}": v + 0.01 * torch.randn_like(v) for k, v in state.items()}
    torch.save({"epoch": 7, "state_dict": {f"module.{k}": v for k, v in state.items()}, "state_dict_ema": ema}, out)
    return json.loads((small / "config.json").read_text())


def _unav_entry(tmp_path: Path, reference_dir: Path, drive) -> tuple[dict, list[str]]:  # noqa: ANN001
    from drive_server import DriveFile

    ckpt = tmp_path / "upstream.pth.tar"
    config = _official_unav_pth_tar(reference_dir, ckpt)
    (tmp_path / "small_config.json").write_text(json.dumps(config))
    drive.files[UNAV_ID] = DriveFile(ckpt.read_bytes(), "unav_unav100.pth.tar", "confirm")
    classes = [f"class {i}" for i in range(config["config"]["model"]["num_classes"])]
    (tmp_path / "classes.txt").write_text("\n".join(classes) + "\n")
    entry = {"head": "unav", "extractor": "i3d-vggish", "file": "unav.safetensors", "source": f"gdrive:{UNAV_ID}",
             "check": "structure+sha256-pin", "import": "official-unav", "import_config": "small_config.json",
             "sources": [{"source": f"gdrive:{UNAV_ID}", "check": "structure+sha256-pin",
                          "upstream": "unav_official.pth.tar"}]}
    return entry, classes


def test_official_checkpoint_unav_fetch_convert_pin_and_find_events(cli, tmp_path, manifest, monkeypatch, drive, home,
                                                                     reference_dir):
    from avlocate.features.base import Features
    from avlocate.pipeline.models import LoadedModel
    from avlocate.registry import HEADS
    from avlocate.timeline import Timeline
    from avlocate.weights.store import load_card, load_state_dict

    entry, classes = _unav_entry(tmp_path, reference_dir, drive)
    manifest(models={"unav": entry})
    r = cli("weights", "pull", "unav", "--classes", str(tmp_path / "classes.txt"))
    assert r.code == 0, r.err
    card_path = home / "unav.json"
    assert r.out.strip() == str(card_path)
    pins = json.loads((home / "pins.json").read_text())
    digest = pins["unav_official.pth.tar"]
    assert f"sha256 {digest}" in r.err  # printed, to compare with a colleague's
    assert _leftovers(home) == ["pins.json", "unav.json", "unav.safetensors"]  # the download was removed
    card = load_card("unav")
    assert card.classes == classes and card.extractor == "i3d-vggish"
    assert card.provenance["upstream"] == f"gdrive:{UNAV_ID}" and card.provenance["upstream_sha256"] == digest
    head_cls = HEADS.get(card.head)
    head = head_cls(head_cls.config_class(**card.head_config))
    state, wid = load_state_dict(card)
    head.load_state_dict(state, strict=True)
    # the EMA weights were converted (the official eval loads state_dict_ema)
    ema = torch.load(tmp_path / "upstream.pth.tar", weights_only=True)["state_dict_ema"]
    assert sum(v.numel() for v in state.values()) == sum(v.numel() for v in ema.values())
    model = LoadedModel(card, head.eval(), None, wid, torch.device("cpu"))
    torch.manual_seed(1)
    c = head.cfg
    feats = Features(torch.randn(40, c.input_dim_visual), torch.randn(40, c.input_dim_audio),
                     Timeline(c.fps, c.window, c.stride, duration=40 * c.stride / c.fps), "i3d-vggish")
    events, _ = model.predict(feats, threshold=0.0)
    duration = feats.timeline.duration
    assert events and all(e.label in classes and 0 <= e.start <= e.end <= duration for e in events)


def test_official_checkpoint_pin_refuses_a_changed_upstream(cli, tmp_path, manifest, monkeypatch, drive, home, reference_dir):
    entry, _ = _unav_entry(tmp_path, reference_dir, drive)
    manifest(models={"unav": entry})
    home.mkdir(parents=True)
    (home / "pins.json").write_text(json.dumps({"unav_official.pth.tar": "ab" * 32}))
    r = cli("weights", "pull", "unav", "--classes", str(tmp_path / "classes.txt"))
    assert r.code == 5 and len(r.err.strip().splitlines()) == 1 and "pinned" in r.err
    assert _leftovers(home) == ["pins.json"]


@pytest.mark.parametrize("mode", ["quota", "page-attachment"])
def test_official_checkpoint_refused_by_drive_is_one_line_and_nothing_is_left(cli, tmp_path, manifest, monkeypatch, drive,
                                                                                home, reference_dir, mode):
    entry, _ = _unav_entry(tmp_path, reference_dir, drive)
    drive.files[UNAV_ID].mode = mode
    manifest(models={"unav": entry})
    r = cli("weights", "pull", "unav", "--classes", str(tmp_path / "classes.txt"))
    assert r.code == 8, r.err
    line = r.err.strip()
    assert len(line.splitlines()) == 1 and UNAV_ID in line and f"https://drive.google.com/file/d/{UNAV_ID}" in line
    assert "`avlocate weights import FILE --from official-unav --name unav" in line
    assert _leftovers(home) == []


@contextlib.contextmanager
def _importable(name: str, mod: types.ModuleType):  # noqa: ANN202
    """``name`` (and its parent packages) importable while pickling, gone afterwards."""
    parts = name.split(".")
    added = []
    for i in range(1, len(parts)):
        parent = ".".join(parts[:i])
        if parent not in sys.modules:
            sys.modules[parent] = types.ModuleType(parent)
            added.append(parent)
    sys.modules[name] = mod
    setattr(sys.modules[".".join(parts[:-1])], parts[-1], mod) if len(parts) > 1 else None
    try:
        yield
    finally:
        for n in [name, *added]:
            sys.modules.pop(n, None)


def _pickled_vscg_under(module_name: str, reference_dir: Path, out: Path) -> dict[str, torch.Tensor]:
    """A whole `vscg_net` module (official keys/shapes, random values) pickled by torch.save with
    its class living in ``module_name`` — as an older layout of the repository would have it."""
    keys = json.loads((reference_dir / "vscg" / "fully" / "state_dict_keys.json").read_text())
    shapes = {k["key"]: k["shape"] for k in keys["keys"]}
    mod = types.ModuleType(module_name)

    class Part(torch.nn.Module):
        pass

    class vscg_net(torch.nn.Module):  # noqa: N801 - the official class name
        pass

    for cls in (Part, vscg_net):
        cls.__module__, cls.__qualname__ = module_name, cls.__name__
        setattr(mod, cls.__name__, cls)
    with _importable(module_name, mod):
        torch.manual_seed(2)
        root = vscg_net()
        state = {}
        for key, shape in shapes.items():
            *path, leaf = key.split(".")
            m = root
            for part in path:
                if part not in m._modules:
                    m.add_module(part, Part())
                m = m._modules[part]
            value = torch.randn(*shape) * 0.05
            m.register_parameter(leaf, torch.nn.Parameter(value))
            state[key] = value
        torch.save(root, out)
    return state


def test_official_checkpoint_vscg_from_the_git_host_under_a_historical_module_path(cli, tmp_path, manifest, monkeypatch,
                                                                                    file_host, home, reference_dir):
    """The first copy's state is not VSCG's (refused, never pinned); the second one is taken."""
    bad = tmp_path / "GTM3_295_fully7970.pt"
    _pickled_not_vscg(bad)
    ckpt = tmp_path / "GTM_295_fully7970.pt"
    _pickled_vscg_under("pretrained_layout.GTM3_model", reference_dir, ckpt)

    def blob_of(f: Path) -> str:
        return subprocess.run(["git", "hash-object", str(f)], capture_output=True, text=True, check=True).stdout.strip()

    bad_path = "Bravo5542/VSCG/raw/3bd71acc/pretrained-model/GTM3_295_fully7970.pt"
    path = "Bravo5542/VSCG/raw/3bd71acc/pretrained-model/GTM_295_fully7970.pt"
    file_host.files[bad_path] = bad.read_bytes()
    file_host.files[path] = ckpt.read_bytes()
    classes = [f"ave {i}" for i in range(28)]
    (tmp_path / "ave.txt").write_text("\n".join(classes) + "\n")
    manifest(models={"vscg": {
        "head": "vscg", "extractor": "vgg19-vggish", "file": "vscg.safetensors", "import": "official-vscg",
        "sources": [{"source": f"{file_host.url}/{bad_path}", "check": f"git-blob-sha1:{blob_of(bad)}",
                     "upstream": "GTM3_295_fully7970.pt"},
                    {"source": f"{file_host.url}/{path}", "check": f"git-blob-sha1:{blob_of(ckpt)}",
                     "upstream": "GTM_295_fully7970.pt"},
                    {"source": "gdrive-folder:1_wcW1T7HeLSkEOYTTRj1PnHXWReeaynT/VSCG_fully.pt",
                     "check": "structure+sha256-pin", "fetch": "browser"}]}})
    monkeypatch.delenv("AVLOCATE_OFFLINE", raising=False)
    no_classes = cli("weights", "pull", "vscg")
    assert no_classes.code == 5 and "--classes FILE" in no_classes.err and file_host.gets() == []
    r = cli("weights", "pull", "vscg", "--classes", str(tmp_path / "ave.txt"))
    assert r.code == 0, r.err
    from avlocate.weights.store import load_card

    card = load_card("vscg")
    assert card.head == "vscg" and card.classes == classes and card.provenance["upstream"].endswith(path)
    assert list(json.loads((home / "pins.json").read_text())) == ["GTM_295_fully7970.pt"]
    assert _leftovers(home) == ["pins.json", "vscg.json", "vscg.safetensors"]


def _pickled_not_vscg(ckpt: Path) -> None:
    """A whole module whose class is called ``vscg_net`` but whose state is something else."""
    mod = types.ModuleType("someone_else.model")

    class vscg_net(torch.nn.Module):  # noqa: N801 - right name, wrong content
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(3, 2)

    vscg_net.__module__, vscg_net.__qualname__ = "someone_else.model", "vscg_net"
    mod.vscg_net = vscg_net
    with _importable("someone_else.model", mod):
        torch.save(vscg_net(), ckpt)


def test_official_checkpoint_vscg_pickle_whose_state_is_not_vscg_is_refused(tmp_path):
    from avlocate.errors import WeightsError
    from avlocate.weights.convert_vscg import load_official_vscg

    ckpt = tmp_path / "other.pt"
    _pickled_not_vscg(ckpt)
    with pytest.raises(WeightsError, match="not an official VSCG"):
        load_official_vscg(ckpt)


def test_official_checkpoint_ccnet_features_are_read_from_its_embedding_shapes(tmp_path, reference_dir):
    """The same converter writes `one-peace` or `i3d-vggish` into the card, from the first
    embedding convolutions' input widths."""
    from avlocate.weights.weight_import import import_official

    small = reference_dir / "dense" / "ccnet" / "small"
    state = torch.load(small / "state_dict.pt", weights_only=True)
    config = json.loads((small / "config.json").read_text())
    classes = tmp_path / "c.txt"
    classes.write_text("\n".join(f"c{i}" for i in range(config["config"]["model"]["num_classes"])) + "\n")
    for dims, extractor in (((1536, 1536), "one-peace"), ((2048, 128), "i3d-vggish")):
        cfg = json.loads(json.dumps(config))
        cfg["config"]["model"]["input_dim_V"], cfg["config"]["model"]["input_dim_A"] = dims
        sd = dict(state)
        for mod, dim in zip(("V", "A"), dims):
            k = f"backbone.embd_{mod}.0.conv.weight"
            sd[k] = torch.randn(sd[k].shape[0], dim, sd[k].shape[2]) * 0.02
        ckpt = tmp_path / f"ccnet_{extractor}.pth.tar"
        torch.save({"state_dict_ema": {f"module.{k}": v for k, v in sd.items()}}, ckpt)
        (tmp_path / "cfg.json").write_text(json.dumps(cfg))
        card = import_official("official-ccnet", ckpt, f"cc-{extractor}", classes, tmp_path / "cfg.json",
                               tmp_path / extractor)
        assert json.loads(Path(card).read_text())["extractor"] == extractor


def test_official_checkpoint_list_json_has_source_and_check_for_the_official_models(cli, monkeypatch):
    monkeypatch.delenv("AVLOCATE_MANIFEST", raising=False)
    r = cli("weights", "list", "--json")
    assert r.code == 0, r.err
    rows = {row["name"]: row for row in json.loads(r.out)}
    assert rows["unav"]["source"] == f"gdrive:{UNAV_ID}" and rows["unav"]["check"] == "structure+sha256-pin"
    assert rows["ccnet"]["source"] == "gdrive:11_kmeXwmMMZixh8TAJ2n1TRfRmZLm0UY"
    assert rows["vscg"]["check"] == "git-blob-sha1:97891d5efa16a7ae5d13c9fb7f126950468cd6f2"
    assert rows["vscg-weakly"]["check"] == "git-blob-sha1:0e11e6edb6868884d6800ce3a949a134cdb82ef3"
    assert any(s["source"].startswith("gdrive-folder:1_wcW1T7HeLSkEOYTTRj1PnHXWReeaynT") for s in rows["vscg"]["sources"])


def _run(args: list[str], env: dict[str, str], cwd: Path, stdin=None) -> tuple[subprocess.CompletedProcess, float]:  # noqa: ANN001
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "avlocate", *args], env=env, cwd=cwd, capture_output=True, text=True,
                       timeout=120, stdin=stdin)
    return p, time.monotonic() - t0


@pytest.fixture
def shipped_manifest_online(tmp_path, monkeypatch, unset_env) -> None:
    """The shipped manifest, no offline switch, nothing installed, cwd in tmp_path."""
    unset_env("AVLOCATE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "AVLOCATE_MANIFEST")
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path / "none"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("command", ["run", "batch"])
def test_official_checkpoint_first_use_without_a_route_fails_fast_naming_the_source(cli, tmp_path, unused_port,
                                                                                    monkeypatch, shipped_manifest_online,
                                                                                    command):
    """The shipped manifest, Drive unreachable (nothing listens where its traffic goes), no
    offline switch: exit 8, one stderr line naming the official source, nothing left."""
    monkeypatch.setenv("AVLOCATE_DRIVE_ENDPOINT", f"http://127.0.0.1:{unused_port}")
    out = tmp_path / "X.jsonl"
    args = ["run", REPO / "samples" / "demo1.mp4", "--model", "unav"] if command == "run" else \
        ["batch", REPO / "samples", "--out", out, "--model", "unav"]
    t0 = time.monotonic()
    r = cli(*args)
    took = time.monotonic() - t0
    assert r.code == 8, r.err
    assert took < 60
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and UNAV_ID in lines[0] and "Google Drive" in lines[0]
    assert not (tmp_path / "home").exists() and not out.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == []


def test_official_checkpoint_first_use_without_a_route_fails_fast_naming_the_source_live(tmp_path, unused_port):
    """The same for `avlocate run - --live --model unav < stream.ts`, in a fresh process whose
    stdin is the stream (a real redirect, as a user's shell gives it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("AVLOCATE_OFFLINE", "HF_HUB_OFFLINE",
                                                            "TRANSFORMERS_OFFLINE", "AVLOCATE_MANIFEST")}
    env.update(PYTHONPATH=str(REPO), AVLOCATE_HOME=str(tmp_path / "home"), AVLOCATE_WEIGHTS=str(tmp_path / "none"),
               AVLOCATE_DRIVE_ENDPOINT=f"http://127.0.0.1:{unused_port}")
    sys.path.insert(0, str(REPO / "tests"))
    from stream_fixtures import remux_to_ts

    ts = tmp_path.parent / f"{tmp_path.name}-stream.ts"
    remux_to_ts(REPO / "samples" / "demo1.mp4", ts)
    try:
        with open(ts, "rb") as stdin:
            p, took = _run(["run", "-", "--live", "--model", "unav"], env, tmp_path, stdin)
    finally:
        ts.unlink()
    assert p.returncode == 8, p.stderr
    assert took < 60
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and UNAV_ID in lines[0] and "Google Drive" in lines[0]
    assert not (tmp_path / "home").exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == []


@pytest.mark.parametrize("switch", ["--offline", "AVLOCATE_OFFLINE", "HF_HUB_OFFLINE"])
def test_official_checkpoint_offline_switches_keep_the_missing_weights_message(cli, drive, monkeypatch,
                                                                              shipped_manifest_online, switch):
    """Offline, no request reaches Drive and the run says what is missing, as before."""
    from drive_server import DriveFile

    drive.files[UNAV_ID] = DriveFile(b"never served", "x", "direct")
    args = ["run", REPO / "samples" / "demo1.mp4", "--model", "unav"]
    if switch == "--offline":
        args.append("--offline")
    else:
        monkeypatch.setenv(switch, "1")
    r = cli(*args)
    assert r.code == 5, r.err
    assert "unav" in r.err and "not installed" in r.err and len(r.err.strip().splitlines()) == 1
    assert drive.requests == []
