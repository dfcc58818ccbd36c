"""The inline CSS and JavaScript of the per-video page (no network: everything ships in the page).

The script reads the page's data from a ``<script type="application/json">`` block and builds the
DOM with ``textContent``/``setAttribute`` only, so labels, paths and warnings can never become
markup. Bars and the playhead are placed in percent of the track width, so the page stays right
when the window is resized.
"""
from __future__ import annotations

CSS = """
:root { --label-w: 180px; --row-h: 22px; --ink: #1d2433; --muted: #667085; --line: #d0d5dd; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); margin: 0; padding: 16px 20px; background: #fff; }
h1 { font-size: 18px; margin: 0 0 2px; word-break: break-all; }
#meta { color: var(--muted); margin: 0 0 8px; }
.note { border-left: 4px solid #f79009; background: #fffaeb; padding: 6px 10px; margin: 4px 0; }
.note.error { border-color: #d92d20; background: #fef3f2; }
#player { display: block; width: 640px; max-width: 100%; max-height: 50vh; background: #000; margin: 8px 0 12px; }
#timeline { position: relative; user-select: none; }
.row { display: flex; align-items: stretch; }
.lane-label { flex: 0 0 var(--label-w); width: var(--label-w); padding: 2px 8px 2px 0; overflow: hidden;
              text-overflow: ellipsis; white-space: nowrap; text-align: right; font-weight: 600; }
.track { position: relative; flex: 1 1 auto; min-width: 0; border-bottom: 1px solid var(--line);
         cursor: pointer; }
.lane .track { background: #f9fafb; }
.curve { position: absolute; left: 0; top: 0; width: 100%; height: 100%; pointer-events: none; }
.curve polyline { fill: none; stroke-width: 1.5; vector-effect: non-scaling-stroke; opacity: 0.9; }
.bar { position: absolute; height: calc(var(--row-h) - 4px); min-width: 2px; border-radius: 3px;
       color: #fff; font-size: 11px; line-height: calc(var(--row-h) - 4px); padding: 0 3px;
       overflow: hidden; white-space: nowrap; outline-offset: 1px; text-shadow: 0 0 2px rgba(0,0,0,.7); }
.bar.single { background-image: repeating-linear-gradient(45deg, rgba(255,255,255,.35) 0 4px, transparent 4px 8px); }
.bar:hover, .bar:focus { outline: 2px solid var(--ink); }
.bar.active { box-shadow: 0 0 0 2px #101828 inset; }
#axis { height: 24px; border-bottom: none; cursor: default; }
.tick { position: absolute; top: 0; height: 6px; border-left: 1px solid var(--muted); }
.tick span { position: absolute; top: 6px; transform: translateX(-50%); color: var(--muted); font-size: 11px; }
#playhead-layer { position: absolute; top: 0; bottom: 0; left: var(--label-w); right: 0; pointer-events: none; }
#playhead { position: absolute; top: 0; bottom: 0; width: 2px; margin-left: -1px; background: #d92d20; }
#tip { position: fixed; display: none; pointer-events: none; background: #101828; color: #fff;
       padding: 4px 8px; border-radius: 4px; font-size: 12px; white-space: pre; z-index: 10; }
table { border-collapse: collapse; margin-top: 16px; }
th, td { padding: 2px 10px; border-bottom: 1px solid var(--line); text-align: right; }
th:nth-child(2), td:nth-child(2) { text-align: left; }
tbody tr { cursor: pointer; }
tbody tr:hover { background: #f2f4f7; }
.empty { color: var(--muted); padding: 8px 0; }
"""

JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("avl-data").textContent);
  var video = document.getElementById("player");
  var D = data.duration;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function pct(t) { return (100 * Math.min(Math.max(t, 0), D) / D) + "%"; }
  function sec(t) { return t.toFixed(2) + " s"; }
  function seek(t) {
    video.currentTime = t;
    update();
  }
  function describe(ev) {
    var kind = ev.modality ? "\n(" + ev.modality + " only)" : "";
    return ev.label + "\n" + sec(ev.start) + " \u2013 " + sec(ev.end) +
      " (" + sec(ev.end - ev.start) + ")\nscore " + ev.score.toFixed(2) + kind;
  }

  document.getElementById("title").textContent = data.title;
  document.title = data.title + " \u2014 avlocate";
  document.getElementById("meta").textContent = data.meta.join(" \u00b7 ");
  var notes = document.getElementById("notes");
  data.notes.forEach(function (n) { notes.appendChild(el("div", "note" + (n.error ? " error" : ""), n.text)); });

  var tip = document.getElementById("tip");
  function showTip(e, text) {
    tip.textContent = text;
    tip.style.display = "block";
    tip.style.left = (e.clientX + 12) + "px";
    tip.style.top = (e.clientY + 12) + "px";
  }
  function hideTip() { tip.style.display = "none"; }

  var timeline = document.getElementById("timeline");
  var axis = document.getElementById("axis");
  data.ticks.forEach(function (t) {
    var tick = el("div", "tick");
    tick.style.left = pct(t[0]);
    tick.appendChild(el("span", null, t[1]));
    axis.appendChild(tick);
  });

  var bars = [];
  var SVG = "http://www.w3.org/2000/svg";
  data.lanes.forEach(function (lane) {
    var row = el("div", "row lane");
    var label = el("div", "lane-label", lane.label);
    label.setAttribute("title", lane.label);
    var track = el("div", "track");
    track.style.height = "calc(var(--row-h) * " + lane.rows + " + 4px)";
    if (lane.curve) {
      var svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("class", "curve");
      svg.setAttribute("viewBox", "0 0 1000 100");
      svg.setAttribute("preserveAspectRatio", "none");
      var line = document.createElementNS(SVG, "polyline");
      line.setAttribute("stroke", lane.color);
      line.setAttribute("points", lane.curve.map(function (v, i) {
        return (1000 * data.curveTimes[i] / D).toFixed(2) + "," + (100 - 96 * v).toFixed(2);
      }).join(" "));
      svg.appendChild(line);
      track.appendChild(svg);
    }
    lane.events.forEach(function (ev) {
      var bar = el("div", "bar" + (ev.modality ? " single" : ""), ev.score.toFixed(2));
      bar.style.left = pct(ev.start);
      bar.style.width = "calc(" + pct(ev.end) + " - " + pct(ev.start) + ")";
      bar.style.top = (2 + ev.row * 22) + "px";
      bar.style.background = lane.color;
      bar.style.opacity = String(0.3 + 0.7 * Math.min(Math.max(ev.score, 0), 1));
      bar.setAttribute("title", describe(ev));
      bar.setAttribute("tabindex", "0");
      bar.setAttribute("role", "button");
      bar.setAttribute("aria-label", describe(ev).replace(/\n/g, ", "));
      bar.dataset.index = String(ev.index);
      bar.addEventListener("click", function (e) { e.stopPropagation(); seek(ev.start); });
      bar.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); seek(ev.start); } });
      bar.addEventListener("mousemove", function (e) { showTip(e, describe(ev)); });
      bar.addEventListener("mouseleave", hideTip);
      bars.push({ el: bar, ev: ev });
      track.appendChild(bar);
    });
    // A click on the empty track seeks to the time under the pointer.
    track.addEventListener("click", function (e) {
      var r = track.getBoundingClientRect();
      seek(D * (e.clientX - r.left) / r.width);
    });
    row.appendChild(label);
    row.appendChild(track);
    timeline.appendChild(row);
  });
  if (!data.lanes.length) timeline.appendChild(el("div", "empty", "No events found."));
  var layer = el("div");
  layer.id = "playhead-layer";
  var head = el("div");
  head.id = "playhead";
  layer.appendChild(head);
  timeline.appendChild(layer);

  var tbody = document.getElementById("events-body");
  data.events.forEach(function (ev, i) {
    var tr = el("tr");
    [i + 1, ev.label + (ev.modality ? " (" + ev.modality + " only)" : ""), ev.start.toFixed(2),
     ev.end.toFixed(2), (ev.end - ev.start).toFixed(2), ev.score.toFixed(2)].forEach(function (v) {
      tr.appendChild(el("td", null, v));
    });
    tr.addEventListener("click", function () { seek(ev.start); });
    tbody.appendChild(tr);
  });

  function update() {
    var t = video.currentTime || 0;
    head.style.left = pct(t);
    bars.forEach(function (b) { b.el.classList.toggle("active", t >= b.ev.start && t < b.ev.end); });
  }
  var ticking = false;
  function loop() {
    update();
    if (!video.paused && !video.ended) requestAnimationFrame(loop); else ticking = false;
  }
  video.addEventListener("play", function () { if (!ticking) { ticking = true; requestAnimationFrame(loop); } });
  ["timeupdate", "seeked", "loadedmetadata", "pause"].forEach(function (n) { video.addEventListener(n, update); });
  video.addEventListener("error", function () {
    notes.appendChild(el("div", "note", "The video could not be loaded from " + data.videoRef +
      " (moved, or a format this browser cannot play); the timeline still works."));
  });
  update();
  document.body.dataset.ready = "1";
})();
"""
