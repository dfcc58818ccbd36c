"""avlocate: find audio-visual events (seen and heard at the same time) in raw videos."""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import AvlocateError  # noqa: E402
from .pipeline.options import OPTION_NAMES as _OPTION_NAMES  # noqa: E402 - torch-free
from .results import Event, Result  # noqa: E402

#: the options of ``avlocate run`` that ``load`` and ``locate`` take, under their CLI names: the
#: fields of :class:`avlocate.pipeline.options.RunOptions`.
LOCATE_OPTIONS = _OPTION_NAMES


def load(model: str | None = None, **options):  # noqa: ANN201
    """A model loaded once, for many videos: ``m = avlocate.load("esgnet-demo", device="cpu")``,
    then ``m.locate("clip.mp4")`` -> :class:`Result` for each video, ``m.stream(url)`` for the
    events of a never-ending stream as they close, ``m.card`` for what it is.

    Takes the options of ``avlocate run`` under their CLI names (:data:`LOCATE_OPTIONS`):
    ``device``, ``threshold``, ``scores``, ``features`` (a folder from ``avlocate extract``),
    ``checkpoint``, ``extractor``, ``precision``, ``stall_timeout``, and the model options of the
    models that take them (zero-shot: ``labels`` (a list of names, or one string as on the
    command line), ``vocab``, ``per_modality``, ``min_duration``). Missing extractor weights are
    fetched on first use unless offline (``AVLOCATE_OFFLINE=1``), as by ``avlocate run``.
    """
    from .pipeline.models import load as _load
    from .pipeline.options import RunOptions

    return _load(model, RunOptions.from_keywords("load()", **options))


def locate(video: str, model: str | None = None, **options):  # noqa: ANN201
    """Events of one video: ``avlocate.locate("clip.mp4", model="esgnet-demo")`` -> :class:`Result`.

    A one-shot shortcut over :func:`load` (same options); for many videos, load once.
    """
    from .pipeline.options import RunOptions
    from .pipeline.video import locate as _locate

    return _locate(video, model, RunOptions.from_keywords("locate()", **options))


__all__ = ["__version__", "AvlocateError", "Event", "Result", "load", "locate", "LOCATE_OPTIONS"]
