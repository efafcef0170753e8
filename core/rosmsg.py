"""ROS 2 messages ↔ numpy, written once for every node (deploy, sim and perception).

Artifacts keep quaternions wxyz; ROS messages carry x, y, z, w. The conversion happens
here and nowhere else. Message types are imported when a function runs, so the core
needs no ROS installation; the nodes do (``pip install 'ros-jazzy-rclpy[fastrtps]'
ros-jazzy-sensor-msgs ros-jazzy-geometry-msgs ros-jazzy-std-msgs
ros-jazzy-trajectory-msgs``).

Quality of service (every h2s2r topic): reliable, keep the last ``QOS_DEPTH`` messages,
volatile; a late joiner gets nothing old (a stale pose must not look fresh), and the
watchdogs judge freshness by arrival time. State topics (``command_active``) are
transient-local instead (:func:`qos_latched`): a node that starts late learns the state.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from h2s2r.core.errors import H2S2RError

QOS_DEPTH = 5


def node_parameters(node, name: str) -> tuple[dict[str, str], Path]:
    """The parameters every h2s2r node takes (``workspace``, ``robot_config``, ``log_dir``)
    and the path of its log, ``<log_dir or workspace/deploy_log>/<name>.npz``."""
    p = {k: node.declare_parameter(k, "").value for k in ("workspace", "robot_config", "log_dir")}
    return p, Path(p["log_dir"] or Path(p["workspace"]) / "deploy_log") / f"{name}.npz"


def run_node(factory: Callable, argv: list[str] | None = None) -> None:
    """Start rclpy, spin the node ``factory()`` makes until Ctrl-C or shutdown, then let it
    write its log (``node.on_exit()``) and stop cleanly."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=argv if argv is not None else sys.argv)
    try:
        node = factory()
    except H2S2RError as e:  # a fault the user can fix: one line in the node's log
        print(f"error: {e}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        raise SystemExit(1) from None
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():  # a fault of the node's own
            raise
        # Ctrl-C shut the context down while a callback ran (a slow first-frame search):
        # its publish fails, and the node was stopping anyway.
    finally:
        # A second Ctrl-C (the terminal's, then `h2s2r deploy`'s) must not cut the log.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        node.on_exit()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


def qos():
    """The QoS profile of every h2s2r topic (see the module docstring)."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=QOS_DEPTH,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


def qos_latched():
    """For state topics (``command_active``): the last message, kept for late joiners."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=1,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )


def stamp_s(msg) -> float:
    """A header's stamp in seconds."""
    return msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec


def set_stamp(msg, t_s: float) -> None:
    ns = round(t_s * 1e9)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ns, 1_000_000_000)


def joint_state(names: Sequence[str], position, velocity=None, t_s: float = 0.0, frame: str = ""):
    """``sensor_msgs/JointState``."""
    from sensor_msgs.msg import JointState

    m = JointState()
    set_stamp(m, t_s)
    m.header.frame_id = frame
    m.name = list(names)
    m.position = [float(v) for v in position]
    if velocity is not None:
        m.velocity = [float(v) for v in velocity]
    return m


