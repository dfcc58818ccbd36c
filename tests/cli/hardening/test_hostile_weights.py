"""Hostile or mismatched weights: refused with a one-line error naming the problem; no code runs."""
from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import pytest
import torch

from avlocate.errors import ModelError, WeightsError

from harness import MODEL


class _Payload:
    """Unpickling this runs ``how`` (creating ``marker``): it must never happen."""

    def __init__(self, marker: Path, how: str) -> None:
        self.marker, self.how = str(marker), how

    def __reduce__(self):  # noqa: ANN204
        if self.how == "open":
            return (open, (self.marker, "w"))
        return (os.system, (f"touch '{self.marker}'",))


def _evil_checkpoint(path: Path, marker: Path, how: str, zip_format: bool) -> Path:
    state = {"state_dict": {"weight": torch.zeros(2)}, "payload": _Payload(marker, how)}
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    assert not marker.exists()
    return path


def _one_line_error(r, code: int) -> str:  # noqa: ANN001
    assert r.code == code, r.err
    assert r.out == "" and r.err.count("\n") == 1 and r.err.startswith("avlocate: ") and "Traceback" not in r.err
    return r.err


@pytest.mark.parametrize("source", ["official-unav", "official-ccnet", "official-vscg"])
@pytest.mark.parametrize("how", ["open", "system"])
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_pickle_payload_given_to_weights_import_never_runs(cli, tmp_path, source, how, zip_format):
    marker = tmp_path / "pwned"
    ckpt = _evil_checkpoint(tmp_path / "evil.pth", marker, how, zip_format)
    classes = tmp_path / "classes.txt"
    classes.write_text("\n".join(f"c{i}" for i in range(100)))
    r = cli("weights", "import", ckpt, "--from", source, "--name", "evil", "--classes", classes, "--out", tmp_path / "w")
    _one_line_error(r, WeightsError.exit_code)
    assert not marker.exists()
    assert not (tmp_path / "w" / "evil.json").exists() and not (tmp_path / "w" / "evil.safetensors").exists()


def _card(model_dir: Path, tmp: Path, name: str, **changes) -> Path:
    """A copy of the test model's card under ``name`` in ``tmp`` (weights file copied too)."""
    data = json.loads((model_dir / f"{MODEL}.json").read_text())
    data["name"] = name
    weights = changes.pop("weights_bytes", None)
    data["weights_file"] = changes.pop("weights_file", f"{name}.safetensors")
    data.update(changes)
    if weights is None:
        shutil.copy(model_dir / f"{MODEL}.safetensors", tmp / data["weights_file"])
    else:
        (tmp / data["weights_file"]).write_bytes(weights)
        data["sha256"] = None
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def weights_dir(tmp_path, model_dir, monkeypatch):
    """A folder first on the weights search path, for the hostile files of one test."""
    d = tmp_path / "weights"
    d.mkdir()
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(d))
    yield d


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "media"))
    from corpus import make_video

    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=2.0, sample_rate=16000, channels=1)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_model_card_pointing_at_a_pickle_is_refused(cli, tmp_path, weights_dir, model_dir, clip, zip_format):
    marker = tmp_path / "pwned"
    _evil_checkpoint(weights_dir / "evil.pth", marker, "system", zip_format)
    card = _card(model_dir, weights_dir, "evil", weights_file="evil.pth", weights_bytes=(weights_dir / "evil.pth").read_bytes())
    err = _one_line_error(cli("run", "--model", card, "-q", clip), WeightsError.exit_code)
    assert "evil.pth" in err and "safetensors" in err
    assert not marker.exists()


