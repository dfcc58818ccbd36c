"""Deterministic synthetic audio-visual videos with exact ground truth (training/demo data).

Four classes (``LABELS``) each have a coloured object and a sound; a video mixes audio-visual
events (object visible AND sound audible) with visual-only and audio-only distractors.

    from avlocate.synth import make_video, make_samples, scene_from_seed
    gt = make_video("clip.mp4", seed=1000)          # writes clip.mp4 + clip.json
    scene = scene_from_seed(1000)                   # the same ground truth, without encoding
    frames, audio = render_frames(scene), render_audio(scene)
"""
from __future__ import annotations

from .classes import CLASSES, LABELS, ClassSpec
from .generate import make_samples, make_video, sample_seed
from .render import render_frames
from .scene import Interval, Occurrence, Scene, SceneConfig, scene_from_seed
from .sound import render_audio

__all__ = [
    "CLASSES", "LABELS", "ClassSpec", "Interval", "Occurrence", "Scene", "SceneConfig",
    "make_samples", "make_video", "render_audio", "render_frames", "sample_seed", "scene_from_seed",
]