def from_joint_state(msg) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Names, positions and (if given) velocities of a ``JointState``."""
    vel = np.asarray(msg.velocity, dtype=np.float64) if len(msg.velocity) else None
    return list(msg.name), np.asarray(msg.position, dtype=np.float64), vel


def pose_stamped(pos, quat_wxyz, t_s: float, frame: str = "base"):
    """``geometry_msgs/PoseStamped`` from a position and a wxyz quaternion."""
    from geometry_msgs.msg import PoseStamped

    m = PoseStamped()
    set_stamp(m, t_s)
    m.header.frame_id = frame
    p, q = m.pose.position, m.pose.orientation
    p.x, p.y, p.z = (float(v) for v in pos)
    q.w, q.x, q.y, q.z = (float(v) for v in quat_wxyz)
    return m


def from_pose_stamped(msg) -> tuple[np.ndarray, np.ndarray]:
    """Position ``(3,)`` and wxyz quaternion ``(4,)`` of a ``PoseStamped``."""
    p, q = msg.pose.position, msg.pose.orientation
    return np.array([p.x, p.y, p.z]), np.array([q.w, q.x, q.y, q.z])


def image(array: np.ndarray, t_s: float, frame: str = "camera"):
    """``sensor_msgs/Image``: ``(H, W, 3)`` uint8 as ``rgb8``, ``(H, W)`` uint16 as
    ``16UC1`` (depth in millimetres, 0 = invalid, as RealSense's aligned depth)."""
    from sensor_msgs.msg import Image

    a = np.ascontiguousarray(array)
    m = Image()
    set_stamp(m, t_s)
    m.header.frame_id = frame
    m.height, m.width = a.shape[:2]
    if a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3:
        m.encoding, m.step = "rgb8", 3 * a.shape[1]
    elif a.dtype == np.uint16 and a.ndim == 2:
        m.encoding, m.step = "16UC1", 2 * a.shape[1]
    else:
        raise ValueError(
            f"image: expected (H, W, 3) uint8 or (H, W) uint16, got {a.shape} {a.dtype}"
        )
    m.is_bigendian = 0
    m.data = a.tobytes()
    return m


def from_image(msg) -> np.ndarray:
    """An ``rgb8``/``bgr8`` image as ``(H, W, 3)`` uint8 RGB, a ``16UC1`` one as ``(H, W)``
    uint16, ``32FC1`` (metres) as uint16 millimetres."""
    h, w, enc = msg.height, msg.width, msg.encoding
    buf = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if enc in ("rgb8", "bgr8"):
        a = buf.reshape(h, msg.step)[:, : 3 * w].reshape(h, w, 3)
        return a[..., ::-1].copy() if enc == "bgr8" else a.copy()
    if enc in ("16UC1", "mono16"):
        return (
            buf.view("<u2" if not msg.is_bigendian else ">u2")
            .reshape(h, msg.step // 2)[:, :w]
            .astype(np.uint16)
        )
    if enc == "32FC1":
        m = buf.view("<f4").reshape(h, msg.step // 4)[:, :w]
        return np.where(np.isfinite(m), np.rint(m * 1000.0), 0).astype(np.uint16)
    raise ValueError(f"image encoding {enc!r}: rgb8, bgr8, 16UC1 or 32FC1")


def camera_info(K: np.ndarray, width: int, height: int, t_s: float, frame: str = "camera"):
    """``sensor_msgs/CameraInfo`` of a pinhole camera without distortion."""
    from sensor_msgs.msg import CameraInfo

    m = CameraInfo()
    set_stamp(m, t_s)
    m.header.frame_id = frame
    m.width, m.height = int(width), int(height)
    m.k = [float(v) for v in np.asarray(K).ravel()]
    m.distortion_model = "plumb_bob"
    m.d = [0.0] * 5
    return m


def from_camera_info(msg) -> np.ndarray:
    """``K (3, 3)`` of a ``CameraInfo``."""
    return np.asarray(msg.k, dtype=np.float64).reshape(3, 3)


def command_msg_type(kind: str):
    """The message type of an output adapter kind (:data:`h2s2r.core.robot_io.OUTPUT_TYPES`)."""
    if kind == "forward_position":
        from std_msgs.msg import Float64MultiArray

        return Float64MultiArray
    if kind == "joint_trajectory":
        from trajectory_msgs.msg import JointTrajectory

        return JointTrajectory
    from sensor_msgs.msg import JointState

    return JointState


def command_message(kind: str, names: Sequence[str], values, t_s: float, horizon_s: float):
    """A joint command as a driver takes it: ``forward_position`` (values only, in the
    driver's order), ``joint_trajectory`` (one point ``horizon_s`` ahead) or
    ``joint_state``."""
    v = [float(x) for x in values]
    if kind == "forward_position":
        m = command_msg_type(kind)()
        m.data = v
        return m
    if kind == "joint_trajectory":
        from trajectory_msgs.msg import JointTrajectoryPoint

        m = command_msg_type(kind)()
        set_stamp(m, t_s)
        m.joint_names = list(names)
        point = JointTrajectoryPoint()
        point.positions = v
        point.time_from_start.nanosec = int(horizon_s * 1e9)
        m.points = [point]
        return m
    return joint_state(names, v, t_s=t_s)


def from_command_message(kind: str, msg) -> tuple[list[str] | None, np.ndarray]:
    """Driver joint names (None for ``forward_position``: its order is the config's) and
    values of a command message."""
    if kind == "forward_position":
        return None, np.asarray(msg.data, dtype=np.float64)
    if kind == "joint_trajectory":
        if not msg.points:
            return list(msg.joint_names), np.zeros(0)
        return list(msg.joint_names), np.asarray(msg.points[-1].positions, dtype=np.float64)
    return list(msg.name), np.asarray(msg.position, dtype=np.float64)


__all__ = [
    "QOS_DEPTH",
    "camera_info",
    "command_message",
    "command_msg_type",
    "from_camera_info",
    "from_command_message",
    "from_image",
    "from_joint_state",
    "from_pose_stamped",
    "image",
    "joint_state",
    "node_parameters",
    "pose_stamped",
    "qos",
    "qos_latched",
    "run_node",
    "set_stamp",
    "stamp_s",
]
