"""Red-team findings 11 and 13 (`weights import`): deeply nested checkpoints, names that are not
one safe path component, names that shadow an installed model, an AVLOCATE_HOME that is a file or
read-only: each one line with its exit code, nothing written outside --out or the cache."""
from __future__ import annotations

import json
import os
import pickle
import struct
import zipfile
from pathlib import Path

import pytest

from avlocate.errors import OutputError, UsageError, WeightsError
from avlocate.weights.restricted_unpickle import load_module_state_dict


def _text(s: str) -> bytes:
    raw = s.encode()
    return pickle.BINUNICODE + struct.pack("<I", len(raw)) + raw


def nested_module_checkpoint(path: Path, depth: int) -> Path:
    """A torch zip checkpoint holding ``depth`` nn.Sequential modules, each the only child of the
    one above; written opcode by opcode (pickling it would itself exhaust the stack)."""
    new = pickle.GLOBAL + b"torch.nn.modules.container\nSequential\n" + pickle.EMPTY_TUPLE + pickle.NEWOBJ
    head = new + pickle.EMPTY_DICT + _text("_modules") + pickle.EMPTY_DICT + _text("0")
    tail = pickle.SETITEM + pickle.SETITEM + pickle.BUILD
    body = pickle.PROTO + b"\x02" + head * depth + new + pickle.EMPTY_DICT + pickle.BUILD + tail * depth + pickle.STOP
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", body)
        z.writestr("archive/byteorder", "little")
    return path


def test_redteam_nested_modules_is_one_line(tmp_path):
    with pytest.raises(WeightsError, match="nests modules deeper"):
        load_module_state_dict(nested_module_checkpoint(tmp_path / "deep.pt", 20_000))
    assert load_module_state_dict(nested_module_checkpoint(tmp_path / "ok.pt", 3)) == {}


def test_redteam_nested_modules_import_from_the_cli(cli, tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("a\nb\n")
    r = cli("weights", "import", nested_module_checkpoint(tmp_path / "deep.pt", 20_000), "--from", "official-vscg",
            "--as", "deep", "--classes", classes, "--out", tmp_path / "w")
    assert r.code == WeightsError.exit_code and r.err.count("\n") == 1 and "internal error" not in r.err, r.err


@pytest.mark.parametrize("name", ["../../escaped", "sub/dir/x", "a\\b", "..", ".hidden", "", "line\nbreak", "tab\tx"])
def test_redteam_import_name_must_be_one_safe_component(cli, tmp_path, name):
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(b"not read: the name is refused first")
    classes = tmp_path / "classes.txt"
    classes.write_text("a\nb\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    r = cli("weights", "import", ckpt, "--from", "official-unav", "--as", name, "--classes", classes,
            "--out", tmp_path / "out" / "w")
    assert r.code == UsageError.exit_code and r.err.count("\n") == 1 and "--as" in r.err, r.err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written anywhere


def test_redteam_import_name_shadowing_a_bundled_model_is_refused(cli, tmp_path, reference_dir):
    """`--as esgnet-demo` used to succeed and stay hidden behind the bundled model, with no word."""
    ref = reference_dir / "dense" / "unav" / "small"
    config = tmp_path / "config.json"
    config.write_text((ref / "config.json").read_text())
    n = json.loads(config.read_text())["config"]["model"]["num_classes"]
    classes = tmp_path / "classes.txt"
    classes.write_text("\n".join(f"event {i}" for i in range(n)) + "\n")
    args = ("weights", "import", ref / "state_dict.pt", "--from", "official-unav", "--classes", classes,
            "--config", config, "--out", tmp_path / "w")
    r = cli(*args, "--as", "esgnet-demo")
    assert r.code == UsageError.exit_code and "already installed" in r.err and "--overwrite" in r.err, r.err
    assert not (tmp_path / "w").exists()
    r = cli(*args, "--as", "esgnet-demo", "--overwrite")  # asked for: written, and told which copy -m loads
    assert r.code == 0 and (tmp_path / "w" / "esgnet-demo.json").is_file(), r.err
    assert "still loads" in r.err

    os.environ["AVLOCATE_WEIGHTS"] = str(tmp_path / "w")
    try:  # now the imported copy is first in the search path: `models` says it wins, and shows the hidden one
        r = cli("models")
        rows = [line for line in r.out.splitlines() if line.startswith("│ esgnet-demo ")]  # first cell: the name
        assert len(rows) == 2 and "used by -m esgnet-demo" in " ".join(r.out.split()), r.out
        assert "│ hidden " in rows[1] and str(tmp_path / "w") in rows[0], rows
    finally:
        del os.environ["AVLOCATE_WEIGHTS"]

    r = cli(*args, "--as", "mine")
    assert r.code == 0, r.err
    r = cli(*args, "--as", "mine")  # the same name again, in the same folder
    assert r.code == UsageError.exit_code and "already installed" in r.err


@pytest.mark.parametrize("how", ["file", "read-only"])
def test_redteam_unwritable_avlocate_home_is_one_line(cli, tmp_path, monkeypatch, how):
    home = tmp_path / "home"
    if how == "file":
        home.write_text("I am a file")
    else:
        home.mkdir()
        home.chmod(0o500)
        if os.access(home, os.W_OK):
            pytest.skip("running as root: a read-only folder is writable")
    monkeypatch.setenv("AVLOCATE_HOME", str(home))
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(b"x")
    classes = tmp_path / "classes.txt"
    classes.write_text("a\nb\n")
    r = cli("weights", "import", ckpt, "--from", "official-unav", "--as", "x", "--classes", classes)
    assert r.code == OutputError.exit_code and r.err.count("\n") == 1 and "AVLOCATE_HOME" in r.err, r.err


def test_redteam_pull_into_a_home_that_is_a_file_is_one_line(cli, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.write_text("I am a file")
    monkeypatch.setenv("AVLOCATE_HOME", str(home))
    r = cli("weights", "pull", "vggish", "--timeout", "1")
    assert r.code == OutputError.exit_code and r.err.count("\n") == 1 and "AVLOCATE_HOME" in r.err, r.err
    assert home.read_text() == "I am a file"


@pytest.mark.parametrize("content", [b"bell\nsi\tren\n", b"bell\nnul\x00l\n", b"caf\xe9\n"])
def test_redteam_import_class_names_must_be_one_line_utf8(cli, tmp_path, content):
    """The card an import writes must load: a label it would refuse is refused before converting."""
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(b"not read")
    classes = tmp_path / "classes.txt"
    classes.write_bytes(content)
    r = cli("weights", "import", ckpt, "--from", "official-unav", "--as", "x", "--classes", classes,
            "--out", tmp_path / "w")
    assert r.code == UsageError.exit_code and r.err.count("\n") == 1 and str(classes) in r.err, r.err
    assert not (tmp_path / "w").exists()


def test_redteam_import_config_nested_deep_is_one_line(cli, tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(b"not read")
    classes = tmp_path / "classes.txt"
    classes.write_text("a\nb\n")
    config = tmp_path / "config.json"
    config.write_text("[" * 100_000 + "]" * 100_000)
    r = cli("weights", "import", ckpt, "--from", "official-unav", "--as", "x", "--classes", classes,
            "--config", config, "--out", tmp_path / "w")
    assert r.code == UsageError.exit_code and r.err.count("\n") == 1 and "nested deeper" in r.err, r.err
