"""Frozen config dataclasses from plain mappings (YAML files, saved ``config.json``).

One function, :func:`apply_overrides`, turns ``{option: value}`` into a new config: unknown
names fail with the valid ones listed, values are checked against the type of the
option's default (a YAML ``"0.5"`` is not a float; an integer is a fine float, a whole
number such as ``1.0e6`` a fine integer), lists
become tuples, and nested configs take nested mappings. A config's own ``__post_init__``
checks then run as usual, their messages prefixed with where the value came from.

Options with a range or a fixed set of values declare it on the field (:func:`option`) and
check it in ``__post_init__`` (:func:`check_options`), so a flag, a YAML file and a saved
``config.json`` go through the same test and fail with one line naming the option.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from h2s2r.core.errors import H2S2RError

C = TypeVar("C")


def option(
    default: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    above: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A dataclass field with a checked range: ``lo <= value <= hi``, ``value > above``,
    or ``value in choices``. Checked by :func:`check_options` (call it in
    ``__post_init__``)."""
    return dataclasses.field(
        default=default,
        metadata={"check": {"lo": lo, "hi": hi, "above": above, "choices": choices}},
    )


def check_options(cfg: Any) -> None:
    """Raise ``ValueError`` naming the first option of ``cfg`` outside its declared range
    (``--flag-name (field_name) must be …, got …``). A tuple option (``hidden_dims``) is
    a non-empty list whose every element must be in the range."""
    for f in dataclasses.fields(cfg):
        c = f.metadata.get("check")
        if not c:
            continue
        v = getattr(cfg, f.name)
        name = f"--{f.name.replace('_', '-')} ({f.name})"
        if c["choices"] is not None:
            if v not in c["choices"]:
                raise ValueError(f"{name} must be one of {', '.join(c['choices'])}; got {v!r}")
            continue
        if not isinstance(f.default, tuple):
            _check_number(name, v, c)
        elif not isinstance(v, (tuple, list)) or not v:
            raise ValueError(f"{name} must be a non-empty list of numbers, got {v!r}")
        else:
            for k, x in enumerate(v):
                _check_number(f"{f.name}[{k}] of {list(v)}", x, c)
                if isinstance(f.default[0], int) and not isinstance(x, int):
                    raise ValueError(f"{f.name}[{k}] of {list(v)} must be a whole number, got {x}")


def _check_number(name: str, v: Any, c: Mapping[str, Any]) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        raise ValueError(f"{name} must be a number, got {v!r}")
    if c["lo"] is not None and v < c["lo"]:
        raise ValueError(f"{name} must be at least {c['lo']}, got {v}")
    if c["hi"] is not None and v > c["hi"]:
        raise ValueError(f"{name} must be at most {c['hi']}, got {v}")
    if c["above"] is not None and not v > c["above"]:
        raise ValueError(f"{name} must be greater than {c['above']}, got {v}")


def option_range(f: dataclasses.Field) -> str:
    """The declared range of a field, for help texts (``""`` if none)."""
    c = f.metadata.get("check") or {}
    parts = []
    if c.get("lo") is not None:
        parts.append(f">= {c['lo']}")
    if c.get("above") is not None:
        parts.append(f"> {c['above']}")
    if c.get("hi") is not None:
        parts.append(f"<= {c['hi']}")
    return ", ".join(parts)


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


# YAML 1.2's floats: PyYAML resolves YAML 1.1's, which need a decimal point, so it reads
# ``1e-3`` and ``5E4`` as strings; to whoever wrote them they are numbers.
_YAML12_FLOAT = re.compile(
    r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"
)


def load_yaml(text: str, where: str = "YAML") -> Any:
    """``yaml.safe_load`` that reads numbers as YAML 1.2 does (``1e-3`` is a float; a
    quoted ``"1e-3"`` stays a string) and refuses a mapping with a key written twice
    (PyYAML keeps the last one silently), naming ``where`` (the file), the key and its
    lines. Other YAML errors are raised as ``yaml.YAMLError``."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                _refuse_duplicate_keys(self, node, where)
            return super().construct_mapping(node, deep=deep)

    Loader.yaml_implicit_resolvers = {
        k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+.0123456789"))
    return yaml.load(text, Loader=Loader)


def _refuse_duplicate_keys(loader: Any, node: Any, where: str) -> None:
    """Raise naming the first key of mapping ``node`` that is written twice. Merge keys
    (``<<: *anchor``) are not keys: a key written next to one overrides the merged one,
    as YAML means."""
    first_line: dict[tuple[type, Any], int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        try:
            key = loader.construct_object(key_node, deep=True)
            seen = (type(key), key)  # 1 and true are different keys
            hash(seen)
        except Exception:  # an unhashable key: construct_mapping reports it
            continue
        line = key_node.start_mark.line + 1
        if seen in first_line:
            raise H2S2RError(
                f"{where}: key {key!r} is written twice (lines {first_line[seen]} and "
                f"{line}); YAML would silently keep only the last — delete one of them"
            )
        first_line[seen] = line


def _merged(base: Mapping, update: Mapping) -> dict:
    """``base`` with ``update``'s keys, nested mappings merged key by key."""
    out = dict(base)
    for k, v in update.items():
        b = out.get(k)
        out[k] = _merged(b, v) if isinstance(b, Mapping) and isinstance(v, Mapping) else v
    return out


def _convert(default: Any, value: Any, where: str) -> Any:
    """``value`` as the type of ``default``, or an error naming ``where``."""
    if dataclasses.is_dataclass(default) and not isinstance(default, type):
        return apply_overrides(default, value, where)
    if isinstance(default, Mapping):
        if not isinstance(value, Mapping):
            raise H2S2RError(f"{where}: must be a mapping, got {value!r}")
        return _merged(default, value)  # a second --config adds to the first's
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise H2S2RError(f"{where}: must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        whole = isinstance(value, float) and math.isfinite(value) and value == int(value)
        if isinstance(value, bool) or not (isinstance(value, int) or whole):
            raise H2S2RError(f"{where}: must be an integer, got {value!r}{_quoted(value)}")
        return int(value)  # 1.0e6 (a whole number written as a float) is fine
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise H2S2RError(f"{where}: must be a number, got {value!r}{_quoted(value)}")
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


def _quoted(value: Any) -> str:
    """What to do about a number given as text (a quoted ``"0.5"`` in YAML)."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (text, not a number: write it without quotes, e.g. 1.0e-3)"
    return ""


__all__ = ["apply_overrides", "check_options", "load_yaml", "option", "option_range"]
