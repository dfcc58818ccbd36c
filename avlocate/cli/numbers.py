"""Every number option of every command is finite and in range, checked where the command line is
parsed (one place, so a new option cannot forget it).

Click's FLOAT type accepts "nan", "inf" and 1e300; ``--stall-timeout nan`` then meant "never",
``--timeout -1`` was taken as given. Here each float option gets a check (a parameter callback) that
refuses non-finite values, magnitudes beyond :data:`MAX_MAGNITUDE`, and values below the option's
lower bound: a usage error, one line, exit 2.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import typer

#: no option means anything beyond this (seconds: ~31 years; rates and thresholds are far below).
MAX_MAGNITUDE = 1e9

#: option -> (lower bound, whether the bound itself is allowed). Unlisted float options: finite only.
LOWER_BOUNDS: dict[str, tuple[float, bool]] = {
    "--stall-timeout": (0.0, False),
    "--timeout": (0.0, False),
    "--lr": (0.0, False),
    "--min-duration": (0.0, True),
    "--threshold": (0.0, True),
}


def number_problem(option: str, number: float) -> str | None:
    """None when ``number`` is acceptable for ``option``, else why not (a phrase)."""
    if not math.isfinite(number):
        return f"{number} is not a finite number"
    if abs(number) > MAX_MAGNITUDE:
        return f"{number:g} is out of range (at most {MAX_MAGNITUDE:g} in size)"
    low, inclusive = LOWER_BOUNDS.get(option, (-math.inf, True))
    if number < low or (number == low and not inclusive):
        return f"{number:g} must be {'at least' if inclusive else 'more than'} {low:g}"
    return None


def _checked(option: str, callback: Callable[..., Any] | None) -> Callable[..., Any]:
    def check(ctx: Any, param: Any, value: Any) -> Any:
        for number in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(number, float):
                problem = number_problem(option, number)
                if problem is not None:
                    raise typer.BadParameter(problem, ctx=ctx, param=param)
        return callback(ctx, param, value) if callback is not None else value

    check.finite_checked = True  # type: ignore[attr-defined]
    return check


def finite_float_options(command: Any) -> Any:
    """``command`` (a Typer-built click command) and its subcommands with every float option checked."""
    for param in getattr(command, "params", []):
        descriptor = getattr(param, "type_descriptor", None)
        if getattr(descriptor, "annotation", None) is float and not getattr(param.callback, "finite_checked", False):
            longest = max(param.opts, key=len) if param.opts else param.name or ""
            param.callback = _checked(longest, param.callback)
    for sub in getattr(command, "commands", {}).values():
        finite_float_options(sub)
    return command
