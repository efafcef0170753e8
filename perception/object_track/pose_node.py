"""``object_pose`` node: colour + aligned depth in, the object's pose in the base frame out.

The same tracker as ``h2s2r track-object`` (:class:`StreamTracker`) frame by frame: the
first frame pair searches the whole view, with poses near the demo's start pose among
its candidates (the object is set down as in the demo); later ones follow the object,
and after ``reinit_after`` frames in a row without it the search starts again, seeded
with the last pose tracked. Each pose, or one
from an external pose topic (``topics.external_pose`` of the robot config, e.g. a
FoundationPose node: base frame if its ``frame_id`` is ``base``, else the camera's),
is turned, for a symmetric object, to the equal-looking orientation nearest the last
one (at first, the demo's start: :func:`closest_equivalent`), passes :class:`PoseGate`
and is published as ``geometry_msgs/PoseStamped`` in the robot
base frame (``T_base_cam`` from ``calibration/``, else the task's), with a
``std_msgs/Bool`` validity flag. Parameters: ``workspace``, ``robot_config``,
``log_dir``, ``depth_scale_m`` (0.001: RealSense millimetres), ``reinit_after`` (15).
Writes ``<log_dir>/object_pose.npz`` on exit.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from h2s2r.core import rosmsg
from h2s2r.core.artifacts import Calibration, ObjectMesh, Task
from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import T_inv, matrix_to_quat, quat_to_matrix
from h2s2r.core.goal import object_keypoints
from h2s2r.core.robot_io import load_robot_io
from h2s2r.core.runlog import RunLog
from h2s2r.perception.object_track.pose_gate import PoseGate
from h2s2r.perception.object_track.symmetry import closest_equivalent
from h2s2r.perception.object_track.tracker import StreamTracker, TrackerConfig


def main(argv: list[str] | None = None) -> None:
    from geometry_msgs.msg import PoseStamped
    from rclpy.node import Node
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Bool

    class ObjectPoseNode(Node):
        def __init__(self):
            super().__init__("object_pose")
            d = self.declare_parameter
            p, self.log_path = rosmsg.node_parameters(self, "object_pose")
            self.depth_scale = d("depth_scale_m", 0.001).value
            self.reinit_after = d("reinit_after", 15).value
            ws = Path(p["workspace"])
            task = Task.load(ws / "task")
            self.T_base_cam = (
                Calibration.load(ws / "calibration").T_base_cam
                if (ws / "calibration").is_dir()
                else task.T_base_cam
            )
            self.mesh = ObjectMesh.load(ws / "object")
            self.gate = PoseGate(task.table_height_m)
            self.center = object_keypoints(self.mesh.vertices)[1]
            self.prior_R = quat_to_matrix(task.object_quat_wxyz_base[0])
            # Where the search looks first: the demo's start pose (the object is set down
            # as in the demo), later the last pose tracked.
            T_base_obj = np.eye(4)
            T_base_obj[:3, :3], T_base_obj[:3, 3] = self.prior_R, task.object_pos_base[0]
            self.T_cam_prior = T_inv(self.T_base_cam) @ T_base_obj
            io = load_robot_io(p["robot_config"], task.robot)
            t, qos = io.topics, rosmsg.qos()
            self.log = RunLog()
            self.pose_pub = self.create_publisher(PoseStamped, t.object_pose, qos)
            self.valid_pub = self.create_publisher(Bool, t.object_pose_valid, qos)
            self.K = None
            self.tracker: StreamTracker | None = None
            self.rgb: tuple[float, np.ndarray] | None = None
            if t.external_pose:
                self.create_subscription(PoseStamped, t.external_pose, self.on_external, qos)
                self.get_logger().info(f"passing {t.external_pose} through the pose checks")
            else:
                # Images: only the newest counts (a slow frame must not queue stale ones).
                latest = rosmsg.qos()
                latest.depth = 1
                self.create_subscription(CameraInfo, t.camera_info, self.on_info, qos)
                self.create_subscription(Image, t.color, self.on_color, latest)
                self.create_subscription(Image, t.depth, self.on_depth, latest)

        def on_info(self, msg) -> None:
            if self.K is None:
                self.K = rosmsg.from_camera_info(msg)
                self.tracker = StreamTracker(
                    self.K, self.mesh.vertices, self.mesh.faces, TrackerConfig()
                )

        def on_color(self, msg) -> None:
            self.rgb = (rosmsg.stamp_s(msg), rosmsg.from_image(msg))

        def on_depth(self, msg) -> None:
            if self.tracker is None:
                return
            t_rx = time.monotonic()
            stamp = rosmsg.stamp_s(msg)
            depth = rosmsg.from_image(msg).astype(np.float64) * self.depth_scale
            rgb = None
            if self.rgb is not None and abs(self.rgb[0] - stamp) < 0.02:  # the same frame
                rgb = self.rgb[1]
            why = "lost (tracking)"
            try:
                if self.tracker.init is None or self.tracker.lost_for() >= self.reinit_after:
                    self.tracker.start(depth, rgb, prior=self.T_cam_prior)
                    self.get_logger().info("object found: tracking")
                r = self.tracker.update(depth, rgb)
            except H2S2RError as e:  # not in view yet
                why = str(e).split(":")[0]
                r = None
            if r is None or not r.ok:
                self.publish(None, stamp, t_rx, why)
                return
            self.T_cam_prior = r.T_cam_obj
            T = self.T_base_cam @ r.T_cam_obj
            self.publish(T, stamp, t_rx, "", r.agreement)

        def on_external(self, msg) -> None:
            pos, quat = rosmsg.from_pose_stamped(msg)
            T = np.eye(4)
            T[:3, :3], T[:3, 3] = quat_to_matrix(quat / max(np.linalg.norm(quat), 1e-12)), pos
            if msg.header.frame_id != "base":
                T = self.T_base_cam @ T
            self.publish(T, rosmsg.stamp_s(msg), time.monotonic(), "")

        def publish(self, T, stamp: float, t_rx: float, why: str, agreement=np.nan) -> None:
            if T is not None:
                T = closest_equivalent(T, self.prior_R, self.mesh.symmetry, self.center)
                quat = matrix_to_quat(T[:3, :3])
                why = self.gate.check(t_rx, T[:3, 3], quat)
                if not why:
                    self.prior_R = T[:3, :3]
            ok = not why
            if ok:
                self.pose_pub.publish(rosmsg.pose_stamped(T[:3, 3], quat, stamp))
            else:
                self.get_logger().warn(f"object pose refused: {why}", throttle_duration_sec=1.0)
                self.log.event(t_rx, "refused", why)
            self.valid_pub.publish(Bool(data=ok))
            self.log.add(t=t_rx, valid=ok, agreement=agreement, done_s=time.monotonic() - t_rx)

        def on_exit(self) -> None:
            self.log.save(self.log_path)

    rosmsg.run_node(ObjectPoseNode, argv)


if __name__ == "__main__":
    main()
