"""Pictures of a scene: a drifting grey texture with the visible class objects drawn on top.

Frame ``i`` shows time ``i / fps``; an object is drawn in frame ``i`` iff that time lies in its
visible interval ``[start, end)``. Shapes are drawn from signed distances with a one-pixel soft
edge (anti-aliased, so H.264 does not waste bits on jagged edges), on the object's bounding box
only. The background is a sum of a few low-frequency plane waves, evaluated separably
(cos(a+b) = cos a cos b - sin a sin b) so a frame costs two outer products per wave.
Noise is luma-only and small: it keeps the texture from being perfectly flat without inflating
the H.264 files or adding colour that could be mistaken for a class.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .classes import (BELL_PULSE, BY_LABEL, DRUM_BOUNCE, ENGINE_SHAKE, ENGINE_TWIST_RAD,
                      SIREN_SWAY)
from .occurrences import Occurrence, Scene

NOISE_SIGMA = 1.2 / 255
N_WAVES = 6


class Background:
    def __init__(self, seed: int, width: int, height: int) -> None:
        rng = np.random.default_rng([seed, 5])
        mag = rng.uniform(0.4, 2.0, N_WAVES)  # cycles per frame height: low frequency only
        ang = rng.uniform(0, 2 * np.pi, N_WAVES)
        self.fx, self.fy = mag * np.cos(ang), mag * np.sin(ang)
        self.phi = rng.uniform(0, 2 * np.pi, N_WAVES)
        amp = rng.uniform(0.5, 1.0, N_WAVES)
        self.amp = amp / amp.sum()
        speed, direction = rng.uniform(0.02, 0.05), rng.uniform(0, 2 * np.pi)
        self.vx, self.vy = speed * np.cos(direction), speed * np.sin(direction)  # heights / s
        self.base = rng.uniform(0.42, 0.55)
        self.tint = 1.0 + rng.uniform(-0.05, 0.05, 3)  # greyish: at most 5% per channel
        self.x = np.arange(width) / height
        self.y = np.arange(height) / height

    def __call__(self, t: float) -> np.ndarray:
        a = 2 * np.pi * np.outer(self.fx, self.x - self.vx * t)  # waves x W
        b = 2 * np.pi * np.outer(self.fy, self.y - self.vy * t) + self.phi[:, None]  # waves x H
        ca, sa = np.cos(a) * self.amp[:, None], np.sin(a) * self.amp[:, None]
        v = np.cos(b).T @ ca - np.sin(b).T @ sa  # H x W, in [-1, 1]
        grey = (self.base + 0.35 * v).astype(np.float32)
        return grey[:, :, None] * self.tint.astype(np.float32)[None, None, :]


def _signed_distance(shape: str, dx: np.ndarray, dy: np.ndarray, h: float, rot: float) -> np.ndarray:
    """Distance in pixels to the shape's edge (negative inside); ``h`` is the half-height."""
    if shape == "disc":
        return np.hypot(dx, dy) - h
    c, s = np.cos(rot), np.sin(rot)
    u, w = c * dx + s * dy, -s * dx + c * dy
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(w)) - h
    if shape == "diamond":
        return (np.abs(u) + np.abs(w) - h) / np.sqrt(2)
    if shape == "triangle":
        # Equilateral, a vertex pointing up, as tall as the other shapes (2h): circumradius 4h/3,
        # i.e. three half-planes at the inradius 2h/3.
        d = None
        for k in range(3):
            a = np.pi / 2 + 2 * np.pi * k / 3  # outward normals, opposite the vertices
            dk = np.cos(a) * u + np.sin(a) * w - 2 * h / 3
            d = dk if d is None else np.maximum(d, dk)
        return d
    raise ValueError(f"unknown shape {shape!r}")


def draw_shape(img: np.ndarray, shape: str, cx: float, cy: float, h: float, rgb: np.ndarray,
               rot: float = 0.0) -> None:
    """Alpha-blend a filled shape into ``img`` (H x W x 3 float in [0, 1]) in place."""
    height, width = img.shape[:2]
    r = h * 1.5 + 2  # covers every shape: square corners reach h*sqrt(2)
    x0, x1 = max(0, int(cx - r)), min(width, int(np.ceil(cx + r)) + 1)
    y0, y1 = max(0, int(cy - r)), min(height, int(np.ceil(cy + r)) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    dx = (np.arange(x0, x1) + 0.5 - cx)[None, :]
    dy = (np.arange(y0, y1) + 0.5 - cy)[:, None]
    alpha = np.clip(0.5 - _signed_distance(shape, dx, dy, h, rot), 0.0, 1.0)[:, :, None]
    crop = img[y0:y1, x0:x1]
    crop *= 1.0 - alpha
    crop += alpha * rgb  # (float64 alpha into the float32 frame: numpy casts in place)


def object_pose(occ: Occurrence, t: float, width: int, height: int) -> tuple[float, float, float, float]:
    """(cx, cy, half-height, rotation) in pixels/radians of ``occ``'s object at time ``t``.

    Motion runs on the clock ``t - occ.t0`` that the sound uses too, so a drum lands on its
    click, a bell swells on its strike and a siren sways in step with its sweep.
    """
    h = occ.size * height / 2
    cx, cy, rot = occ.x * width, occ.y * height, 0.0
    tr = t - occ.t0
    cyc = 2 * np.pi * (occ.rate * tr + occ.phase)
    if occ.label == "bell":
        h *= 1.0 + BELL_PULSE * np.exp(-np.mod(tr, 1.0 / occ.rate) / 0.12)
    elif occ.label == "siren":
        cx += SIREN_SWAY * h * np.sin(cyc)
    elif occ.label == "engine":
        cx += ENGINE_SHAKE * h * np.sin(cyc)
        cy += ENGINE_SHAKE * h * np.cos(cyc)
        rot = ENGINE_TWIST_RAD * np.sin(2 * np.pi * 0.7 * tr)
    elif occ.label == "drum":
        cy += DRUM_BOUNCE * h * (0.5 - np.abs(np.sin(np.pi * occ.rate * tr)))
    return float(cx), float(cy), float(h), float(rot)


def num_frames(scene: Scene, fps: float) -> int:
    return int(round(scene.duration * fps))


def render_frames(scene: Scene, size: tuple[int, int] = (320, 240), fps: float = 25) -> Iterator[np.ndarray]:
    """Yield the scene's frames as H x W x 3 uint8 RGB arrays, one at a time (bounded memory)."""
    width, height = size
    bg = Background(scene.seed, width, height)
    noise_rng = np.random.default_rng([scene.seed, 6])
    colours = {label: np.asarray(spec.rgb, dtype=np.float64) / 255 for label, spec in BY_LABEL.items()}
    for i in range(num_frames(scene, fps)):
        t = i / fps
        img = bg(t)
        for obj in scene.neutral_objects:  # under the class objects
            if obj.interval.contains(t):
                cx = (obj.x + obj.vx * (t - obj.interval.start)) * width
                draw_shape(img, obj.shape, cx, obj.y * height, obj.size * height / 2,
                           np.full(3, obj.grey))
        for occ in scene.occurrences:
            if occ.visible is not None and occ.visible.contains(t):
                cx, cy, h, rot = object_pose(occ, t, width, height)
                draw_shape(img, BY_LABEL[occ.label].shape, cx, cy, h, colours[occ.label], rot)
        img += noise_rng.standard_normal((height, width, 1), dtype=np.float32) * np.float32(NOISE_SIGMA)
        yield (np.clip(img, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
