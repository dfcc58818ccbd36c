"""The HTML page in a real headless Chromium: lanes, bars, seeking, playhead, hover, escaping."""
from __future__ import annotations

import shutil
import time

import pytest
from PIL import Image

from avlocate.outputs.report.html import write_html

PX = 1.5  # pixel tolerance for bar geometry (sub-pixel layout rounding)


def _wait(browser, script: str, timeout: float = 15.0, what: str = ""):  # noqa: ANN001
    """Poll a JS expression until truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = browser.execute_script("return " + script)
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what or script}")


@pytest.fixture(scope="module")
def page(browser, serve, small_video, make_result):
    """The page for the hand-made result, written next to a copy of the video and opened."""
    folder = serve.root / "pages"
    folder.mkdir(exist_ok=True)
    video = shutil.copy(small_video, serve.root / small_video.name)  # page in a sub-folder: ../clip%20one.mp4
    result = make_result(str(video))
    path = write_html(result, folder / "clip.html")
    browser.get(serve(path))
    _wait(browser, "document.body.dataset.ready === '1'", what="the page script")
    _wait(browser, "document.getElementById('player').readyState >= 1", what="video metadata (codec supported?)")
    return result


def _geometry(browser):  # noqa: ANN001
    return browser.execute_script("""
        return Array.from(document.querySelectorAll('.bar')).map(function (b) {
          var r = b.getBoundingClientRect(), t = b.parentElement.getBoundingClientRect();
          return {index: +b.dataset.index, left: r.left, width: r.width, trackLeft: t.left,
                  trackWidth: t.width, lane: b.closest('.lane').querySelector('.lane-label').textContent};
        });""")


def test_lanes_and_bars_match_events(browser, page):
    result = page
    labels = browser.execute_script(
        "return Array.from(document.querySelectorAll('.lane .lane-label')).map(e => e.textContent)")
    assert sorted(labels) == sorted({e.label for e in result.events})
    bars = _geometry(browser)
    assert sorted(b["index"] for b in bars) == list(range(len(result.events)))
    for b in bars:
        ev = result.events[b["index"]]
        scale = b["trackWidth"] / result.duration
        assert b["lane"] == ev.label
        assert b["left"] == pytest.approx(b["trackLeft"] + ev.start * scale, abs=PX)
        assert b["width"] == pytest.approx(max(2.0, (ev.end - ev.start) * scale), abs=PX)


def test_overlapping_events_get_their_own_rows(browser, page):
    tops = browser.execute_script("""
        return Array.from(document.querySelectorAll('.bar')).map(function (b) {
          return [+b.dataset.index, b.getBoundingClientRect().top, b.getBoundingClientRect().bottom];
        });""")
    by_index = {i: (top, bottom) for i, top, bottom in tops}
    events = page.events
    for i, a in enumerate(events):
        for j, b in enumerate(events):
            if i < j and a.label == b.label and a.start < b.end and b.start < a.end:
                (t1, b1), (t2, b2) = by_index[i], by_index[j]
                assert b1 <= t2 or b2 <= t1, f"bars of overlapping events {a} and {b} overlap on screen"


def test_clicking_a_bar_seeks_the_video_and_moves_the_playhead(browser, page):
    from selenium.webdriver.common.by import By

    for bar in browser.find_elements(By.CSS_SELECTOR, ".bar"):
        ev = page.events[int(bar.get_attribute("data-index"))]
        bar.click()
        _wait(browser, "!document.getElementById('player').seeking", what="the seek to finish")
        now = browser.execute_script("return document.getElementById('player').currentTime")
        assert now == pytest.approx(ev.start, abs=0.05), ev
        head, track = browser.execute_script("""
            var t = document.querySelector('.lane .track').getBoundingClientRect();
            var h = document.getElementById('playhead').getBoundingClientRect();
            return [h.left + h.width / 2, [t.left, t.width]];""")
        assert head == pytest.approx(track[0] + now / page.duration * track[1], abs=PX)


def test_playhead_follows_playback(browser, page):
    browser.execute_script("var v = document.getElementById('player'); v.muted = true; v.currentTime = 0.2; v.play();")
    _wait(browser, "document.getElementById('player').currentTime > 0.7", what="playback to advance")
    browser.execute_script("document.getElementById('player').pause()")
    time.sleep(0.1)  # let the last frame of the animation loop run
    now, head, track = browser.execute_script("""
        var t = document.querySelector('.lane .track').getBoundingClientRect();
        var h = document.getElementById('playhead').getBoundingClientRect();
        return [document.getElementById('player').currentTime, h.left + h.width / 2, [t.left, t.width]];""")
    assert head == pytest.approx(track[0] + now / page.duration * track[1], abs=PX)


def test_hover_shows_label_times_and_score(browser, page, hostile):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    bar = next(b for b in browser.find_elements(By.CSS_SELECTOR, ".bar")
               if page.events[int(b.get_attribute("data-index"))].label == hostile)
    ev = page.events[int(bar.get_attribute("data-index"))]
    ActionChains(browser).move_to_element(bar).perform()
    tip = browser.find_element(By.ID, "tip")
    _wait(browser, "getComputedStyle(document.getElementById('tip')).display !== 'none'", what="the tooltip")
    text = tip.get_attribute("textContent")
    assert hostile in text and f"{ev.start:.2f}" in text and f"{ev.end:.2f}" in text and f"{ev.score:.2f}" in text
    assert hostile in bar.get_attribute("title")


def test_hostile_label_renders_as_text(browser, page, hostile):
    text = browser.execute_script("return document.body.textContent")
    assert hostile in text
    assert "missing <b>" in text  # the warning, shown and escaped
    assert browser.execute_script("return window.__dialogs") == []
    assert browser.execute_script("return document.scripts.length") == 2  # data block + page script
    assert browser.execute_script("return document.querySelectorAll('b').length") == 0


def test_curves_drawn_for_labels_with_scores(browser, page):
    with_curve = browser.execute_script("""
        return Array.from(document.querySelectorAll('.lane')).filter(l => l.querySelector('svg polyline'))
          .map(l => l.querySelector('.lane-label').textContent);""")
    classes = set(page.extra["scores"]["classes"])
    assert sorted(with_curve) == sorted({e.label for e in page.events} & classes)


def test_screenshot_is_not_blank(browser, page, tmp_path):
    shot = tmp_path / "page.png"
    assert browser.save_screenshot(str(shot))
    img = Image.open(shot).convert("RGB")
    assert img.width >= 800 and img.height >= 400
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20


def test_embedded_video_plays_from_a_data_url(browser, serve, small_video, make_result):
    result = make_result(str(small_video), scores=False)
    path = write_html(result, serve.root / "embedded" / "clip.html", embed=True)
    browser.get(serve(path))
    _wait(browser, "document.getElementById('player').readyState >= 1", what="embedded video metadata")
    assert browser.execute_script("return document.getElementById('player').currentSrc").startswith("data:video/mp4;base64,")
    duration = browser.execute_script("return document.getElementById('player').duration")
    assert duration == pytest.approx(4.0, abs=0.2)


def test_page_opened_from_disk_plays_and_seeks(browser, small_video, make_result, tmp_path):
    """Double-clicking the saved page (file://) is how most people will open it."""
    from selenium.webdriver.common.by import By

    shutil.copy(small_video, tmp_path / "v.mp4")
    result = make_result(str(tmp_path / "v.mp4"), scores=False)
    browser.get(write_html(result, tmp_path / "page.html").as_uri())
    _wait(browser, "document.getElementById('player').readyState >= 1", what="video metadata over file://")
    bar = browser.find_elements(By.CSS_SELECTOR, ".bar")[-1]
    bar.click()
    _wait(browser, "!document.getElementById('player').seeking", what="the seek to finish")
    now = browser.execute_script("return document.getElementById('player').currentTime")
    assert now == pytest.approx(result.events[int(bar.get_attribute("data-index"))].start, abs=0.05)
