"""``avlocate run --live --model zeroshot --zs-method av2a`` prints the events of its file run."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import torch

from avlocate.media.source import open_input_clip
from avlocate.pipeline.live import LiveConfig, LiveStream
from avlocate.pipeline.live.av2a import Av2aLiveLocator
from avlocate.pipeline.live.stream import model_locator
from avlocate.runners.live import LivePrinter, run_live

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/stream_fixtures.py
sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_fixtures import remux_to_ts  # noqa: E402
from test_av2a import av2a_model  # noqa: E402
from test_live_zeroshot import DEMO  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def zs():
    return av2a_model()


@pytest.fixture(scope="module")
def demo1x2(tmp_path_factory) -> Path:
    # demo1 twice (~37 s): four 10-s clips, the second bell of the first copy in clip 1,
    # the first bell of the second copy across the clip boundary at 20 s
    return remux_to_ts(DEMO, tmp_path_factory.mktemp("live_av2a") / "demo1x2.ts", repeat=2)


def _live(zs, video: Path, piped: bool) -> list[dict]:
    """``avlocate run --live``'s loop through the door (LoadedModel.stream): AV²A's clips."""
    out, ex, config = io.StringIO(), zs.extractor, LiveConfig()
    with open(video, "rb") as pipe:
        clip = open_input_clip("-", ex.media_request, stdin=pipe) if piped else open_input_clip(video, ex.media_request)
        locator = model_locator(zs, config)
        assert isinstance(locator, Av2aLiveLocator)
        run_live(LiveStream(clip, ex, locator, config), LivePrinter(str(video), out, None, False))
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("case", ["demo1.mp4", "demo1x2.ts piped"])
def test_live_av2a_gives_the_events_of_the_file_run(zs, demo1x2, case):
    video, piped = (DEMO, False) if case == "demo1.mp4" else (demo1x2, True)
    want = zs.locate(video).events
    assert len(want) >= 2  # not vacuous
    lines = _live(zs, video, piped)
    got = sorted((line["label"], line["start"], line["end"]) for line in lines)
    assert got == sorted((e.label, e.start, e.end) for e in want)
    for line in lines:
        if not line["final"]:  # printed once its clip (and the next, when held) was analysed
            assert line["stream_time"] - line["end"] <= 20.0 + 2.0 + 1e-6, line
    if video == demo1x2:
        # 7-10 s ends at clip 0's end: held, printed once clip 1 (10-20 s) showed it does not go on
        mid = [line for line in lines if not line["final"]]
        assert [(m["start"], m["end"], m["stream_time"]) for m in mid] == [(7.0, 10.0, 20.0)]


def test_a_segment_touching_a_clip_end_is_held_and_joined(zs):
    """Frames 4-9 of clip 0 and 0-5 of clip 1 show and sound a bell (most of each clip, so the
    class filter keeps it): one event 4-16 s, printed only after clip 1 is analysed, as the
    file run's join."""
    from avlocate.features.base import Features
    from avlocate.zeroshot.av2a import decode

    head = zs.head
    text = head.text_bank()
    tl = zs.extractor.timeline
    row = torch.full((20,), 4)  # label 4 ("piano"): the stand-ins' background concept
    row[4:16] = 0  # bell
    visual, audio = text.visual[row], text.audio[row]
    want = [(e.label, e.start, e.end) for e in decode(visual, audio, text, tl.with_duration(20.0), head.config)]
    assert ("bell", 4.0, 16.0) in want
    loc = Av2aLiveLocator(head)
    printed = []
    for first in range(0, 20, 2):
        loc.add(Features(visual[first:first + 2], audio[first:first + 2], tl.with_duration(None), "clip-clap"))
        step = loc.step_closed()
        if first + 2 == 10:
            assert not any(c.event.label == "bell" for c in step)  # held: it may go on in clip 1
        printed += step
    printed += loc.flush(20.0)
    assert sorted((c.event.label, c.event.start, c.event.end) for c in printed) == sorted(want)
