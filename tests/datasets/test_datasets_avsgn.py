"""AVSGN on the miniature AVE: one call pulls the annotations and the video archive from the local
hosts, extracts the CLIP/CLAP features with avlocate's clip-clap extractor (its real decoding,
windowing, feature store and AVE assembly; the CLIP and CLAP towers are stand-ins, since
open_clip and laion_clap are optional extras), writes the label-text embeddings, trains a few
steps, evaluates, and installs the model under the head's name. An interrupted extraction
resumes where it stopped; without the extras the command stops in one line before any download."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from avlocate.cli import main

pytest.importorskip("h5py")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mini_data  # noqa: E402

N_CLIPS = 12  # mini_ave: 8 train, 2 val, 2 test


def _serve(tmp_path: Path, git_host, drive, leave_out: tuple[str, ...] = ()) -> dict[str, bytes]:
    files = mini_data.mini_ave(tmp_path)
    files["videos"] = mini_data.ave_video_zip(tmp_path, files["annotations"], leave_out)
    mini_data.serve(tmp_path / "table.json", git_host, drive, ave=files)
    return files


def _rows(annotations: bytes) -> list[tuple[str, str, int, int]]:
    return [(c, v, int(s), int(e)) for c, v, _, s, e in (line.split("&") for line in annotations.decode().splitlines())]


def _small_training():  # noqa: ANN202
    from avlocate.training.segment import SegmentTrainConfig

    return SegmentTrainConfig(epochs=1, batch_size=4, max_steps=2, device="cpu")


def test_avsgn_one_call_pulls_extracts_trains_evaluates_installs(tmp_path, home, git_host, drive):
    import h5py
    import torch

    from avlocate.pipeline.models import load
    from avlocate.pipeline.options import RunOptions
    from avlocate.training.from_dataset import train_segment_on_dataset

    torch.set_num_threads(1)
    files = _serve(tmp_path, git_host, drive)
    clap = mini_data.ToneClap()
    logs: list[str] = []
    run = train_segment_on_dataset("avsgn", "ave", config=_small_training(), log=logs.append,
                                   extractor=mini_data.stand_in_clip_clap(clap=clap))
    folder = home / "datasets" / "ave"
    assert run.card_path == home / "avsgn.json" and (home / "avsgn.safetensors").is_file()
    assert f"{N_CLIPS} extracted, 0 failed, 0 already in {folder}" in logs
    assert f"extract (clip-clap): {N_CLIPS}/{N_CLIPS} videos ({N_CLIPS} extracted, 0 already there, 0 failed)" in logs
    assert clap.windows == 10 * N_CLIPS  # every clip decoded once, ten 1-s windows each
    # the features are the videos' content, in the rows of Annotations.txt: an event second shows its
    # class's colour and sounds its tone, the other seconds are grey and silent
    rows = _rows(files["annotations"])
    with h5py.File(folder / "clip_visual.h5") as f:
        visual = f["avadataset"][()]
    with h5py.File(folder / "clap_audio.h5") as f:
        audio = f["avadataset"][()]
    assert visual.shape == (N_CLIPS, 10, 512) and audio.shape == (N_CLIPS, 10, 512)
    for n, (cat, _, s, e) in enumerate(rows):
        colour, tone = mini_data.AVE_LOOK[cat]
        for sec in range(10):
            want = np.array(colour if s <= sec < e else mini_data.GREY, np.float64)
            assert np.allclose(visual[n, sec, :3], want / np.linalg.norm(want), atol=0.03), (n, sec)
            if s <= sec < e:
                assert audio[n, sec, 0] == pytest.approx(tone / 1000.0, abs=0.01) and audio[n, sec, 1] > 0.2
            else:
                assert audio[n, sec, 1] < 0.01
    with h5py.File(folder / "label_text.h5") as f:
        assert [c.decode() for c in f["classes"][()]] == list(dict.fromkeys(r[0] for r in rows))
        assert f["clip"].shape == (3, 512) and f["clap"].shape == (3, 512)
    # the table beside the paper's, and what the card records
    assert "accuracy %" in run.table() and "83.10" in run.table()
    card = json.loads(run.card_path.read_text())
    assert card["head"] == "avsgn" and card["extractor"] == "clip-clap"
    prov = card["provenance"]
    assert 0.0 <= prov["evaluation"]["accuracy"] <= 100.0 and prov["evaluation"]["split"] == "test"
    assert prov["dataset"]["features"] == "clip-clap" and "videos" in prov["dataset"]["files"]
    assert prov["dataset"]["extraction"]["extractor"] == "clip-clap"
    assert prov["dataset"]["extraction"]["weights"] == {"clip": "stand-in mean-colour", "clap": "stand-in dominant-tone"}
    assert main(["datasets", "verify", "ave", "--features", "clip-clap"]) == 0
    # the installed model is found by the head's name and scores every second of a clip (two
    # training steps find no event yet: the scores, not the events, show that it ran)
    model = load("avsgn", RunOptions(device="cpu", scores=True), extractor=mini_data.stand_in_clip_clap())
    assert model.card.name == "avsgn" and model.card.classes == list(dict.fromkeys(r[0] for r in rows))
    result = model.locate(folder / "videos" / "AVE" / f"{rows[0][1]}.mp4")
    scores = result.extra["scores"]
    assert result.model == "avsgn" and scores["times"] == [i + 0.5 for i in range(10)]
    assert scores["classes"] == model.card.classes and len(scores["values"]) == 10


class _Stop(KeyboardInterrupt):
    """What Ctrl-C raises: here from the CLIP stand-in, when the given number of clips is done."""


class _StopAfter(mini_data.MeanColourClip):
    """Interrupts the extraction once ``n`` clips are complete (their sidecars, written last, exist)."""

    def __init__(self, folder: Path, n: int) -> None:
        self.folder, self.n = folder, n

    def encode_images(self, pixels, batch_size: int = 32):  # noqa: ANN001, ANN201
        if len(list(self.folder.glob("vid*.json"))) >= self.n:
            raise _Stop()
        return super().encode_images(pixels, batch_size)


def test_avsgn_interrupted_extraction_resumes_then_the_command_trains(tmp_path, home, git_host, drive, capsys):
    import torch

    from avlocate.training.from_dataset import prepare_segment_features, train_segment_on_dataset

    torch.set_num_threads(1)
    _serve(tmp_path, git_host, drive)
    folder = home / "datasets" / "ave"
    with pytest.raises(_Stop):
        train_segment_on_dataset("avsgn", "ave", config=_small_training(), log=lambda m: None,
                                 extractor=mini_data.stand_in_clip_clap(clip=_StopAfter(folder, 3)))
    done = sorted(folder.glob("vid*.json"))
    assert len(done) == 3  # and no feature .h5 yet: they are assembled once every clip is there
    assert sorted(p.name for p in folder.glob("*.h5")) == ["test_order.h5", "train_order.h5", "val_order.h5"]
    assert not (home / "avsgn.json").exists()
    kept = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for d in done for p in folder.glob(f"{d.stem}*")}
    served = len(drive.served())

    # run again (what `--extract-only` calls): the three clips are skipped, the nine others extracted
    clap = mini_data.ToneClap()
    logs: list[str] = []
    prepare_segment_features("avsgn", "ave", log=logs.append, extractor=mini_data.stand_in_clip_clap(clap=clap),
                             progress=False)
    assert f"{N_CLIPS - 3} extracted, 0 failed, 3 already in {folder}" in logs
    assert clap.windows == 10 * (N_CLIPS - 3)  # the done clips were not decoded again
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in kept} == kept  # nor rewritten
    assert len(drive.served()) == served  # the videos were not fetched again

    # with the features there, `--extract-only` has nothing left to do (no extractor, no extras)
    assert main(["train-segment", "--head", "avsgn", "--dataset", "ave", "--extract-only", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(folder) and "extracting" not in err
    # and the command goes on to training
    rc = main(["train-segment", "--head", "avsgn", "--dataset", "ave", "--epochs", "1", "--batch-size", "4",
               "--max-steps", "2", "--no-progress", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.strip() == str(home / "avsgn.json")
    assert "accuracy %" in err and "83.10" in err and "extracting" not in err
    assert len(drive.served()) == served


@pytest.mark.skipif(__import__("avlocate.features.clip_clap._deps", fromlist=["x"]).have_open_clip(),
                    reason="open_clip is installed: the missing-extra error cannot happen here")
def test_avsgn_without_the_extras_stops_in_one_line_before_any_download(tmp_path, home, git_host, drive, capsys):
    _serve(tmp_path, git_host, drive)
    rc = main(["train-segment", "--head", "avsgn", "--dataset", "ave", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 6 and out == ""
    assert err.strip().count("\n") == 0 and "open_clip" in err and "avlocate[clip]" in err
    assert drive.served() == [] and git_host.gets == []
    assert not (home / "datasets" / "ave" / "videos").exists()


def test_avsgn_a_clip_without_its_video_is_said_before_extracting(tmp_path, home, git_host, drive):
    from avlocate.datasets.unav import DatasetError
    from avlocate.training.from_dataset import prepare_segment_features

    _serve(tmp_path, git_host, drive, leave_out=("vid0005abc",))
    clap = mini_data.ToneClap()
    with pytest.raises(DatasetError, match=r"lists 1 clip\(s\) with no video under .*videos: vid0005abc$"):
        prepare_segment_features("avsgn", "ave", log=lambda m: None, extractor=mini_data.stand_in_clip_clap(clap=clap))
    assert clap.windows == 0 and not list((home / "datasets" / "ave").glob("vid*.json"))
