"""`avlocate extract` on real sample videos with the weight-free `lite` extractor: resume,
failures, reuse by `run --features` (features_from_dir), and the CLI command function."""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import torch
import typer
from typer.testing import CliRunner

from avlocate.cli.extract import extract_command
from avlocate.errors import ModelError
from avlocate.features.store import FAILURES_FILE, features_from_dir, weights_provenance
from avlocate.extraction.folder import extract_many
from avlocate.features.lite import LiteExtractor
from avlocate.media import open_clip, probe
from avlocate.pipeline.models import load_model


@pytest.fixture()
def folder(tmp_path, repo_root):
    src = tmp_path / "videos"
    (src / "sub").mkdir(parents=True)
    shutil.copy(repo_root / "samples" / "demo1.mp4", src / "demo1.mp4")
    shutil.copy(repo_root / "samples" / "demo3.mp4", src / "sub" / "demo3.mp4")
    (src / "broken.mp4").write_bytes(b"this is not a video" * 10)
    return src


def test_folder_resume_failures_and_overwrite(folder, tmp_path):
    out = tmp_path / "feats"
    seen = []
    s = extract_many([folder], LiteExtractor(), out, on_done=lambda status, rec: seen.append((status, rec["video"])))
    assert (s.total, s.succeeded, s.failed, s.skipped) == (3, 2, 1, 0)
    assert s.failures[0]["video"].endswith("broken.mp4") and s.failures[0]["code"] == 4  # MediaError, one line
    assert [json.loads(x)["video"] for x in (out / FAILURES_FILE).read_text().splitlines()] == [s.failures[0]["video"]]
    assert {st for st, _ in seen} == {"done", "failed"}
    assert (out / "demo1.json").is_file() and (out / "demo3.json").is_file() and not (out / "broken.json").exists()
    stamp = (out / "demo1_visual.npy").stat().st_mtime_ns

    again = extract_many([folder], LiteExtractor(), out)
    assert (again.succeeded, again.failed, again.skipped) == (0, 1, 2)  # done ids skipped, the failure retried
    assert (out / "demo1_visual.npy").stat().st_mtime_ns == stamp

    (out / "demo3.json").unlink()  # as after a crash before the sidecar: redone
    partial = extract_many([folder], LiteExtractor(), out)
    assert (partial.succeeded, partial.skipped) == (1, 1)

    redo = extract_many([folder / "demo1.mp4"], LiteExtractor(), out, overwrite=True)
    assert (redo.total, redo.succeeded) == (1, 1)
    assert (out / "demo1_visual.npy").stat().st_mtime_ns != stamp
    assert not list(out.glob(".*.tmp"))


def test_features_from_dir_equals_fresh_extraction(repo_root, tmp_path):
    video = repo_root / "samples" / "demo1.mp4"
    model = load_model("lite-demo", "cpu")
    assert features_from_dir(tmp_path, video, model) is None  # nothing stored yet: the caller decodes
    extract_many([video], LiteExtractor(), tmp_path)
    stored = features_from_dir(tmp_path, video, model)
    vspec, aspec = model.extractor.media_request(probe(video))
    fresh = model.extractor.extract(open_clip(video, vspec, aspec))
    assert torch.equal(stored.visual, fresh.visual) and torch.equal(stored.audio, fresh.audio)
    assert stored.timeline == fresh.timeline and stored.extractor == fresh.extractor
    assert "features" not in stored.warnings
    events_stored, _ = model.predict(stored)
    events_fresh, _ = model.predict(fresh)
    assert events_stored == events_fresh and events_fresh

    side = json.loads((tmp_path / "demo1.json").read_text())
    side["extractor"]["protocol"]["fps"] = 25.0  # features made on another time grid
    (tmp_path / "demo1.json").write_text(json.dumps(side))
    with pytest.raises(ModelError, match="do not fit model 'lite-demo'"):
        features_from_dir(tmp_path, video, model)


def test_weights_provenance_names_the_files_the_extractor_uses(tmp_path, monkeypatch):
    from avlocate.features.i3d_vggish import I3DVGGishExtractor

    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path / "home"))
    (tmp_path / "vggish.safetensors").write_bytes(b"not really weights")
    prov = weights_provenance(I3DVGGishExtractor())
    digest = hashlib.sha256(b"not really weights").hexdigest()[:12]
    assert prov["vggish"] == f"vggish.safetensors@{digest}"
    assert prov["i3d-rgb"] == "missing" and set(prov) == {"i3d-rgb", "i3d-flow", "raft-sintel", "vggish"}
    assert weights_provenance(LiteExtractor()) == {}  # no weights at all


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("extract")(extract_command)  # as avlocate/cli.py registers it
    app.command("noop")(lambda: None)  # a second command keeps `extract` a sub-command
    return app


def test_cli_command(folder, tmp_path):
    out = tmp_path / "cli"
    runner = CliRunner()
    r = runner.invoke(_app(), ["extract", str(folder), "--extractor", "lite", "-o", str(out)])
    assert r.exit_code == 1  # one video failed, the others were written
    assert "2 extracted, 1 failed, 0 already" in r.output and "broken.mp4" in r.output
    r = runner.invoke(_app(), ["extract", str(folder / "demo1.mp4"), "-e", "lite", "-o", str(out)])
    assert r.exit_code == 0 and "0 extracted, 0 failed, 1 already" in r.output
    r = runner.invoke(_app(), ["extract", str(folder), "-e", "lite", "-o", str(out), "--layout", "unav100"])
    assert r.exit_code != 0 and "--layout generic" in str(r.exception)


def test_locate_reuses_stored_features_without_decoding(repo_root, tmp_path, monkeypatch):
    """`run --features DIR`: stored features are used and the video is not decoded again."""
    import avlocate.media
    from avlocate.pipeline import video as pipeline

    video = repo_root / "samples" / "demo1.mp4"
    fresh = pipeline.locate(video, model="lite-demo", device="cpu")
    extract_many([video], LiteExtractor(), tmp_path)

    def no_decoding(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("decoded although the features were stored")

    monkeypatch.setattr(avlocate.media, "open_clip", no_decoding)
    reused = pipeline.locate(video, model="lite-demo", device="cpu", features_dir=tmp_path)
    assert reused.events == fresh.events and reused.extractor == fresh.extractor
    assert reused.duration == pytest.approx(fresh.duration)
