"""Command-line options from config dataclasses, YAML config files, and a progress bar.

Each verb's options are the scalar fields of its stage's config dataclass (``--field-name``,
help text from the field's trailing comment); ``--config FILE.yaml`` sets any field,
nested task options included. Precedence: flag > ``--config`` (several: the later over
the earlier) > the dataclass default.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from pathlib import Path
from typing import Any

from h2s2r.core.config import apply_overrides, load_yaml, option_range
from h2s2r.core.errors import H2S2RError


def field_help(cls: type) -> dict[str, str]:
    """Help text of each dataclass field: the ``# comment`` ending its definition, or the
    comment line just above it; inherited fields too."""
    out: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if dataclasses.is_dataclass(base) and "__dataclass_fields__" in vars(base):
            out.update(_own_field_help(base))
    return out


def _own_field_help(cls: type) -> dict[str, str]:
    import ast
    import io
    import textwrap
    import tokenize

    try:
        src = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments = {
        tok.start[0]: tok.string.lstrip("#").strip()
        for tok in tokenize.generate_tokens(io.StringIO(src).readline)
        if tok.type == tokenize.COMMENT
    }
    lines = src.splitlines()
    out = {}
    for node in ast.parse(src).body[0].body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        if node.end_lineno in comments:  # a trailing comment
            out[node.target.id] = comments[node.end_lineno]
        elif node.lineno - 1 in comments and lines[node.lineno - 2].lstrip().startswith("#"):
            out[node.target.id] = comments[node.lineno - 1]  # a comment line just above
    return out


def add_dataclass_args(
    parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()
) -> None:
    """``--field-name`` options for the scalar fields of a config dataclass, plus ``--config``."""
    helps = field_help(cls)
    parser.add_argument(
        "--config",
        type=Path,
        action="append",
        default=None,
        help="YAML file with option values (see configs/); flags override it. Given "
        "several times, the files apply in order, a later one's values over an earlier's",
    )
    for f in dataclasses.fields(cls):
        if f.name in skip or not isinstance(f.default, (bool, int, float, str)):
            continue
        flag = "--" + f.name.replace("_", "-")
        rng = option_range(f)
        h = f"{helps.get(f.name, '')} (default: {f.default}{'; ' + rng if rng else ''})"
        h = h.replace("%", "%%")  # argparse formats help with %
        if isinstance(f.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=h)
        else:
            choices = (f.metadata.get("check") or {}).get("choices")
            parser.add_argument(flag, type=type(f.default), default=None, choices=choices, help=h)


def config_from_args(cls: type, args: argparse.Namespace) -> Any:
    """Build the config dataclass from its defaults, ``--config`` and the flags given."""
    fields = [f for f in dataclasses.fields(cls) if f.init]
    given = {
        f.name: getattr(args, f.name) for f in fields if getattr(args, f.name, None) is not None
    }
    required = [
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    try:
        cfg = cls(**{k: given.pop(k) for k in required if k in given})
        for path in getattr(args, "config", None) or []:
            cfg = apply_overrides(cfg, load_config_file(path), str(path))
        return dataclasses.replace(cfg, **given)
    except (TypeError, ValueError) as e:
        raise H2S2RError(f"invalid option: {e}") from e


def load_config_file(path: Path) -> dict[str, Any]:
    """The mapping of option values in a YAML file."""
    import yaml

    if not path.is_file():
        raise H2S2RError(f"{path}: config file does not exist — see configs/ for examples")
    try:
        data = load_yaml(path.read_text(), str(path)) or {}
    except yaml.YAMLError as e:
        raise H2S2RError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise H2S2RError(f"{path}: must hold a mapping of option: value")
    return data


def progress_bar(description: str):
    """A rich progress bar as a context manager yielding ``update(done, total)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    class _Bar:
        def __enter__(self):
            self.p = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self.p.__enter__()
            self.task = self.p.add_task(description, total=None)
            return self.update

        def update(self, done: int, total: int) -> None:
            self.p.update(self.task, completed=done, total=total)

        def __exit__(self, *exc):
            return self.p.__exit__(*exc)

    return _Bar()


__all__ = ["add_dataclass_args", "config_from_args", "load_config_file", "progress_bar"]
