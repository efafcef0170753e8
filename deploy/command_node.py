"""``command`` node: safe joint commands at the robot's rate (ROS 2 lifecycle shell).

A lifecycle node (``configure``, then ``activate``: nothing is commanded before). It feeds
joint states, object poses and the policy's targets to :class:`CommandCore` and, every
``1 / rate_hz``, publishes its command through the robot's output adapters
(:mod:`h2s2r.core.robot_io`). ``std_msgs/Bool`` ``true`` on the e-stop topic deactivates
it at once. With ``autostart`` (the simulated robot, or ``h2s2r deploy --activate``) it
configures itself and activates once joint states and object poses arrive. Every
rejection, clamp, refusal and watchdog hold is logged and published as JSON on the events
topic; whether it commands is the latched ``command_active`` topic. It refuses to start
while another h2s2r graph's command node runs on the same ROS domain on this machine
(:func:`h2s2r.deploy.graph.hold_domain`). Parameters: ``workspace``, ``robot_config``,
``log_dir``, ``autostart``.
Writes ``<log_dir>/command.npz`` on exit.
"""

from __future__ import annotations

import json
import sys
import time

from h2s2r.core import rosmsg
from h2s2r.core.errors import H2S2RError
from h2s2r.core.robot_io import load_robot_io
from h2s2r.core.runlog import RunLog
from h2s2r.core.table import Table
from h2s2r.core.trust import verify_policy
from h2s2r.deploy.adapters import Adapter
from h2s2r.deploy.command_core import CommandCore
from h2s2r.deploy.graph import domain_of_environment, hold_domain


def main(argv: list[str] | None = None) -> None:
    from geometry_msgs.msg import PoseStamped
    from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool, String

    class CommandNode(LifecycleNode):
        def __init__(self):
            super().__init__("command")
            self.p, self.log_path = rosmsg.node_parameters(self, "command")
            self.autostart = self.declare_parameter("autostart", False).value
            self._autostarted = False
            self.core: CommandCore | None = None
            self.log = RunLog()
            self.timer = None
            if self.autostart:
                self._boot = self.create_timer(0.01, self._configure_once)

        def _configure_once(self) -> None:
            self._boot.cancel()
            self.trigger_configure()

        # ---------------------------------------------------------------- lifecycle
        def on_configure(self, state):
            policy, task, _ = verify_policy(self.p["workspace"])  # trust before motion
            io = load_robot_io(self.p["robot_config"], task.robot)
            from h2s2r.core.robots import get_robot

            robot = get_robot(task.robot)
            period = float(policy.header["ctrl_dt_s"])
            self.core = CommandCore(robot, Table(task.table_height_m), io.command, period)
            qos = rosmsg.qos()
            self.adapters = [
                Adapter(o, self.core.names, self.core.dt) for o in io.resolved_outputs()
            ]
            self.pubs = [
                self.create_publisher(a.msg_type, a.output.topic, qos) for a in self.adapters
            ]
            self.events_pub = self.create_publisher(String, io.topics.events, qos)
            self.active_pub = self.create_publisher(
                Bool, io.topics.command_active, rosmsg.qos_latched()
            )
            self.active_pub.publish(Bool(data=False))
            t = io.topics
            self.create_subscription(JointState, t.joint_states, self.on_joints, qos)
            self.create_subscription(PoseStamped, t.object_pose, self.on_pose, qos)
            self.create_subscription(JointState, t.targets, self.on_target, qos)
            self.create_subscription(Bool, t.estop, self.on_estop, qos)
            self.timer = self.create_timer(self.core.dt, self.on_tick)
            self.last_tick = None
            self.get_logger().info(
                f"configured for {robot.name}: {len(self.adapters)} output(s), "
                f"{io.command.rate_hz:.0f} Hz, watchdog {io.command.watchdog_s} s"
            )
            return TransitionCallbackReturn.SUCCESS

        def on_activate(self, state):
            if self.core is None or not self.core.activate(time.monotonic()):
                self.flush_events()
                return TransitionCallbackReturn.FAILURE
            self.flush_events()
            return super().on_activate(state)

        def on_deactivate(self, state):
            if self.core is not None:
                self.core.deactivate(time.monotonic())
                self.flush_events()
            return super().on_deactivate(state)

        # ---------------------------------------------------------------- inputs
        def on_joints(self, msg) -> None:
            names, q, _ = rosmsg.from_joint_state(msg)
            t = time.monotonic()
            ok = self.core.on_joint_state(t, names, q)
            self.flush_events()
            if ok and self.autostart and not self._autostarted and not self.core.stale(t):
                self._autostarted = True  # once: a later deactivation or e-stop stays
                self.trigger_activate()

        def on_pose(self, msg) -> None:
            self.core.on_object_pose(time.monotonic(), *rosmsg.from_pose_stamped(msg))
            self.flush_events()

        def on_target(self, msg) -> None:
            names, q, _ = rosmsg.from_joint_state(msg)
            self.core.on_target(time.monotonic(), names, q)
            self.flush_events()

        def on_estop(self, msg) -> None:
            if msg.data:
                self.core.estop(time.monotonic())
                self.flush_events()
                if self.core is not None:
                    self.trigger_deactivate()

        def on_tick(self) -> None:
            t = time.monotonic()
            cmd = self.core.tick(t)
            if cmd is not None:
                stamp = time.time()
                for a, pub in zip(self.adapters, self.pubs, strict=True):
                    pub.publish(a.message(cmd, stamp))
                self.log.add(t=t, command=cmd, done_s=time.monotonic() - t)
            self.flush_events()

        def publish_state(self) -> None:
            active = self.core is not None and self.core.active
            if getattr(self, "_was_active", None) != active:
                self.active_pub.publish(Bool(data=active))
                self._was_active = active

        def flush_events(self) -> None:
            if self.core is not None:
                self.publish_state()
            for e in self.core.events if self.core is not None else []:
                self.log.event(e.t, e.kind, e.detail)
                text = f"{e.kind}: {e.detail}"
                if e.kind in ("rejected", "refused", "watchdog", "estop", "clamped"):
                    self.get_logger().warn(text)
                else:  # rclpy wants one severity per call site
                    self.get_logger().info(text)
                event = {"t": e.t, "kind": e.kind, "detail": e.detail}
                self.events_pub.publish(String(data=json.dumps(event)))
            if self.core is not None:
                self.core.events.clear()

        def on_exit(self) -> None:
            self.log.save(self.log_path)

    # One graph per ROS domain on this machine: a second command node would take the other
    # graph's targets too. Held until this process ends.
    domain = domain_of_environment()
    args = sys.argv if argv is None else argv
    ws = next((a.split(":=", 1)[1].strip("'") for a in args if a.startswith("workspace:=")), "")
    try:
        hold_domain(domain, f"the command node of {ws or 'a deploy'}")
    except H2S2RError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    rosmsg.run_node(CommandNode, argv)


__all__ = ["main"]

if __name__ == "__main__":
    main()
