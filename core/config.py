"""Frozen config dataclasses from plain mappings (YAML files, saved ``config.json``).

One function, :func:`apply_overrides`, turns ``{option: value}`` into a new config: unknown
names fail with the valid ones listed, values are checked against the type of the
option's default (a YAML ``"0.5"`` is not a float; an integer is a fine float), lists
become tuples, and nested configs take nested mappings. A config's own ``__post_init__``
checks then run as usual, their messages prefixed with where the value came from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from h2s2r.core.errors import H2S2RError

C = TypeVar("C")


def apply_overrides(base: C, overrides: Mapping[str, Any], where: str) -> C:
    """``base`` (a dataclass instance) with the options in ``overrides`` replaced.

    ``where`` names the source in errors (a file, or ``file: task_config``)."""
    if not isinstance(overrides, Mapping):
        raise H2S2RError(f"{where}: must be a mapping of option: value, got {overrides!r}")
    fields = {f.name: f for f in dataclasses.fields(base) if f.init}
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise H2S2RError(f"{where}: unknown option(s) {unknown}; valid: {', '.join(fields)}")
    kw = {}
    for name, value in overrides.items():
        kw[name] = _convert(getattr(base, name), value, f"{where}: {name}")
    try:
        return dataclasses.replace(base, **kw)
    except (TypeError, ValueError) as e:
        raise H2S2RError(f"{where}: {e}") from e


def _convert(default: Any, value: Any, where: str) -> Any:
    """``value`` as the type of ``default``, or an error naming ``where``."""
    if dataclasses.is_dataclass(default) and not isinstance(default, type):
        return apply_overrides(default, value, where)
    if isinstance(default, Mapping):
        if not isinstance(value, Mapping):
            raise H2S2RError(f"{where}: must be a mapping, got {value!r}")
        return dict(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise H2S2RError(f"{where}: must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise H2S2RError(f"{where}: must be an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise H2S2RError(f"{where}: must be a number, got {value!r}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise H2S2RError(f"{where}: must be a string, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)):
            raise H2S2RError(f"{where}: must be a list, got {value!r}")
        if default and not all(isinstance(d, type(default[0])) for d in default):
            return tuple(value)
        if default:
            return tuple(_convert(default[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        return tuple(value)
    return value  # None or another type: taken as given, the config's own checks decide


__all__ = ["apply_overrides"]
