"""Red-team finding 11/12 (model cards): a hostile or broken card is one line naming the field,
exit 5, before any video is decoded; never an internal error, never a huge allocation."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from avlocate.errors import WeightsError
from avlocate.weights.card import ModelCard
from avlocate.weights.store import BUNDLED_DIR

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "media"))
from corpus import make_video  # noqa: E402

BASE = json.loads((BUNDLED_DIR / "esgnet-demo.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("cards") / "clip.mp4", seconds=1.0, sample_rate=16000, channels=1)


def _card(tmp_path: Path, **changes) -> Path:
    """The bundled ESG-Net demo card (its weights are found in the bundled folder) with changes;
    a key under ``head_config``/``decode`` is written as "section.key"."""
    data = json.loads(json.dumps(BASE))
    data["name"] = "hostile"
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            data[section][field] = value
        else:
            data[section] = value
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _one_line(r, code: int = WeightsError.exit_code) -> str:  # noqa: ANN001
    assert r.code == code, (r.code, r.err)
    assert r.err.strip().count("\n") == 0 and "Traceback" not in r.err and "internal error" not in r.err
    return r.err


def test_redteam_card_nested_100000_deep_is_one_line(cli, tmp_path, clip):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert "nested deeper" in _one_line(cli("run", "--model", path, "-q", "-f", "json", clip))


def test_redteam_card_too_large_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.json"
    path.write_text('{"pad": "' + "x" * (5 * 1024 * 1024) + '"}', encoding="utf-8")
    with pytest.raises(WeightsError, match="larger than"):
        ModelCard.load(path)


@pytest.mark.parametrize("field, value, words", [
    ("head_config__embed_dim", -64, "head_config.embed_dim = -64 must not be negative"),
    ("head_config__embed_dim", 10**9, "out of range"),
    ("head_config__max_seq_len", 0, "head_config.max_seq_len = 0 must be at least 1"),
    ("head_config__max_seq_len", "abc", "max_seq_len"),
    ("head_config__embed_dim", 64.5, "embed_dim"),
    ("decode__threshold", "abc", "decode.threshold"),
    ("decode__threshold", 7, "decode.threshold"),
    ("classes", ["bell\nring", "b", "c", "d"], "classes[0]"),
    ("extractor_config__width", 1_000_000, "extractor_config.width"),
    ("extractor_config__fps", float("1e300"), "extractor_config.fps"),
    ("name", "../escaped", "'name'"),
])
def test_redteam_card_field_out_of_range_is_one_line_naming_it(cli, tmp_path, clip, field, value, words):
    err = _one_line(cli("run", "--model", _card(tmp_path, **{field: value}), "-q", "-f", "json", clip))
    assert words in err


def test_redteam_card_bare_nan_is_refused(cli, tmp_path, clip):
    """Strict JSON has no NaN: a card threshold of NaN used to give 0 events silently."""
    path = _card(tmp_path)
    path.write_text(path.read_text().replace('"threshold": 0.5', '"threshold": NaN'), encoding="utf-8")
    assert "NaN" in _one_line(cli("run", "--model", path, "-q", "-f", "json", clip))
    path.write_text(path.read_text().replace('NaN', 'Infinity'), encoding="utf-8")
    assert "Infinity" in _one_line(cli("run", "--model", path, "-q", "-f", "json", clip))


def test_redteam_card_size_within_bounds_is_compared_before_allocating(cli, tmp_path, clip):
    """A dimension under the card bound but far beyond the weights (here about 100 GB of
    parameters) is a shape mismatch found on the meta device, without allocating."""
    err = _one_line(cli("run", "--model", _card(tmp_path, head_config__guidance_hidden=1 << 20,
                                                 head_config__embed_dim=1 << 20), "-q", "-f", "json", clip))
    assert "do not fit" in err


def test_redteam_card_unknown_decode_field_is_refused_at_load(cli, tmp_path, clip):
    err = _one_line(cli("run", "--model", _card(tmp_path, decode__no_such_field=1), "-q", "-f", "json", clip))
    assert "no_such_field" in err
