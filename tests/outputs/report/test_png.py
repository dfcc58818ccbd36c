"""The PNG timeline: size, not blank, bars and curves where the events and scores say."""
from __future__ import annotations

import io

from PIL import Image

from avlocate.outputs.report.layout import PALETTE
from avlocate.outputs.report.png import draw_timeline, render_png
from avlocate.results import Event, Result


def _colour(hex_colour):
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def _lane_band(img, colour, x_range):
    """Rows (y) where pixels within ``x_range`` are close to ``colour`` (a bar's fill at score 1)."""
    px = img.load()
    ys = set()
    for x in range(*x_range):
        for y in range(img.height):
            if sum(abs(a - b) for a, b in zip(px[x, y], colour)) < 30:
                ys.add(y)
    return ys


def test_png_is_1200_wide_and_not_blank(make_result):
    img = Image.open(io.BytesIO(render_png(make_result("v.mp4"))))
    assert img.format == "PNG" and img.width == 1200 and 150 < img.height < 1200
    colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50


def test_bars_are_where_the_events_are():
    # one full-score event per label, far apart: each bar's colour appears only in its x-range
    events = [Event("first", 2.0, 4.0, 1.0), Event("second", 6.0, 9.0, 1.0)]
    img = draw_timeline(Result("v.mp4", 10.0, events))
    # the time axis: x of t is linear between the first and last tick; find it from the bars
    first, second = _colour(PALETTE[0]), _colour(PALETTE[1])
    px = img.load()
    mid_rows = {}
    for name, colour in (("first", first), ("second", second)):
        xs = [x for x in range(img.width) for y in range(0, img.height, 2)
              if sum(abs(a - b) for a, b in zip(px[x, y], colour)) < 30]
        assert xs, f"no bar drawn for {name}"
        mid_rows[name] = (min(xs), max(xs))
    (a0, a1), (b0, b1) = mid_rows["first"], mid_rows["second"]
    scale = (b1 - a0) / (9.0 - 2.0)  # px per second, from the outer bar edges
    assert abs((a1 - a0) / scale - 2.0) < 0.05 and abs((b1 - b0) / scale - 3.0) < 0.05
    assert abs((b0 - a0) / scale - 4.0) < 0.05
    # lanes are distinct bands: the bars do not share rows of pixels
    assert not (_lane_band(img, first, (a0 + 3, a1 - 3)) & _lane_band(img, second, (b0 + 3, b1 - 3)))


def test_lower_score_is_lighter():
    img = draw_timeline(Result("v.mp4", 10.0, [Event("a", 1.0, 3.0, 1.0), Event("a", 6.0, 8.0, 0.2)]))
    width = 1200
    y = next(y for y in range(img.height) if img.getpixel((int(width * 0.35), y)) == _colour(PALETTE[0]))
    strong, weak = img.getpixel((int(width * 0.35), y)), None
    for x in range(int(width * 0.6), int(width * 0.75)):
        p = img.getpixel((x, y))
        if p != (255, 255, 255) and p != strong:
            weak = p
    assert weak is not None and sum(weak) > sum(strong)


def test_curves_are_drawn_when_scores_are_present():
    from PIL import ImageChops

    # two overlapping events: a two-row lane, as tall as a lane with a curve, so sizes agree
    events = [Event("a", 1.0, 4.0, 0.9), Event("a", 2.0, 5.0, 0.5)]
    times = [0.5 * i for i in range(21)]
    scores = {"times": times, "classes": ["a"], "values": [[abs((t % 4) - 2) / 2] for t in times]}
    with_curves = draw_timeline(Result("v.mp4", 10.0, events, extra={"scores": scores}))
    without = draw_timeline(Result("v.mp4", 10.0, events))
    assert with_curves.size == without.size
    changed = ImageChops.difference(with_curves, without).convert("L").point(lambda v: 255 if v else 0)
    assert changed.histogram()[255] > 500
    box = changed.getbbox()  # the curve spans the whole axis, well beyond the bars (1 s to 5 s)
    assert box[2] - box[0] > 0.6 * with_curves.width


def test_empty_and_failed_results_still_draw():
    img = draw_timeline(Result("v.mp4", None, [], error="cannot decode", error_code=4))
    assert img.width == 1200 and len(img.getcolors(1 << 20)) > 5


def test_width_scales(make_result):
    img = Image.open(io.BytesIO(render_png(make_result("v.mp4"), width=2400)))
    assert img.width == 2400
