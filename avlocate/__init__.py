"""avlocate: find audio-visual events (seen and heard at the same time) in raw videos."""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import AvlocateError  # noqa: E402
from .results import Event, Result  # noqa: E402

#: the options of ``avlocate run`` that ``locate`` takes, under their CLI names, in the order of
#: :func:`avlocate.pipeline.video_runner`'s parameters.
LOCATE_OPTIONS = ("device", "threshold", "scores", "labels", "vocab", "per_modality", "min_duration", "features",
                  "checkpoint", "extractor", "precision", "zs_method")
_OLD_NAMES = {"keep_scores": "scores", "features_dir": "features"}  # earlier keyword names still work


def locate(video: str, model: str | None = None, **options):  # noqa: ANN201
    """Events of one video: ``avlocate.locate("clip.mp4", model="esgnet-demo")`` -> :class:`Result`.

    Takes the options of ``avlocate run`` under their CLI names: ``device``, ``threshold``,
    ``scores``, ``features`` (a folder from ``avlocate extract``), ``checkpoint``, ``extractor``,
    ``precision``, and for ``model="zeroshot"``: ``labels`` (a list of names, or one string as on
    the command line), ``vocab``, ``per_modality``, ``min_duration``, ``zs_method``. One front door: the CLI and
    this function both go through :func:`avlocate.pipeline.video_runner`.
    """
    from .errors import UsageError
    from .pipeline import video_runner

    given = {}
    for key, value in options.items():
        name = _OLD_NAMES.get(key, key)
        if name not in LOCATE_OPTIONS:
            raise UsageError(f"locate() has no option {key!r}; it takes {', '.join(LOCATE_OPTIONS)}")
        given[name] = value
    labels = given.get("labels")
    if labels is not None and not isinstance(labels, str):
        labels = list(labels)  # the zero-shot model takes a list as it is (names may contain commas)
    runner = video_runner(model, given.get("device", "auto"), given.get("threshold"), bool(given.get("scores", False)),
                          labels, given.get("vocab"), bool(given.get("per_modality", False)),
                          given.get("min_duration"), given.get("features"), given.get("checkpoint"),
                          given.get("extractor"), given.get("precision"), zs_method=given.get("zs_method"))
    return runner(video)


__all__ = ["__version__", "AvlocateError", "Event", "Result", "locate", "LOCATE_OPTIONS"]
