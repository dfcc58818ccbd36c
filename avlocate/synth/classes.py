"""The four synthetic classes as data: colour, shape, motion extent and sound parameters.

Everything the scene sampler, the renderer, the sound synthesiser and the tests need to agree on
lives here, so that "what a bell looks and sounds like" is written down exactly once.
Colours are fully saturated and at least 60 degrees apart in hue (yellow 52, green 120,
blue 225, magenta 300) so that a plain hue threshold separates them after H.264 chroma
subsampling, and none of them is close to the greyish background.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClassSpec:
    label: str
    rgb: tuple[int, int, int]
    hue_deg: float  # hue of ``rgb`` (HSV), used by tests and by colour features
    shape: str  # disc | square | triangle | diamond
    # Largest distance the object reaches from its centre, in units of its half-height, over its
    # whole motion (x, y). The sampler uses it to keep the object inside the frame and away from
    # other objects shown at the same time.
    extent: tuple[float, float]
    rate_range: tuple[float, float]  # rhythm shared by motion and sound (Hz)
    sound: str  # strikes | sweep | am_noise | clicks
    band_hz: tuple[float, float]  # where the sound's energy is (for documentation and tests)


CLASSES: tuple[ClassSpec, ...] = (
    # Bell: strikes every ~0.5 s (rate 1.7-2.2 Hz); the disc swells by 20% at each strike.
    ClassSpec("bell", (255, 220, 0), 52.0, "disc", (1.25, 1.25), (1.7, 2.2), "strikes", (660.0, 2640.0)),
    # Siren: one up/down sweep 500-1500 Hz per ~1 s; the square sways left/right in step.
    ClassSpec("siren", (0, 64, 255), 225.0, "square", (2.6, 1.05), (0.8, 1.25), "sweep", (500.0, 1500.0)),
    # Engine: 80-400 Hz noise, amplitude-modulated at 7-9 Hz; the triangle shakes at that rate.
    ClassSpec("engine", (0, 210, 0), 120.0, "triangle", (1.45, 1.45), (7.0, 9.0), "am_noise", (80.0, 400.0)),
    # Drum: 4-6 broadband clicks per second; the diamond bounces and lands on each click.
    ClassSpec("drum", (235, 0, 235), 300.0, "diamond", (1.05, 1.5), (4.0, 6.0), "clicks", (300.0, 8000.0)),
)

LABELS: tuple[str, ...] = tuple(c.label for c in CLASSES)
BY_LABEL: dict[str, ClassSpec] = {c.label: c for c in CLASSES}

# Bell: fundamental range and relative amplitudes of harmonics 1..3.
BELL_F0_RANGE = (660.0, 880.0)
BELL_HARMONICS = (1.0, 0.6, 0.4)
BELL_DECAY_S = 0.3  # rings on into the next strike, like a real bell (and no silent gaps)
SIREN_RANGE_HZ = (500.0, 1500.0)
ENGINE_BAND_HZ = (80.0, 400.0)
CLICK_DECAY_S = 0.006  # a short "tick": long enough to carry energy, short enough to be a click

# Motion amplitudes, in units of the object's half-height; ``extent`` above is derived from them.
BELL_PULSE = 0.2  # radius swells by this fraction at a strike
SIREN_SWAY = 1.5  # horizontal sway amplitude
ENGINE_SHAKE = 0.08  # jitter amplitude
ENGINE_TWIST_RAD = 0.3  # rotation amplitude
DRUM_BOUNCE = 0.9  # bounce height

# Loudness of class sounds (RMS over the active time, dBFS) and of the background. Every sound's
# peak is also capped at 0.9 (sound.PEAK_CAP); for the impulsive drum that cap binds, so clicks
# end up at about -20..-19 dBFS RMS whatever was drawn.
GAIN_DB_RANGE = (-20.0, -8.0)
BACKGROUND_DB = -35.0
