"""--model zeroshot on a URL (issue 17): read in one pass, the same scores as the file."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from avlocate.features.clip_clap.extractor import ClipClapExtractor
from avlocate.zeroshot.model import default_extractor_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/stream_fixtures.py
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the stand-in encoders of test_model.py
from stream_fixtures import StreamServer  # noqa: E402
from test_model import StandInClap, StandInClip  # noqa: E402
from door import locate_zeroshot  # noqa: E402


@pytest.fixture()
def demo(repo_root):
    return repo_root / "samples" / "demo1.mp4"


def test_url_gives_the_scores_of_the_file(demo):
    def run(video):  # noqa: ANN001, ANN202
        ex = ClipClapExtractor(default_extractor_config(device="cpu"), clip_encoder=StandInClip(),
                               clap_encoder=StandInClap())
        return locate_zeroshot(video, labels="bell, drum, siren", extractor=ex, scores=True)

    want = run(demo)
    with StreamServer({"demo1.mp4": demo.read_bytes()}) as srv:
        got = run(srv.url("demo1.mp4"))
    assert got.video.startswith("http://127.0.0.1:")
    assert abs(got.duration - want.duration) < 0.05
    assert got.extra["scores"]["times"] == want.extra["scores"]["times"] and want.extra["scores"]["times"]
    for a, b in zip(got.extra["scores"]["values"], want.extra["scores"]["values"]):
        assert a == pytest.approx(b, abs=1e-3)
    assert [(e.label, e.start, e.end) for e in got.events] == pytest.approx(
        [(e.label, e.start, e.end) for e in want.events]) if want.events else got.events == []
