"""Red-team finding 11 (`run --features DIR`): a sidecar with missing keys or wrong types, or
arrays whose width or rank differ from it, is one line naming the field (exit 2), never exit 70."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from avlocate.extraction.folder import extract_many
from avlocate.features.lite import LiteExtractor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "media"))
from corpus import make_video  # noqa: E402


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sidecars")
    clip = make_video(root / "clip.mp4", seconds=2.0, sample_rate=16000, channels=1)
    extract_many([clip], LiteExtractor(), root / "feats")
    return clip, root / "feats"


@pytest.fixture()
def feats(stored, tmp_path) -> tuple[Path, Path]:
    import shutil

    clip, src = stored
    shutil.copytree(src, tmp_path / "feats")
    return clip, tmp_path / "feats"


def _edit(folder: Path, change) -> None:  # noqa: ANN001
    side = folder / "clip.json"
    data = json.loads(side.read_text())
    change(data)
    side.write_text(json.dumps(data))


def _run(cli, clip, folder, words: str) -> None:  # noqa: ANN001
    r = cli("run", clip, "-m", "lite-demo", "-q", "-f", "json", "--features", folder)
    assert r.code == 2, (r.code, r.err)
    assert r.err.strip().count("\n") == 0 and "internal error" not in r.err and "Traceback" not in r.err
    assert words in r.err, r.err


def test_redteam_sidecar_intact_is_used(cli, feats):
    clip, folder = feats
    r = cli("run", clip, "-m", "lite-demo", "-q", "-f", "json", "--features", folder)
    assert r.code == 0, r.err


@pytest.mark.parametrize("change, words", [
    (lambda d: d.pop("num_snippets"), "'num_snippets'"),
    (lambda d: d.pop("timeline"), "'timeline'"),
    (lambda d: d["timeline"].update(fps="abc"), "'timeline.fps'"),
    (lambda d: d["timeline"].update(window=-4), "'timeline.window'"),
    (lambda d: d.update(warnings="a string"), "'warnings'"),
    (lambda d: d.update(extractor="lite"), "'extractor'"),
    (lambda d: d.update(visual_dim="56"), "'visual_dim'"),
    (lambda d: d.update(visual_shape=[7, 9]), "'visual_shape'"),
    (lambda d: d.update(num_snippets=10**12), "'num_snippets'"),
])
def test_redteam_sidecar_bad_field_is_one_line(cli, feats, change, words):
    clip, folder = feats
    _edit(folder, change)
    _run(cli, clip, folder, words)


def test_redteam_sidecar_nested_deep_is_one_line(cli, feats):
    clip, folder = feats
    (folder / "clip.json").write_text("[" * 100_000 + "]" * 100_000)
    _run(cli, clip, folder, "nested deeper")


@pytest.mark.parametrize("make", [
    lambda a: a[:, :-1],  # one value short per row
    lambda a: a[:, :, None],  # rank 3
    lambda a: a[:-1],  # one snippet short
])
def test_redteam_feature_array_must_match_its_sidecar(cli, feats, make):
    clip, folder = feats
    visual = np.load(folder / "clip_visual.npy")
    np.save(folder / "clip_visual.npy", np.ascontiguousarray(make(visual)))
    _run(cli, clip, folder, "clip_visual.npy")


def test_redteam_feature_array_lying_header_is_refused_before_reading(cli, feats):
    """A header announcing 10^9 rows on a small file: refused from the header, nothing allocated."""
    clip, folder = feats
    path = folder / "clip_audio.npy"
    data = path.read_bytes()
    width = np.load(path).shape[1]
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, width), np.float32))
    header["shape"] = (10**9, width)
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    path.write_bytes(np.lib.format.magic(1, 0) + buf.getvalue()[len(np.lib.format.magic(1, 0)):] + data[128:])
    _run(cli, clip, folder, "clip_audio.npy")


def _strict(text: str):  # noqa: ANN202
    def refuse(name: str) -> float:
        raise AssertionError(f"bare {name} in the JSON output")

    return json.loads(text, parse_constant=refuse)


def test_redteam_nan_features_warn_and_the_json_holds_no_bare_nan(cli, feats):
    """Finding 12: NaN features gave 0 events with no word, and `--scores` JSON held bare NaN."""
    clip, folder = feats
    visual = np.load(folder / "clip_visual.npy")
    visual[:] = np.nan
    np.save(folder / "clip_visual.npy", visual)
    r = cli("run", clip, "-m", "lite-demo", "-f", "json", "--scores", "--features", folder)
    assert r.code == 0, r.err
    result = _strict(r.out)
    assert "NaN" in result["warnings"]["scores"] and "warning" in r.err
    assert result["scores"]["values"] and all(v is None for row in result["scores"]["values"] for v in row)


def test_redteam_nan_weights_are_refused(cli, tmp_path, stored):
    from safetensors.torch import load_file, save_file

    from avlocate.weights.store import BUNDLED_DIR

    clip, _ = stored
    card = json.loads((BUNDLED_DIR / "lite-demo.json").read_text())
    state = load_file(str(BUNDLED_DIR / card["weights_file"]))
    first = sorted(state)[0]
    state[first] = state[first].clone().fill_(float("nan"))
    save_file(state, str(tmp_path / "nan.safetensors"))
    card.update(name="nan-weights", weights_file="nan.safetensors", sha256=None)
    (tmp_path / "nan-weights.json").write_text(json.dumps(card))
    r = cli("run", clip, "-m", tmp_path / "nan-weights.json", "-q", "-f", "json")
    assert r.code == 5 and r.err.count("\n") == 1 and "NaN" in r.err and first in r.err, r.err
