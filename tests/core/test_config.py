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


def test_a_yaml_key_written_twice_is_refused_naming_the_file_key_and_lines(tmp_path):
    """Probe round 8 (train_config_duplicate_key): ``seed: 5 … seed: 6`` trained with seed
    6 without a word. Every YAML h2s2r reads goes through load_yaml, which refuses it."""
    from h2s2r.cli.options import load_config_file
    from h2s2r.core.config import load_yaml

    cfg = tmp_path / "my_train.yaml"
    cfg.write_text("seed: 5\nrandomization: medium\nseed: 6\n")
    with pytest.raises(H2S2RError) as e:
        load_config_file(cfg)
    msg = str(e.value)
    assert msg.startswith(f"{cfg}: key 'seed' is written twice (lines 1 and 3)")
    assert "delete one" in msg and "\n" not in msg
    nested = "task_config:\n  controller:\n    kp: 1\n    kd: 2\n    kp: 3\n"
    with pytest.raises(H2S2RError, match=r"^x\.yaml: key 'kp' is written twice \(lines 3 and 5\)"):
        load_yaml(nested, "x.yaml")
    # Not duplicates: the same key in two mappings, and a key overriding a merged one.
    ok = "a: {k: 1}\nb: {k: 2}\nbase: &b {p: 1, q: 2}\nd:\n  <<: *b\n  p: 5\nx: 1e-3\n"
    assert load_yaml(ok) == {
        "a": {"k": 1},
        "b": {"k": 2},
        "base": {"p": 1, "q": 2},
        "d": {"p": 5, "q": 2},
        "x": 0.001,
    }


def test_a_pose_file_with_a_key_written_twice_is_refused(tmp_path):
    from h2s2r.calibration.poses import read_pose_file

    f = tmp_path / "pose.yaml"
    f.write_text("translation: {x: 0.1, y: 0.2, z: 0.3, x: 0.4}\nrotation: [0, 0, 0, 1]\n")
    with pytest.raises(H2S2RError, match=r"pose\.yaml: key 'x' is written twice \(lines 1 and 1\)"):
        read_pose_file(f)
