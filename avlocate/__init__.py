"""avlocate: find audio-visual events (seen and heard at the same time) in raw videos."""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import AvlocateError  # noqa: E402
from .results import Event, Result  # noqa: E402


def locate(video: str, model: str | None = None, **options):  # noqa: ANN201
    """Events of one video: ``avlocate.locate("clip.mp4", model="esgnet-demo")`` -> :class:`Result`."""
    from .pipeline.video import locate as _locate

    return _locate(video, model=model, **options)


__all__ = ["__version__", "AvlocateError", "Event", "Result", "locate"]
