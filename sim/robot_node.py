"""``sim_robot`` node: a MuJoCo robot, table and object in real time, behind robot topics.

Stands in for the hardware with the same topics (:class:`h2s2r.sim.robot_sim.RobotSim`):
publishes ``sensor_msgs/JointState`` at ``state_rate_hz`` and the object's pose with
observation noise at ``pose_rate_hz`` (a tracker's rate), and takes joint commands in any
of the output adapters' message types (the robot config's outputs). Parameters:
``workspace``, ``robot_config``, ``log_dir``, ``seed``, ``start_noise_m``,
``state_rate_hz`` (200), ``pose_rate_hz`` (30; also the camera's frame rate),
``publish_images`` (the camera path: colour, aligned depth and ``CameraInfo`` rendered
from the demo camera's pose instead of the object's pose), ``publish_color`` (false:
depth only, which the tracker follows; a colour frame costs 52 ms of a core with software
OpenGL, depth 13 ms). Writes ``<log_dir>/sim_robot.npz``
(true object and joint trajectories) on exit.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from h2s2r.core import rosmsg
from h2s2r.core.artifacts import ObjectMesh, Task
from h2s2r.core.robot_io import load_robot_io
from h2s2r.core.runlog import RunLog
from h2s2r.sim.robot_sim import RobotSim, RobotSimConfig


def main(argv: list[str] | None = None) -> None:
    from geometry_msgs.msg import PoseStamped
    from rclpy.node import Node
    from sensor_msgs.msg import JointState

    class SimRobotNode(Node):
        def __init__(self):
            super().__init__("sim_robot")
            d = self.declare_parameter
            p, self.log_path = rosmsg.node_parameters(self, "sim_robot")
            seed = d("seed", 0).value
            start_noise = d("start_noise_m", 0.0).value
            self.state_dt = 1.0 / d("state_rate_hz", 200.0).value
            self.pose_dt = 1.0 / d("pose_rate_hz", 30.0).value
            self.images = d("publish_images", False).value
            self.color = d("publish_color", False).value
            ws = Path(p["workspace"])
            task = Task.load(ws / "task")
            self.sim = RobotSim(
                task,
                ObjectMesh.load(ws / "object"),
                RobotSimConfig(seed=seed, start_pos_noise_m=start_noise, camera=self.images),
            )
            io = load_robot_io(p["robot_config"], task.robot)
            topics = io.topics
            self.log = RunLog()
            qos = rosmsg.qos()
            self.names = list(self.sim.joint_names)
            self.index = {n: i for i, n in enumerate(self.names)}
            self.target = self.sim.joints()[0]
            self.state_pub = self.create_publisher(JointState, topics.joint_states, qos)
            if self.images:
                from sensor_msgs.msg import CameraInfo, Image

                self.color_pub = self.create_publisher(Image, topics.color, qos)
                self.depth_pub = self.create_publisher(Image, topics.depth, qos)
                self.info_pub = self.create_publisher(CameraInfo, topics.camera_info, qos)
            else:
                self.pose_pub = self.create_publisher(PoseStamped, topics.object_pose, qos)
            for o in io.resolved_outputs():  # takes what the command node sends its drivers
                self.create_subscription(
                    rosmsg.command_msg_type(o.type), o.topic, self._on_command(o), qos
                )
            self.t0 = time.monotonic()
            self.create_timer(self.state_dt, self.on_tick)
            self.create_timer(self.pose_dt, self.on_pose_tick)  # a tracker's own clock
            self.get_logger().info(
                f"simulated {task.robot}: state {1 / self.state_dt:.0f} Hz, object pose "
                f"{1 / self.pose_dt:.0f} Hz with noise"
            )

        def _on_command(self, output):
            driver = list(output.driver_names or output.joints)

            def callback(msg) -> None:
                names, values = rosmsg.from_command_message(output.type, msg)
                try:
                    names = [output.joints[driver.index(n)] for n in names or driver]
                except ValueError:
                    self.get_logger().error("command with unknown joints: ignored")
                    return
                if len(names) != len(values) or not np.all(np.isfinite(values)):
                    self.get_logger().error("malformed command: ignored")
                    return
                for n, v in zip(names, values, strict=True):
                    self.target[self.index[n]] = v
                self.sim.command(self.target)

            return callback

        def on_tick(self) -> None:
            now = time.monotonic() - self.t0
            self.sim.advance_to(now)
            q, qd = self.sim.joints()
            stamp = time.time()
            self.state_pub.publish(rosmsg.joint_state(self.names, q, qd, t_s=stamp))
            pos, quat = self.sim.object_pose()
            self.log.add(t=now, q=q, object_pos=pos, object_quat=quat)

        def on_pose_tick(self) -> None:
            self.sim.advance_to(time.monotonic() - self.t0)
            stamp = time.time()
            if not self.images:
                pose = self.sim.observed_object_pose()
                self.pose_pub.publish(rosmsg.pose_stamped(*pose, t_s=stamp))
                return
            rgb, depth = self.sim.render_rgbd(color=self.color)
            sim = self.sim.cfg
            self.info_pub.publish(rosmsg.camera_info(self.sim.K, sim.width, sim.height, stamp))
            if rgb is not None:
                self.color_pub.publish(rosmsg.image(rgb, stamp))
            self.depth_pub.publish(rosmsg.image(depth, stamp))

        def on_exit(self) -> None:
            self.log.event(0.0, "diverged" if self.sim.diverged() else "ok", "")
            self.log.save(self.log_path)

    rosmsg.run_node(SimRobotNode, argv)


if __name__ == "__main__":
    main()
