"""Keep Ray's own chatter off a successful batch's stderr.

Ray Data logs INFO lines per dataset, WARNING lines about resources (including "the job may hang
forever" while actors are still being placed), progress bars and a FutureWarning at ``ray.init``.
On a run that succeeds they bury avlocate's one-line summary; avlocate reports failed videos
itself. Ray still writes everything to its session logs (``/tmp/ray/session_*/logs``), and errors
(level ERROR and above) still reach stderr.
"""
from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any

_LOGGERS = ("ray", "ray.data", "ray.data._internal", "ray.data._internal.execution")


@contextlib.contextmanager
def quiet_init() -> Iterator[None]:
    """Around ``ray.init``: its FutureWarning about accelerator variables is advice for Ray users."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"ray(\.|$)")
        yield


def quiet_ray(ray: Any) -> None:
    """After ``ray.init`` (driver side): errors only, no progress bars."""
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        context = ray.data.DataContext.get_current()
    except AttributeError:  # pragma: no cover - a Ray without Ray Data cannot run this engine anyway
        return
    for flag in ("enable_progress_bars", "enable_operator_progress_bars"):
        if hasattr(context, flag):
            setattr(context, flag, False)