def _safetensors(header: dict | bytes, payload: bytes = b"", length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + payload


LYING = {
    "offsets_beyond_file": _safetensors({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 1 << 30]}}, b"\0" * 16),
    "huge_shape": _safetensors({"w": {"dtype": "F32", "shape": [1 << 40, 1 << 20], "data_offsets": [0, 16]}}, b"\0" * 16),
    "shape_offsets_disagree": _safetensors({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, b"\0" * 16),
    "header_longer_than_file": _safetensors({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16, length=10_000),
    "header_length_2_63": _safetensors(b"{}", length=1 << 63),
    "header_not_json": _safetensors(b"\x80\x81 not json", b"\0" * 16),
    "unknown_dtype": _safetensors({"w": {"dtype": "Q99", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16),
    "overlapping": _safetensors({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                 "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, b"\0" * 24),
    "eight_bytes": b"\x08\0\0\0\0\0\0\0",
}


@pytest.mark.parametrize("kind", sorted(LYING))
def test_safetensors_with_a_lying_header(cli, weights_dir, model_dir, clip, kind):
    card = _card(model_dir, weights_dir, f"lying-{kind.replace('_', '-')}", weights_bytes=LYING[kind])
    err = _one_line_error(cli("run", "--model", card, "-q", clip), WeightsError.exit_code)
    assert card.stem in err or f"{card.stem}.safetensors" in err


def _other_architecture(path: Path) -> bytes:
    from safetensors.torch import save

    from avlocate.registry import HEADS

    head = HEADS.get("vscg")  # another registered architecture
    cfg_cls = getattr(head, "config_class", None)
    module = head(cfg_cls()) if cfg_cls else head()
    return save({k: v.contiguous() for k, v in module.state_dict().items()})


def _head_config(model_dir: Path, **changes) -> dict:
    return json.loads((model_dir / f"{MODEL}.json").read_text())["head_config"] | changes


def test_card_and_weights_that_do_not_match(cli, weights_dir, model_dir, clip):
    # Weights of another architecture under the lite head's card.
    card = _card(model_dir, weights_dir, "foreign", weights_bytes=_other_architecture(weights_dir))
    err = _one_line_error(cli("run", "--model", card, "-q", clip), WeightsError.exit_code)
    assert "foreign.safetensors" in err and "lite-av" in err

    # A card whose hidden size is not the one the weights were trained with.
    card = _card(model_dir, weights_dir, "thin", head_config=_head_config(model_dir, hidden=32))
    err = _one_line_error(cli("run", "--model", card, "-q", clip), WeightsError.exit_code)
    assert "thin.safetensors" in err and "do not fit" in err

    # A card claiming other feature dimensions than its extractor gives.
    protocol = json.loads((model_dir / f"{MODEL}.json").read_text())["feature_protocol"] | {"visual_dim": 512}
    card = _card(model_dir, weights_dir, "dims", feature_protocol=protocol)
    err = _one_line_error(cli("run", "--model", card, "-q", clip), ModelError.exit_code)
    assert "visual_dim" in err and "512" in err


def test_mismatch_descriptions_name_the_difference(model_dir):
    from safetensors.torch import load

    from avlocate.weights.checks import check_card_fits_head, describe_state_mismatch
    from avlocate.heads.lite import LiteAVHead, LiteHeadConfig
    from avlocate.weights.card import ModelCard

    state = load((model_dir / f"{MODEL}.safetensors").read_bytes())
    assert describe_state_mismatch(LiteAVHead(LiteHeadConfig()), state) is None
    thin = describe_state_mismatch(LiteAVHead(LiteHeadConfig(hidden=32)), state)
    assert "another shape" in thin and "(64," in thin and "(32," in thin and "\n" not in thin
    foreign = describe_state_mismatch(LiteAVHead(LiteHeadConfig()), load(_other_architecture(model_dir)))
    assert "missing" in foreign and "unknown tensor" in foreign and "another architecture" in foreign

    card = ModelCard.load(model_dir / f"{MODEL}.json")
    check_card_fits_head(card, LiteAVHead(LiteHeadConfig()))
    card.classes = card.classes[:3]
    with pytest.raises(WeightsError, match="lists 3 classes but head 'lite-av' scores 4"):
        check_card_fits_head(card, LiteAVHead(LiteHeadConfig()))


def test_cli_names_the_mismatch(cli, weights_dir, model_dir, clip):
    card = _card(model_dir, weights_dir, "thin", head_config=_head_config(model_dir, hidden=32))
    err = _one_line_error(cli("run", "--model", card, "-q", clip), WeightsError.exit_code)
    assert "another shape" in err
    card = _card(model_dir, weights_dir, "three", classes=["bell", "siren", "engine"])
    err = _one_line_error(cli("run", "--model", card, "-q", clip), WeightsError.exit_code)
    assert "3 classes" in err and "scores 4" in err


def test_weights_whose_sha256_differs_from_the_card(cli, weights_dir, model_dir, clip):
    card = _card(model_dir, weights_dir, "tampered")
    data = bytearray((weights_dir / "tampered.safetensors").read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in a weight: still valid safetensors, wrong checksum
    (weights_dir / "tampered.safetensors").write_bytes(bytes(data))
    err = _one_line_error(cli("run", "--model", card, "-q", clip), WeightsError.exit_code)
    assert "sha256" in err and "tampered.safetensors" in err


@pytest.mark.parametrize("name", ["../../etc/hostname", "/etc/hostname", "", ".."])
def test_card_cannot_point_outside_the_weights_folders(cli, weights_dir, model_dir, clip, name):
    data = json.loads((model_dir / f"{MODEL}.json").read_text()) | {"name": "escape", "weights_file": name}
    card = weights_dir / "escape.json"
    card.write_text(json.dumps(data))
    err = _one_line_error(cli("run", "--model", card, "-q", clip), WeightsError.exit_code)
    assert "plain file name" in err


def test_card_given_by_path_finds_weights_beside_it(cli, tmp_path, model_dir, clip, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    card = _card(model_dir, elsewhere, "beside")
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path / "empty"))
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path / "home"))
    r = cli("run", "--model", card, "-q", "-f", "json", clip)
    assert r.code == 0, r.err
    assert json.loads(r.out)["model"] == "beside"


@pytest.mark.parametrize("change", [
    {"head_config": []}, {"decode": 3}, {"feature_protocol": "lite"}, {"extractor_config": None},
    {"provenance": [1]}, {"name": 7}, {"head": ""}, {"extractor": None}, {"sha256": 5}, {"sha256": "abc"},
    {"description": {}},
], ids=lambda c: "-".join(f"{k}={v!r}" for k, v in c.items()))
def test_card_fields_of_the_wrong_type_are_weights_errors(cli, weights_dir, model_dir, clip, change):
    """Were internal errors (exit 70) once the card reached the model builder (found by fuzzing)."""
    card = _card(model_dir, weights_dir, "typed")
    data = json.loads(card.read_text()) | change
    card.write_text(json.dumps(data))
    err = _one_line_error(cli("run", "--model", card, "-q", clip), WeightsError.exit_code)
    assert repr(next(iter(change))) in err


def test_head_config_value_of_the_wrong_type(cli, weights_dir, model_dir, clip):
    card = _card(model_dir, weights_dir, "badvalue", head_config=_head_config(model_dir, hidden="big"))
    _one_line_error(cli("run", "--model", card, "-q", clip), WeightsError.exit_code)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_checkpoint_option_refuses_a_pickle(cli, tmp_path, model_dir, clip, suffix):
    """`run --checkpoint` with a pickle, also one renamed to .safetensors: refused, nothing runs."""
    marker = tmp_path / "pwned"
    ckpt = _evil_checkpoint(tmp_path / f"evil{suffix}", marker, "system", zip_format=True)
    err = _one_line_error(cli("run", "--model", MODEL, "--checkpoint", ckpt, "-q", clip), WeightsError.exit_code)
    assert ckpt.name in err and not marker.exists()


@pytest.mark.parametrize("kind", ["offsets_beyond_file", "huge_shape", "header_length_2_63"])
def test_checkpoint_option_refuses_a_lying_safetensors(cli, tmp_path, model_dir, clip, kind):
    ckpt = tmp_path / f"{kind}.safetensors"
    ckpt.write_bytes(LYING[kind])
    err = _one_line_error(cli("run", "--model", MODEL, "--checkpoint", ckpt, "-q", clip), WeightsError.exit_code)
    assert ckpt.name in err and "safetensors" in err
