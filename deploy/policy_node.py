"""``policy`` node: joint states and the object pose in, joint targets out (ROS 2 shell).

Subscribes to the robot's ``sensor_msgs/JointState`` and the object's
``geometry_msgs/PoseStamped`` (robot base frame); steps :class:`PolicyCore` when a pose
arrives and a control period has passed since the last step (a pose every period or
faster keeps the policy at its rate, and each step uses the pose that just arrived); when
poses come slower (a camera and tracker below the policy rate), a timer steps with the
latest pose once 1.2 periods have passed, as long as that pose is fresh;
publishes ``sensor_msgs/JointState`` targets. It does not step on joint states older than
the command node's watchdog, and only while the command node says it is active (its
latched ``command_active`` topic); each activation resumes the goal where the object is on
the demo path. Parameters: ``workspace``, ``robot_config``, ``log_dir``,
``goal_speed`` (0: training's middle speed). Writes ``<log_dir>/policy.npz`` on exit.
"""

from __future__ import annotations

import time

import numpy as np

from h2s2r.core import rosmsg
from h2s2r.core.robot_io import load_robot_io
from h2s2r.core.runlog import RunLog
from h2s2r.core.trust import verify_policy
from h2s2r.deploy.policy_core import PolicyCore


def main(argv: list[str] | None = None) -> None:
    from rclpy.node import Node

    class PolicyNode(Node):
        def __init__(self):
            super().__init__("policy")
            p, self.log_path = rosmsg.node_parameters(self, "policy")
            speed = self.declare_parameter("goal_speed", 0.0).value
            policy, task, notes = verify_policy(p["workspace"])  # trust before motion
            for n in notes:
                self.get_logger().warn(n)
            self.core = PolicyCore(policy, task, goal_speed=speed or None)
            io = load_robot_io(p["robot_config"], task.robot)
            self.watchdog_s = io.command.watchdog_s
            self.names = list(self.core.joint_names)
            self.index = {n: i for i, n in enumerate(self.names)}
            self.period = self.core.ctrl_dt_s
            self.q = self.qd = None
            self.t_state = -np.inf
            self.last_step = -np.inf
            self.log = RunLog()
            from geometry_msgs.msg import PoseStamped
            from sensor_msgs.msg import JointState
            from std_msgs.msg import Bool

            qos = rosmsg.qos()
            t = io.topics
            self.pub = self.create_publisher(JointState, t.targets, qos)
            self.create_subscription(JointState, t.joint_states, self.on_joints, qos)
            self.create_subscription(PoseStamped, t.object_pose, self.on_pose, qos)
            self.active = False
            self.create_subscription(Bool, t.command_active, self.on_active, rosmsg.qos_latched())
            self.get_logger().info(
                f"policy for {self.core.robot.name} at {1 / self.period:.1f} Hz, goal speed "
                f"{self.core.goal_speed:.2f}× the demo"
            )

        def on_joints(self, msg) -> None:
            names, q, qd = rosmsg.from_joint_state(msg)
            try:
                idx = [names.index(n) for n in self.names]
            except ValueError:
                self.get_logger().error(
                    f"joint state without {sorted(set(self.names) - set(names))}: ignored",
                    throttle_duration_sec=1.0,
                )
                return
            if not np.all(np.isfinite(q[idx])):
                self.get_logger().error("joint state with NaN: ignored", throttle_duration_sec=1.0)
                return
            self.q = q[idx]
            self.qd = qd[idx] if qd is not None else np.zeros(len(idx))
            self.t_state = time.monotonic()

        def on_active(self, msg) -> None:
            if msg.data and not self.active:
                self.core.reset()  # the goal resumes where the object is
                self.last_step = -np.inf
            self.active = bool(msg.data)

        def on_pose(self, msg) -> None:
            t_rx = time.monotonic()
            pos, quat = rosmsg.from_pose_stamped(msg)
            if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(quat))):
                self.get_logger().error("object pose with NaN: ignored", throttle_duration_sec=1.0)
                return
            self.pose = (t_rx, pos, quat)
            if t_rx - self.last_step >= 0.75 * self.period:
                self.step(t_rx, pos, quat)

        def on_timer(self) -> None:
            now = time.monotonic()
            if self.pose is None or now - self.last_step < 1.2 * self.period:
                return
            t_rx, pos, quat = self.pose
            if now - t_rx < self.watchdog_s:
                self.step(t_rx, pos, quat)

        def step(self, t_rx: float, pos: np.ndarray, quat: np.ndarray) -> None:
            now = time.monotonic()
            if not self.active or self.q is None or now - self.t_state > self.watchdog_s:
                return  # no fresh joints: the command node holds the robot
            out = self.core.step(self.q, self.qd, pos, quat / np.linalg.norm(quat))
            self.pub.publish(rosmsg.joint_state(self.names, out.target, t_s=time.time()))
            t_out = time.monotonic()
            self.log.add(
                t=now,
                latency_s=t_out - t_rx,
                goal_time_s=out.goal_time_s,
                keypoint_distance_m=out.keypoint_distance_m,
                progress=out.progress,
                object_pos=pos,
                object_quat=quat,
                action=out.action,
                target=out.target,
            )
            self.last_step = now

        def on_exit(self) -> None:
            self.log.save(self.log_path)

    rosmsg.run_node(PolicyNode, argv)


if __name__ == "__main__":
    main()
