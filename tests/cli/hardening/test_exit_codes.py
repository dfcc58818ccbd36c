"""The README's exit-code table is the truth: each code in it exists in avlocate.errors, and each
one a user can cause is produced by the CLI with a one-line message."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from avlocate import errors

from harness import MODEL, REPO

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "media"))
from corpus import make_video  # noqa: E402


def readme_codes() -> dict[int, str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d+) \| (.+?) \|$", section, re.M)}


def test_readme_table_matches_the_error_classes():
    table = readme_codes()
    code_constants = {errors.EXIT_BATCH_FAILURES, errors.EXIT_INTERNAL, errors.EXIT_INTERRUPTED}
    assert set(table) == {0} | {cls.exit_code for cls in errors.ALL_ERRORS} | code_constants
    assert len({cls.exit_code for cls in errors.ALL_ERRORS}) == len(errors.ALL_ERRORS)  # one code per error
    assert "time limit" in table[errors.TimeoutError_.exit_code]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("codes") / "clip.mp4", seconds=2.0, sample_rate=16000, channels=1)


def _check(r, code: int) -> None:  # noqa: ANN001
    assert r.code == code, r.err
    if code not in (0, 1):
        assert r.err.strip().count("\n") == 0 and "Traceback" not in r.err  # one line (click usage: one block)


def test_each_code_from_the_cli(cli, clip, model_dir, tmp_path, monkeypatch):
    _check(cli("run", "--model", MODEL, "-q", "-f", "json", clip), 0)
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "bad.mp4").write_bytes(b"not a video")
    _check(cli("batch", folder, "--out", tmp_path / "r.jsonl", "--model", MODEL, "-q"), errors.EXIT_BATCH_FAILURES)
    r = cli("run", "--no-such-option", clip)
    assert r.code == errors.UsageError.exit_code and "no-such-option" in r.err
    _check(cli("run", "--model", MODEL, tmp_path / "missing.mp4"), errors.InputNotFoundError.exit_code)
    _check(cli("run", "--model", MODEL, folder / "bad.mp4"), errors.MediaError.exit_code)
    _check(cli("run", "--model", "no-such-model", clip), errors.WeightsError.exit_code)
    card = json.loads((model_dir / f"{MODEL}.json").read_text()) | {"name": "alien", "extractor": "no-such-extractor"}
    (tmp_path / "alien.json").write_text(json.dumps(card))
    _check(cli("run", "--model", tmp_path / "alien.json", clip), errors.ModelError.exit_code)
    (tmp_path / "blocker").write_text("")
    _check(cli("batch", folder, "--out", tmp_path / "blocker" / "r.jsonl"), errors.OutputError.exit_code)

    import avlocate.pipeline.video as pipeline

    def offline(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise errors.OfflineError("the CLIP weights would be downloaded; run online once or copy them")

    monkeypatch.setattr(pipeline, "locate_with", offline)
    _check(cli("run", "-q", clip), errors.OfflineError.exit_code)

    def bug(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(pipeline, "locate_with", bug)
    r = cli("run", "-q", clip)
    _check(r, errors.EXIT_INTERNAL)
    assert "internal error" in r.err and "--debug" in r.err

    def interrupted(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "locate_with", interrupted)
    _check(cli("run", "-q", clip), errors.EXIT_INTERRUPTED)

