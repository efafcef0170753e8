"""Range checks for config dataclasses whose options come from YAML (``task_config``).

Each check raises ``ValueError("<key>: <value> …; must be <range> [unit] (<hint>)")``:
:func:`h2s2r.core.config.apply_overrides` prefixes it with where the value came from, so a
nested option reads ``my.yaml: task_config: controller: max_step_rad: 5.7 …`` in one line.
"""

from __future__ import annotations

import math
from typing import Any


def _fmt(v: Any) -> str:
    """A bound: short (π named)."""
    if isinstance(v, float) and math.isclose(v, math.pi):
        return "π"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _val(v: Any) -> str:
    """A value as the user wrote it (``1.0`` stays ``1.0``)."""
    return repr(v) if isinstance(v, str) else str(v)


def _bounds(lo, hi, lo_open: bool, hi_open: bool, unit: str) -> str:
    u = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}{u}"
    if lo is not None:
        return f"{'>' if lo_open else '≥'} {_fmt(lo)}{u}"
    if hi is not None:
        return f"{'<' if hi_open else '≤'} {_fmt(hi)}{u}"
    return f"a finite number{u}"


def check_number(
    key: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    unit: str = "",
    hint: str = "",
    integer: bool = False,
) -> None:
    """Raise ``ValueError`` naming ``key`` unless ``value`` is a finite number (an integer
    with ``integer``) within ``lo``/``hi`` (open ends with ``lo_open``/``hi_open``)."""
    kind = "an integer" if integer else "a number"
    ok_type = not isinstance(value, bool) and (
        isinstance(value, int) if integer else isinstance(value, (int, float))
    )
    if not ok_type or not math.isfinite(value):
        raise ValueError(
            f"{key}: {value!r} is not {'a finite number' if ok_type else kind}; must be "
            f"{_bounds(lo, hi, lo_open, hi_open, unit)}" + (f" ({hint})" if hint else "")
        )
    bad = (
        (lo is not None and (value <= lo if lo_open else value < lo))
        or (hi is not None and (value >= hi if hi_open else value > hi))
    )  # fmt: skip
    if bad:
        raise ValueError(
            f"{key}: {_val(value)} is out of range; must be "
            f"{_bounds(lo, hi, lo_open, hi_open, unit)}" + (f" ({hint})" if hint else "")
        )


def check_interval(
    key: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    unit: str = "",
    hint: str = "",
    integer: bool = False,
) -> None:
    """Raise ``ValueError`` naming ``key`` unless ``value`` is a ``[low, high]`` pair with
    ``low ≤ high``, both within ``lo``/``hi`` as in :func:`check_number`."""
    rng = _bounds(lo, hi, lo_open, hi_open, unit)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(
            f"{key}: {_fmt_pair(value)} is not a [low, high] pair; must be two numbers "
            f"low ≤ high, each {rng}" + (f" ({hint})" if hint else "")
        )
    for i, v in enumerate(value):
        try:
            check_number(
                f"{key}[{i}]", v, lo, hi, lo_open=lo_open, hi_open=hi_open, unit=unit,
                hint=hint, integer=integer,
            )  # fmt: skip
        except ValueError as e:
            raise ValueError(f"{key}: {_fmt_pair(value)}: {e}") from None
    if value[0] > value[1]:
        raise ValueError(
            f"{key}: {_fmt_pair(value)} is reversed; must be [low, high] with low ≤ high, "
            f"each {rng} (write [{_val(value[1])}, {_val(value[0])}])"
        )


def _fmt_pair(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_val(v) for v in value) + "]"
    return repr(value)


__all__ = ["check_interval", "check_number"]
