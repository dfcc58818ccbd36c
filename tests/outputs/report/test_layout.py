"""Lanes, rows, curves and ticks shared by the page and the picture."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from avlocate.outputs.report.layout import assign_rows, axis_duration, build, fmt_time, nice_ticks
from avlocate.results import Event, Result


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 20)), max_size=30))
def test_rows_never_hold_overlapping_events(spans):
    events = [Event("x", s, s + d, 0.5) for s, d in spans]
    rows = assign_rows(events)
    assert len(rows) == len(events)
    for i, a in enumerate(events):
        for j, b in enumerate(events):
            if i < j and rows[i] == rows[j]:
                assert a.end <= b.start or b.end <= a.start
    # greedy packing uses as many rows as the deepest overlap, no more
    # (a zero-length event occupies its instant: it is drawn, so it needs room)
    depth = max((sum(e.start <= t < max(e.end, e.start + 1e-9) for e in events) for t in {e.start for e in events}),
                default=0)
    assert max(rows, default=-1) + 1 == max(depth, 1 if events else 0)


def test_lanes_in_order_of_first_appearance_with_their_curves():
    r = Result("v.mp4", 10.0, [Event("b", 1, 2, 0.5), Event("a", 0.5, 3, 0.9), Event("b", 1.5, 4, 0.2)],
               extra={"scores": {"times": [1.0, 2.0], "classes": ["a", "c"], "values": [[0.1, 0.2], [0.3, 0.4]]}})
    layout = build(r)
    assert [lane.label for lane in layout.lanes] == ["a", "b"]
    assert layout.lanes[0].curve == [0.1, 0.3] and layout.lanes[1].curve is None
    assert layout.lanes[1].rows == [0, 1] and layout.curve_times == [1.0, 2.0]


def test_malformed_scores_give_no_curves():
    bad = {"times": [1.0], "classes": ["a"], "values": [[0.1, 0.2]]}
    layout = build(Result("v.mp4", 10.0, [Event("a", 0, 1, 1.0)], extra={"scores": bad}))
    assert layout.lanes[0].curve is None and layout.curve_times == []


def test_axis_duration_falls_back_to_the_last_event():
    assert axis_duration(Result("v", None, [Event("a", 1, 7.5, 1.0)])) == 7.5
    assert axis_duration(Result("v", 12.0, [Event("a", 1, 7.5, 1.0)])) == 12.0
    assert axis_duration(Result("v", None, [])) == 1.0


def test_ticks_and_time_labels():
    assert nice_ticks(18.142) == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    for d in (0.3, 7, 42, 600, 7200):
        ticks = nice_ticks(d)
        assert 2 <= len(ticks) <= 13 and ticks[0] == 0 and ticks[-1] <= d + 1e-9
    assert [fmt_time(t) for t in (0, 2.5, 65, 65.5)] == ["0", "2.5", "1:05", "1:05.5"]
