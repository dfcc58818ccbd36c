"""The page's timeline as a PNG picture (for papers and issues), drawn with Pillow.

Same layout as the HTML page (:mod:`.layout`): one lane per label, bars whose opacity is the
score (the score is also written in the bar when it fits), per-snippet score curves behind the
bars when the result carries them, overlapping events of one label in rows of their own,
single-modality events hatched, a time axis in seconds with grid lines. Sizes are chosen for
1200 px wide and scale with ``width``.
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ...results import Result
from .layout import PALETTE, build, fmt_time, nice_ticks

INK, MUTED, GRID, LANE_BG, WARN = (29, 36, 51), (102, 112, 133), (228, 231, 236), (247, 248, 250), (181, 71, 8)


@lru_cache(maxsize=16)
def _font(size: int, bold: bool = False) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """DejaVu Sans when installed (wide Unicode coverage), else Pillow's built-in scalable font."""
    for name in (("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf") if bold else ("DejaVuSans.ttf", "LiberationSans-Regular.ttf")):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _fit(draw: ImageDraw.ImageDraw, text: str, font, max_w: float) -> str:  # noqa: ANN001
    """``text`` on one line (a newline in a label or a file name made Pillow refuse to measure it),
    cut with an ellipsis so it is at most ``max_w`` pixels wide."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if draw.textlength(text, font=font) <= max_w:
        return text
    while text and draw.textlength(text + "…", font=font) > max_w:
        text = text[:-1]
    return text + "…" if text else ""


def render_png(result: Result, width: int = 1200) -> bytes:
    """The timeline of ``result`` as PNG bytes, ``width`` pixels wide."""
    return _to_png(draw_timeline(result, width))


def write_png(result: Result, path: str | Path, width: int = 1200) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_png(result, width))
    return path


def _to_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def draw_timeline(result: Result, width: int = 1200) -> Image.Image:
    k = width / 1200  # every size below is for 1200 px and scales with the width
    s = lambda v: max(1, round(v * k))  # noqa: E731
    layout = build(result)
    margin, label_w, row_h = s(16), s(200), s(22)
    x0, x1 = margin + label_w + s(8), width - margin - s(8)
    f_title, f_text, f_small, f_label = _font(s(18), True), _font(s(13)), _font(s(11)), _font(s(13), True)

    notes = ([(f"error: {result.error}", WARN)] if result.error else [])
    notes += [(f"warning: {key}: {value}", WARN) for key, value in result.warnings.items()]
    lane_h = [max(lane.num_rows * row_h + s(6), s(44) if lane.curve else 0) for lane in layout.lanes]
    header_h = s(48) + len(notes) * s(18)
    body_h = sum(lane_h) if lane_h else s(30)
    height = header_h + s(8) + body_h + s(44)

    img = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    d = ImageDraw.Draw(img)
    d.text((margin, s(10)), _fit(d, Path(result.video).name or result.video, f_title, width - 2 * margin), font=f_title, fill=INK)
    meta = [f"{len(result.events)} event(s)", f"axis {layout.duration:.2f} s"]
    meta += [f"model {result.model}"] if result.model else []
    meta += ["bar opacity = score"]
    d.text((margin, s(32)), _fit(d, " · ".join(meta), f_text, width - 2 * margin), font=f_text, fill=MUTED)
    for i, (text, colour) in enumerate(notes):
        d.text((margin, s(50) + i * s(18)), _fit(d, text, f_text, width - 2 * margin), font=f_text, fill=colour)

    def x_of(t: float) -> float:
        return x0 + (x1 - x0) * min(max(t, 0.0), layout.duration) / layout.duration

    top = header_h + s(8)
    ticks = nice_ticks(layout.duration)
    y = top
    if not layout.lanes:
        d.text((x0, y + s(8)), "no events", font=f_text, fill=MUTED)
    for n, (lane, h) in enumerate(zip(layout.lanes, lane_h)):
        colour = _rgb(PALETTE[n % len(PALETTE)])
        _lane(img, lane, layout.curve_times, [x_of(t) for t in ticks], colour, (x0, x1, y, h), x_of, row_h, s, f_small)
        d = ImageDraw.Draw(img)
        label = _fit(d, lane.label, f_label, label_w - s(4))
        d.text((x0 - s(8) - d.textlength(label, font=f_label), y + s(4)), label, font=f_label, fill=INK)
        y += h
    # time axis in seconds
    d.line([(x0, y), (x1, y)], fill=MUTED, width=s(1))
    for t in ticks:
        x = x_of(t)
        d.line([(x, y), (x, y + s(5))], fill=MUTED, width=s(1))
        text = fmt_time(t)
        d.text((x - d.textlength(text, font=f_small) / 2, y + s(7)), text, font=f_small, fill=MUTED)
    caption = "time (s)"
    d.text((x1 - d.textlength(caption, font=f_small), y + s(24)), caption, font=f_small, fill=MUTED)
    return img.convert("RGB")


def _lane(img: Image.Image, lane, times: list[float], grid: list[float], colour, box, x_of, row_h: int, s, font) -> None:  # noqa: ANN001
    """One lane on the RGBA ``img``: background band, score curve, then bars blended by score."""
    x0, x1, y, h = box
    d = ImageDraw.Draw(img)
    d.rectangle([x0, y + 1, x1, y + h - 1], fill=LANE_BG)
    d.line([(x0, y + h - 1), (x1, y + h - 1)], fill=(208, 213, 221))
    for gx in grid:  # grid lines at the axis ticks, under the curve and the bars
        d.line([(gx, y + 1), (gx, y + h - 2)], fill=GRID, width=1)
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))  # translucent shapes blend over what is below
    d = ImageDraw.Draw(overlay)
    if lane.curve and times:
        pts = [(x_of(t), y + h - s(3) - v * (h - s(6))) for t, v in zip(times, lane.curve)]
        d.line(pts, fill=colour + (230,), width=s(2), joint="curve")
    for ev, row in zip(lane.events, lane.rows):
        bx0, bx1 = x_of(ev.start), max(x_of(ev.end), x_of(ev.start) + s(2))
        by0 = y + s(3) + row * row_h
        by1 = by0 + row_h - s(4)
        alpha = round(255 * (0.3 + 0.7 * min(max(ev.score, 0.0), 1.0)))
        d.rounded_rectangle([bx0, by0, bx1, by1], radius=s(3), fill=colour + (alpha,))
        if ev.modality:  # single-modality events: hatched, like on the page
            _hatch(d, (bx0, by0, bx1, by1), s(8), s(2))
        text = f"{ev.score:.2f}" + (f" {ev.modality} only" if ev.modality else "")
        if d.textlength(text, font=font) + s(6) > bx1 - bx0:
            text = f"{ev.score:.2f}"
        if d.textlength(text, font=font) + s(6) <= bx1 - bx0:
            # outlined in the lane colour so the text stays readable over hatching and pale bars
            d.text((bx0 + s(4), (by0 + by1) / 2), text, font=font, fill=(255, 255, 255, 255), anchor="lm",
                   stroke_width=s(2), stroke_fill=colour + (255,))
    img.alpha_composite(overlay)


def _hatch(d: ImageDraw.ImageDraw, box: tuple[float, float, float, float], step: int, w: int) -> None:
    """45-degree white stripes clipped to ``box``."""
    bx0, by0, bx1, by1 = box
    bh = by1 - by0
    x = bx0 - bh
    while x < bx1:
        # the segment from (x, by1) to (x + bh, by0), clipped to [bx0, bx1]
        a = max(bx0, x)
        b = min(bx1, x + bh)
        if b > a:
            d.line([(a, by1 - (a - x)), (b, by1 - (b - x))], fill=(255, 255, 255, 120), width=w)
        x += step
