"""A robot's deploy configuration: topics, output adapters for its drivers, limits.

Shared by every node (the deploy nodes, the simulated robot, the pose tracker): topic names
and the drivers' message types are one contract.

One YAML file per robot setup (``configs/deploy/``), checked against these dataclasses
(unknown keys and wrong types fail with the file named). Output adapters say how joint
commands reach the drivers:

- ``forward_position``: ``std_msgs/Float64MultiArray`` for a ros2_control forward
  position controller (values in the order of ``joints``);
- ``joint_trajectory``: ``trajectory_msgs/JointTrajectory`` with one point one command
  period ahead;
- ``joint_state``: ``sensor_msgs/JointState`` with names and positions.

``joints`` lists registry joint names in the driver's order; ``driver_names`` renames
them for the driver (same order). Every registry joint must go to exactly one output.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from h2s2r.core.config import apply_overrides, load_yaml
from h2s2r.core.errors import H2S2RError
from h2s2r.core.robots import get_robot

OUTPUT_TYPES = ("forward_position", "joint_trajectory", "joint_state")
_TOPIC = re.compile(r"^/?[A-Za-z][A-Za-z0-9_/]*$")  # ROS 2 names, without ~ and {} forms
# Sane ranges of the command limits (a value outside is a unit slip, not a robot setup).
RATE_HZ = (1.0, 10000.0)  # robot drivers take 10 Hz to a few kHz
WATCHDOG_MAX_S = 2.0  # longer, and stale inputs would steer the robot for seconds
TABLE_MARGIN_MAX_M = 0.1  # below the table top (negative: stay that far above it)
WORKSPACE_MAX_M = 5.0  # a box corner farther from the base than any arm reaches
# The shipped robot configs (a source checkout; absent from a plain install).
DEPLOY_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "deploy"


def _check(key: str, v: float, ok: bool, rng: str, hint: str) -> None:
    """Raise ``ValueError`` for a command limit ``key`` outside its range ``rng``."""
    if not math.isfinite(v):
        raise ValueError(f"{key}: must be a number ({rng}), got {v!r}")
    if not ok:
        raise ValueError(f"{key}: {v:g} is out of range — must be {rng} ({hint})")


@dataclass(frozen=True)
class CommandConfig:
    """Limits and rates of the command node (YAML ``command:`` of a robot config)."""

    rate_hz: float = 200.0  # command rate of the robot's drivers
    watchdog_s: float = 0.2  # inputs older than this hold the command
    velocity_scale: float = 1.0  # × the registry's joint velocity limits
    acceleration_scale: float = 1.0  # × the registry's joint acceleration limits
    table_margin_m: float = 0.01  # how far below the table top a link may reach
    # The workspace box (base frame, m) every checked point must stay inside.
    workspace_min: tuple[float, float, float] = (-0.4, -0.9, -0.05)
    workspace_max: tuple[float, float, float] = (1.3, 0.9, 1.5)

    def __post_init__(self) -> None:
        # Each message names the key, the value, the range and what the key means (with
        # the value a likely unit slip meant); a YAML file's loader prefixes its path and
        # ``command:``.
        v = self.velocity_scale
        _check(
            "velocity_scale",
            v,
            0 < v <= 1,
            "0 < scale <= 1",
            "0.5 = half the registry's joint speed limits"
            + (f"; percent? divide by 100: {v / 100:g}" if v > 1 else ""),
        )
        v = self.acceleration_scale
        _check(
            "acceleration_scale",
            v,
            0 < v <= 1,
            "0 < scale <= 1",
            "0.5 = half the registry's joint acceleration limits"
            + (f"; percent? divide by 100: {v / 100:g}" if v > 1 else ""),
        )
        v = self.rate_hz
        _check(
            "rate_hz",
            v,
            RATE_HZ[0] <= v <= RATE_HZ[1],
            f"{RATE_HZ[0]:g} <= rate_hz <= {RATE_HZ[1]:g}",
            "the drivers' command rate in Hz, e.g. 200"
            + (f"; a period in s? give 1/period: {1 / v:g}" if 0 < v < 1 else ""),
        )
        v = self.watchdog_s
        _check(
            "watchdog_s",
            v,
            0 < v <= WATCHDOG_MAX_S,
            f"0 < watchdog_s <= {WATCHDOG_MAX_S:g}",
            "seconds, e.g. 0.2"
            + (f"; milliseconds? divide by 1000: {v / 1000:g}" if v > WATCHDOG_MAX_S else ""),
        )
        v = self.table_margin_m
        _check(
            "table_margin_m",
            v,
            abs(v) <= TABLE_MARGIN_MAX_M,
            f"-{TABLE_MARGIN_MAX_M:g} <= table_margin_m <= {TABLE_MARGIN_MAX_M:g}",
            "metres below the table top, e.g. 0.01"
            + (f"; centimetres? divide by 100: {v / 100:g}" if abs(v) / 100 <= 0.1 else ""),
        )
        for key in ("workspace_min", "workspace_max"):
            v = np.asarray(getattr(self, key), dtype=float)
            if v.shape != (3,) or not np.all(np.isfinite(v)):
                raise ValueError(f"{key}: {getattr(self, key)!r} must be 3 numbers [x, y, z] (m)")
            if np.any(np.abs(v) > WORKSPACE_MAX_M):
                raise ValueError(
                    f"{key}: {list(getattr(self, key))} is outside ±{WORKSPACE_MAX_M:g} m per "
                    "axis (metres in the robot's base frame; millimetres? divide by 1000)"
                )
        if np.any(np.asarray(self.workspace_min) >= np.asarray(self.workspace_max)):
            raise ValueError(
                f"workspace_min {list(self.workspace_min)} must be below workspace_max "
                f"{list(self.workspace_max)} on every axis (x, y, z in m)"
            )


@dataclass(frozen=True)
class Topics:
    """Topic names (remappable here or with ROS remapping rules)."""

    joint_states: str = "/joint_states"  # sensor_msgs/JointState from the robot
    object_pose: str = "/h2s2r/object_pose"  # geometry_msgs/PoseStamped, base frame
    targets: str = "/h2s2r/joint_targets"  # sensor_msgs/JointState, policy → command
    estop: str = "/h2s2r/estop"  # std_msgs/Bool: true stops commanding at once
    events: str = "/h2s2r/events"  # std_msgs/String: watchdog and safety events
    command_active: str = "/h2s2r/command_active"  # std_msgs/Bool, latched: commanding?
    color: str = "/camera/color/image_raw"  # sensor_msgs/Image (the camera path)
    depth: str = "/camera/aligned_depth_to_color/image_raw"  # sensor_msgs/Image, uint16 mm
    camera_info: str = "/camera/color/camera_info"  # sensor_msgs/CameraInfo
    object_pose_valid: str = "/h2s2r/object_pose_valid"  # std_msgs/Bool from the pose node
    # A pose topic (geometry_msgs/PoseStamped, camera or base frame) that the pose node
    # passes through its checks instead of tracking itself (e.g. a FoundationPose node).
    external_pose: str = ""


@dataclass(frozen=True)
class Output:
    """One driver input."""

    type: str = "joint_state"  # forward_position | joint_trajectory | joint_state
    topic: str = "/h2s2r/joint_command"
    joints: tuple[str, ...] = ()  # registry names in the driver's order (empty: all)
    driver_names: tuple[str, ...] = ()  # the driver's names for them (empty: the same)


@dataclass(frozen=True)
class RobotIO:
    """A robot setup for deployment."""

    robot: str = "iiwa_allegro"
    topics: Topics = field(default_factory=Topics)
    outputs: tuple[Output, ...] = (Output(),)
    command: CommandConfig = field(default_factory=CommandConfig)

    def check_topics(self, where: str) -> None:
        """Each topic carries one kind of message: two roles on one name (the object pose
        on the joint states' topic, a command output on a state topic) would cross
        messages the nodes cannot read. Also refuses names ROS would not take."""
        roles = [(f"topics.{f.name}", getattr(self.topics, f.name)) for f in fields(Topics)]
        roles += [(f"outputs[{i}].topic", o.topic) for i, o in enumerate(self.outputs)]
        first: dict[str, str] = {}
        for role, name in roles:
            if not name:
                continue  # unused (external_pose)
            if not _TOPIC.match(name) or "//" in name or name.endswith("/"):
                raise H2S2RError(
                    f"{where}: {role} {name!r} is not a ROS topic name (letters, digits, _ "
                    "and / between them, e.g. /h2s2r/object_pose)"
                )
            if name in first:
                raise H2S2RError(
                    f"{where}: {first[name]} and {role} are both {name!r}; each topic carries "
                    "one kind of message — give each its own name"
                )
            first[name] = role

    def resolved_outputs(self) -> tuple[Output, ...]:
        """Outputs with their joints filled in and checked against the registry."""
        robot = get_robot(self.robot)
        names = list(robot.joint_names)
        outs = [
            Output(o.type, o.topic, tuple(o.joints or names), tuple(o.driver_names))
            for o in self.outputs
        ]
        seen = [j for o in outs for j in o.joints]
        for o in outs:
            if o.type not in OUTPUT_TYPES:
                raise H2S2RError(f"output {o.topic}: type {o.type!r}; one of {OUTPUT_TYPES}")
            if o.driver_names and len(o.driver_names) != len(o.joints):
                raise H2S2RError(f"output {o.topic}: driver_names must match joints one to one")
        unknown = sorted(set(seen) - set(names))
        twice = sorted({j for j in seen if seen.count(j) > 1})
        missing = [n for n in names if n not in seen]
        if unknown or twice or missing:
            raise H2S2RError(
                f"outputs: every {robot.name} joint must go to exactly one output "
                f"(unknown {unknown}, twice {twice}, missing {missing})"
            )
        return tuple(outs)


def load_robot_io(path: str | Path | None, robot: str) -> RobotIO:
    """The setup in YAML file ``path`` (None: the defaults for ``robot``: every joint as
    ``sensor_msgs/JointState`` on ``/h2s2r/joint_command``, as the simulated robot takes
    it)."""
    if path is None or str(path) == "":
        io = RobotIO(robot=robot)
    else:
        import yaml

        path = Path(path)
        if not path.is_file():
            raise H2S2RError(f"{path}: robot config does not exist — see configs/deploy/")
        try:
            data = load_yaml(path.read_text(), str(path)) or {}  # YAML 1.2 numbers (1.0e6)
        except yaml.YAMLError as e:
            raise H2S2RError(f"{path}: not valid YAML ({e})") from e
        outputs = data.pop("outputs", None)
        io = apply_overrides(RobotIO(robot=robot), data, str(path))
        if outputs is not None:
            if not isinstance(outputs, list) or not outputs:
                raise H2S2RError(f"{path}: outputs must be a non-empty list")
            io = RobotIO(
                io.robot,
                io.topics,
                tuple(
                    apply_overrides(Output(), o, f"{path}: outputs[{i}]")
                    for i, o in enumerate(outputs)
                ),
                io.command,
            )
        if io.robot != robot:
            raise H2S2RError(_other_robot(path, io.robot, robot))
    io.check_topics(str(path) if path else "the default robot config")
    io.resolved_outputs()
    return io


def shipped_configs(robot: str) -> list[Path]:
    """The shipped robot configs (``configs/deploy/*.yaml``) whose ``robot:`` is
    ``robot``."""
    import yaml

    found = []
    for f in sorted(DEPLOY_CONFIGS.glob("*.yaml")) if DEPLOY_CONFIGS.is_dir() else []:
        try:
            data = load_yaml(f.read_text(), str(f)) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("robot") == robot:
            found.append(f)
    return found


def _other_robot(path: Path, theirs: str, ours: str) -> str:
    """The error for a robot config written for another robot than the policy's, with the
    two ways on: a config for the policy's robot, or a policy for the config's."""
    have = shipped_configs(ours)
    if have:
        rel = [str(f.relative_to(DEPLOY_CONFIGS.parents[1])) for f in have]
        use = f"use a config for {ours} ({' or '.join(rel)}, with your drivers' topics)"
    else:
        use = f"use a config for {ours} (robot: {ours}, its joints in outputs:)"
    return (
        f"{path}: is for {theirs!r}, but the policy drives {ours!r} — {use}, or retarget "
        f"and train for {theirs} (h2s2r retarget DIR --robot {theirs}, then h2s2r train DIR)"
    )


__all__ = [
    "DEPLOY_CONFIGS",
    "OUTPUT_TYPES",
    "CommandConfig",
    "Output",
    "RobotIO",
    "Topics",
    "load_robot_io",
    "shipped_configs",
]
