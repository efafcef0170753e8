"""The deploy graph: which nodes run, with which parameters — one table for both starters.

``launch/deploy.launch.py`` (machines with ROS 2 and its ``launch`` package) and
``h2s2r deploy`` (the same nodes as processes, where ``launch`` is missing) both build
their nodes from :func:`deploy_graph`, so they cannot drift apart.

Each node is an executable of this package (``[project.scripts]``) started with
``--ros-args``; each lives in the stage whose core it wraps: the policy and command
nodes here, the simulated robot in ``sim``, the object pose tracker in ``perception``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from h2s2r.core.errors import H2S2RError


@dataclass(frozen=True)
class NodeSpec:
    name: str  # ROS node name
    executable: str  # console script installed by h2s2r
    parameters: dict[str, str | int | float | bool] = field(default_factory=dict)
    lifecycle: bool = False  # a lifecycle node: configure and activate it to command


@dataclass(frozen=True)
class DeployOptions:
    """Options of ``h2s2r deploy`` and the arguments of ``deploy.launch.py``."""

    workspace: str  # the demo workspace (policy/, task/, object/, calibration/)
    use_sim: bool = False  # a simulated robot (MuJoCo) behind the same topics
    use_camera: bool = False  # the object pose from colour + depth (the tracker in the loop)
    robot_config: str = ""  # YAML of the robot's topics and drivers (configs/deploy/)
    log_dir: str = ""  # where nodes write their logs (default: WORKSPACE/deploy_log)
    goal_speed: float = 0.0  # × demo speed (0: the middle of training's range)
    sim_seed: int = 0  # the simulated robot's noise and start pose
    sim_start_noise_m: float = 0.0  # the simulated object's start position noise (±, m)
    # The command node configures itself and activates on the robot's first joint state
    # (with the simulated robot; on hardware only when asked: --activate).
    autostart: bool = False

    @property
    def logs(self) -> str:
        return self.log_dir or str(Path(self.workspace) / "deploy_log")


def deploy_graph(o: DeployOptions) -> list[NodeSpec]:
    """The nodes for options ``o``, in start order."""
    common = {"workspace": o.workspace, "robot_config": o.robot_config, "log_dir": o.logs}
    nodes = []
    if o.use_sim:
        nodes.append(
            NodeSpec(
                "sim_robot",
                "h2s2r-sim-robot-node",
                common
                | {
                    "publish_images": o.use_camera,
                    "pose_rate_hz": 15.0 if o.use_camera else 30.0,
                    "seed": o.sim_seed,
                    "start_noise_m": o.sim_start_noise_m,
                },
            )
        )
    if o.use_camera:
        nodes.append(NodeSpec("object_pose", "h2s2r-object-pose-node", dict(common)))
    nodes.append(NodeSpec("policy", "h2s2r-policy-node", common | {"goal_speed": o.goal_speed}))
    nodes.append(
        NodeSpec(
            "command",
            "h2s2r-command-node",
            common | {"autostart": o.autostart or o.use_sim},
            lifecycle=True,
        )
    )
    return nodes


def domain_lock_path(domain: str) -> Path:
    """This machine's lock file for ROS domain ``domain`` (one h2s2r graph per domain)."""
    return Path(tempfile.gettempdir()) / f"h2s2r-ros-domain-{domain}.lock"


def domain_of_environment(environ=os.environ) -> str:
    return environ.get("ROS_DOMAIN_ID", "").strip() or "0"


def _busy(domain: str, fd: int) -> H2S2RError:
    try:
        d = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        holder = f"pid {d['pid']}: {d['what']}"
    except (ValueError, KeyError, TypeError, OSError):
        holder = "pid unknown"
    return H2S2RError(
        f"ROS domain {domain} already runs an h2s2r graph on this machine ({holder}; "
        f"{domain_lock_path(domain)}): a second one would cross with it (each command node "
        "taking both policies' targets) — stop the other one, or run this one on another "
        "domain: --domain-id N (or ROS_DOMAIN_ID=N), 0 to 232"
    )


def hold_domain(domain: str, what: str) -> int:
    """Take this machine's lock for ROS domain ``domain`` for the rest of the process (the
    command node takes it: every graph, from ``h2s2r deploy`` or the launch file, has
    one); the kernel releases it when the process ends. Raises naming the holder."""
    import fcntl

    path = domain_lock_path(domain)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        err = _busy(domain, fd)
        os.close(fd)
        raise err from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "what": what}).encode(), 0)
    return fd


def check_domain_free(domain: str) -> None:
    """Raise naming the holder when an h2s2r graph holds ROS domain ``domain`` on this
    machine (its command node's :func:`hold_domain`); takes nothing."""
    import fcntl

    try:
        fd = os.open(domain_lock_path(domain), os.O_RDONLY)
    except OSError:
        return  # never taken here
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(domain, fd) from None
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def ros_args(node: NodeSpec) -> list[str]:
    """The node's command-line ``--ros-args``: its name and parameters."""
    args = ["--ros-args", "-r", f"__node:={node.name}"]
    for k, v in node.parameters.items():
        if isinstance(v, bool):
            value = str(v).lower()
        elif isinstance(v, str):  # quoted: a path such as "123" stays a string
            value = "'" + v.replace("'", "''") + "'"
        else:
            value = repr(v)
        args += ["-p", f"{k}:={value}"]
    return args


__all__ = [
    "DeployOptions",
    "NodeSpec",
    "check_domain_free",
    "deploy_graph",
    "domain_lock_path",
    "domain_of_environment",
    "hold_domain",
    "ros_args",
]
