"""Issue 24 item 7: one object per output format, in one table; everything else reads it."""
from __future__ import annotations

import pytest

from avlocate.errors import UsageError
from avlocate.outputs import writers
from avlocate.outputs.writers import EXTENSIONS, FORMATS, PER_VIDEO, TABLE, Format, parse_formats, render
from avlocate.results import Event, Result


@pytest.fixture
def result():
    return Result(video="clip.mp4", duration=4.0, events=[Event("bell", 0.5, 1.5, 0.9)], model="m")


def test_the_views_are_the_table():
    assert all(isinstance(f, Format) for f in TABLE)
    assert FORMATS == tuple(f.name for f in TABLE) and parse_formats("all", "json") == list(FORMATS)
    assert EXTENSIONS == {f.name: f.extension for f in TABLE}
    assert PER_VIDEO == {f.name for f in TABLE if f.per_video}
    assert len({e.lower() for e in EXTENSIONS.values()}) == len(TABLE)  # -o files never collide


@pytest.mark.parametrize("fmt", [f.name for f in TABLE])
def test_every_entry_renders_through_the_one_dispatch(fmt, result):
    entry = writers.get_format(fmt)
    content = render(fmt, [result])
    assert isinstance(content, bytes) == entry.binary and content
    if entry.per_video:
        with pytest.raises(UsageError, match="holds one video"):
            render(fmt, [result, result])
    else:
        assert render(fmt, [result, result])


def test_an_unknown_format_is_one_usage_error():
    with pytest.raises(UsageError, match="unknown format 'docx'"):
        parse_formats("json,docx", "json")
