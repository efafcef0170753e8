"""Config dataclasses from mappings: names, types and nesting checked, errors one line."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from h2s2r.core.config import apply_overrides
from h2s2r.core.errors import H2S2RError


@dataclass(frozen=True)
class Inner:
    weight: float = 1.0
    name: str = "a"


@dataclass(frozen=True)
class Outer:
    steps: int = 16
    rate: float = 0.5
    flag: bool = False
    dims: tuple[int, ...] = (64, 32)
    span: tuple[float, float] = (0.5, 1.0)
    inner: Inner = field(default_factory=Inner)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.steps <= 0:
            raise ValueError(f"steps must be > 0, got {self.steps}")


def test_overrides_are_converted_and_nested():
    cfg = apply_overrides(
        Outer(),
        {
            "rate": 2,
            "dims": [8, 4, 2],
            "span": [0, 1],
            "inner": {"weight": -0.5},
            "extra": {"x": 1},
        },
        "c.yaml",
    )
    assert cfg.rate == 2.0 and isinstance(cfg.rate, float)
    assert cfg.dims == (8, 4, 2) and cfg.span == (0.0, 1.0)
    assert cfg.inner == Inner(weight=-0.5) and cfg.extra == {"x": 1}
    assert apply_overrides(cfg, {}, "x") == cfg


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stpes": 3}, "c.yaml: unknown option(s) ['stpes']; valid: steps, rate"),
        ({"steps": 2.5}, "c.yaml: steps: must be an integer, got 2.5"),
        ({"steps": True}, "c.yaml: steps: must be an integer"),
        ({"rate": "0.5"}, "c.yaml: rate: must be a number, got '0.5'"),
        ({"flag": "yes"}, "c.yaml: flag: must be true or false"),
        ({"dims": 64}, "c.yaml: dims: must be a list"),
        ({"dims": [64, "x"]}, "c.yaml: dims[1]: must be an integer"),
        ({"inner": {"wieght": 1}}, "c.yaml: inner: unknown option(s) ['wieght']"),
        ({"inner": 3}, "c.yaml: inner: must be a mapping"),
        ({"steps": 0}, "c.yaml: steps must be > 0, got 0"),
    ],
)
def test_bad_values_name_the_file_and_the_option(overrides, message):
    with pytest.raises(H2S2RError) as e:
        apply_overrides(Outer(), overrides, "c.yaml")
    assert message in str(e.value)
