"""Robot registry: a plain dict of :class:`RobotSpec` that fails loudly on unknown names."""

from h2s2r.core.errors import RegistryError
from h2s2r.core.robots.iiwa_allegro import IIWA_ALLEGRO
from h2s2r.core.robots.iiwa_leap import IIWA_LEAP
from h2s2r.core.robots.spec import (
    PhysicsOptions,
    RobotModelInfo,
    RobotSpec,
    build_robot_model,
    build_robot_spec,
)

ROBOTS: dict[str, RobotSpec] = {r.name: r for r in (IIWA_ALLEGRO, IIWA_LEAP)}
DEFAULT_ROBOT = IIWA_ALLEGRO.name


def get_robot(name: str) -> RobotSpec:
    """The registry entry ``name``; the error lists the valid names."""
    try:
        return ROBOTS[name]
    except KeyError:
        raise RegistryError("robot", name, list(ROBOTS)) from None


__all__ = [
    "DEFAULT_ROBOT",
    "ROBOTS",
    "PhysicsOptions",
    "RobotModelInfo",
    "RobotSpec",
    "build_robot_model",
    "build_robot_spec",
    "get_robot",
]
