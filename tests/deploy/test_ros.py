"""The deploy nodes over real ROS 2 (rclpy from PyPI, localhost-only discovery): faults
against the command node, a policy node restart, and a short closed loop with the
simulated robot."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from h2s2r.cli.deploy import DeployConfig, node_command, run_deploy  # noqa: E402
from h2s2r.core import rosmsg  # noqa: E402
from h2s2r.core.robot_io import Topics  # noqa: E402
from h2s2r.core.robots import get_robot  # noqa: E402
from h2s2r.core.runlog import load_run_log  # noqa: E402
from h2s2r.deploy.graph import DeployOptions, deploy_graph  # noqa: E402

ROBOT = get_robot("iiwa_allegro")
NAMES = list(ROBOT.joint_names)
HOME = np.asarray(ROBOT.home_qpos)


@pytest.fixture
def ros_env(monkeypatch, worker_domain):
    """A ROS domain of this test's own, traffic on this machine only."""
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    monkeypatch.setenv("ROS_DOMAIN_ID", str(worker_domain))
    return dict(os.environ)


@pytest.fixture(scope="session")
def deploy_ws(trained_ws, tmp_path_factory):
    import shutil

    from h2s2r.policy.export import run_export
    from h2s2r.sim.tasks import make_env

    ws = tmp_path_factory.mktemp("ros") / "ws"
    shutil.copytree(trained_ws, ws)
    shutil.rmtree(ws / "policy", ignore_errors=True)
    run_export(ws, make_env, log=lambda *a: None)
    return ws


class Probe:
    """A test node: publishes what a robot and a tracker would, records commands."""

    def __init__(self):
        from geometry_msgs.msg import PoseStamped
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Bool, String

        rclpy.init()
        self.node = rclpy.create_node("probe")
        t, q = Topics(), rosmsg.qos()
        self.joints = self.node.create_publisher(JointState, t.joint_states, q)
        self.pose = self.node.create_publisher(PoseStamped, t.object_pose, q)
        self.targets = self.node.create_publisher(JointState, t.targets, q)
        self.estop = self.node.create_publisher(Bool, t.estop, q)
        self.commands: list[tuple[float, np.ndarray]] = []
        self.events: list[tuple[float, dict]] = []
        self.active: list[bool] = []
        self.stamps: list[float] = []
        self.target_times: list[float] = []  # arrivals of the policy's joint targets
        self.node.create_subscription(JointState, "/h2s2r/joint_command", self._on_command, q)
        self.node.create_subscription(
            JointState, t.targets, lambda m: self.target_times.append(time.monotonic()), q
        )
        self.node.create_subscription(
            String,
            t.events,
            lambda m: self.events.append((time.monotonic(), json.loads(m.data))),
            q,
        )
        self.node.create_subscription(
            Bool, t.command_active, lambda m: self.active.append(m.data), rosmsg.qos_latched()
        )

    def _on_event(self, m) -> None:
        self.events.append((time.monotonic(), json.loads(m.data)))

    def _on_command(self, m) -> None:
        self.commands.append((time.monotonic(), np.array(m.position)))
        self.stamps.append(rosmsg.stamp_s(m))

    def spin(self, seconds: float, joints=True, pose=True, rate_hz: float = 100.0) -> None:
        """Publish joints and poses at ``rate_hz`` (unless told not to) for ``seconds``,
        taking every message that arrives meanwhile."""
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            if joints:
                self.joints.publish(rosmsg.joint_state(NAMES, HOME, np.zeros(23), time.time()))
            if pose:
                self.pose.publish(rosmsg.pose_stamped([0.6, 0, 0.03], [1, 0, 0, 0], time.time()))
            t_next = time.monotonic() + 1.0 / rate_hz
            while time.monotonic() < t_next:
                rclpy.spin_once(self.node, timeout_sec=0.001)

    def kinds(self) -> list[str]:
        return [e["kind"] for _, e in self.events]

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.shutdown()


def start(spec, env, log: Path) -> subprocess.Popen:
    with open(log, "w") as f:
        return subprocess.Popen(node_command(spec), stdout=f, stderr=subprocess.STDOUT, env=env)


def stop(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()


def test_command_node_faults(deploy_ws, ros_env, tmp_path):
    """NaN → rejected; beyond limits → clamped; below the table → refused; the pose
    publisher dies → the command holds within the watchdog time; e-stop → no command
    after it. Each is an event on the events topic and in the node's log."""
    opts = DeployOptions(workspace=str(deploy_ws), log_dir=str(tmp_path), autostart=True)
    spec = next(s for s in deploy_graph(opts) if s.name == "command")
    proc = start(spec, ros_env, tmp_path / "command.log")
    probe = Probe()
    try:
        t_end = time.monotonic() + 60
        while not any(probe.active):
            assert time.monotonic() < t_end, (tmp_path / "command.log").read_text()
            assert proc.poll() is None, (tmp_path / "command.log").read_text()
            probe.spin(0.1)
        probe.spin(0.3)
        assert probe.commands and np.allclose(probe.commands[-1][1], HOME)  # no jump

        bad = HOME.copy()
        bad[0] = np.nan
        probe.targets.publish(rosmsg.joint_state(NAMES, bad))
        probe.spin(0.2)
        assert probe.kinds()[-1] == "rejected" and "NaN" in probe.events[-1][1]["detail"]

        far = HOME.copy()
        far[2] = 10.0
        probe.targets.publish(rosmsg.joint_state(NAMES, far))
        probe.spin(0.2)
        assert "clamped" in probe.kinds()

        low = HOME.copy()
        low[1], low[3] = 1.5, -0.6  # the hand into the table
        n = len(probe.commands)
        probe.targets.publish(rosmsg.joint_state(NAMES, low))
        probe.spin(0.3)
        assert probe.kinds()[-1] == "refused" and "below the table" in probe.events[-1][1]["detail"]
        later = np.array([c for _, c in probe.commands[n:]])
        assert np.all(np.abs(later[:, 1] - later[0, 1]) < 0.5)  # not heading for the table

        # The pose publisher dies: the command holds within the watchdog time.
        t_last_pose = time.monotonic()
        probe.spin(0.6, pose=False)
        t_dog = next(t for t, e in probe.events if e["kind"] == "watchdog")
        assert t_dog - t_last_pose <= 0.2 + 0.1  # the watchdog time, plus a loaded tick
        held = np.array([c for t, c in probe.commands if t > t_dog + 0.02])
        assert len(held) > 50 and np.all(held == held[0])
        probe.spin(0.3)
        assert "resumed" in probe.kinds()

        # E-stop: commands stop at once.
        from std_msgs.msg import Bool

        probe.estop.publish(Bool(data=True))
        probe.spin(0.2)
        t_stop = next(t for t, e in probe.events if e["kind"] == "estop")
        after = [t for t, _ in probe.commands if t > t_stop + 0.01]
        assert after == [] and probe.active[-1] is False
    finally:
        probe.close()
        stop(proc)
    _, events = load_run_log(tmp_path / "command.npz")
    kinds = [e["kind"] for e in events]
    for k in ("activated", "rejected", "clamped", "refused", "watchdog", "resumed", "estop"):
        assert k in kinds, kinds


def test_closed_loop_and_policy_restart(deploy_ws, ros_env, tmp_path):
    """A few seconds of the whole graph against the simulated robot through ROS topics
    (the CI check of the closed loop); then the policy node is killed and restarted: the
    command never jumps (per-tick change within the joints' speed limits)."""
    ws = tmp_path / "ws"
    import shutil

    shutil.copytree(deploy_ws, ws)
    art = run_deploy(ws, DeployConfig(sim=True, duration=4.0), log=lambda *a: None)
    m = art.metrics
    assert m["policy_steps"] >= 40 and m["command_ticks"] >= 500, m
    assert np.isfinite(m["success"]) and m["safety_events"] == 0
    # Inputs fresh all through but for a loaded machine's scheduling gaps: a hold for
    # stale inputs (> 0.2 s without a joint state or a pose) is the watchdog doing its
    # job, so it is the time held that is bounded, not the number of holds (CI saw one).
    _, events = load_run_log(ws / "deploy_log" / "command.npz")
    holds = [e["detail"] for e in events if e["kind"] == "watchdog"]
    assert m["watchdog_hold_s"] < 0.1 * 4.0, (m["watchdog_hold_s"], holds)
    # The policy's timer runs at 15 Hz (median period); on a loaded machine a few ticks
    # come late or not at all, which moves the mean (72.7 ms once in CI), so the mean is
    # only bounded: at least 3 of 4 steps happen.
    policy, _ = load_run_log(ws / "deploy_log" / "policy.npz")
    assert np.median(np.diff(policy["t"])) == pytest.approx(1 / 15, abs=0.005)
    assert m["latency_p99_ms"] < 50 and m["policy_period_mean_ms"] < 66.7 * 4 / 3
    for f in ("metrics.json", "meta.json", "deploy.png", "policy.npz", "command.npz"):
        assert (ws / "deploy_log" / f).is_file(), f

    # Restart: run the graph by hand, kill the policy node, start it again.
    opts = DeployOptions(workspace=str(ws), use_sim=True, log_dir=str(tmp_path / "logs"))
    procs = {s.name: start(s, ros_env, tmp_path / f"{s.name}.log") for s in deploy_graph(opts)}
    probe = Probe()
    try:
        t_end = time.monotonic() + 60
        while not any(probe.active):
            assert time.monotonic() < t_end
            probe.spin(0.1, joints=False, pose=False)
        probe.spin(1.5, joints=False, pose=False)
        killed = time.monotonic()
        procs["policy"].kill()
        procs["policy"].wait()
        probe.spin(0.5, joints=False, pose=False)
        spec = next(s for s in deploy_graph(opts) if s.name == "policy")
        restarted = time.monotonic()
        procs["policy"] = start(spec, ros_env, tmp_path / "policy2.log")
        # Until the restarted node has stepped for a while (its start-up, torch and rclpy
        # imports, takes seconds more on a loaded machine).
        t_end = restarted + 90
        while sum(t > restarted for t in probe.target_times) < 30:
            assert time.monotonic() < t_end, (tmp_path / "policy2.log").read_text()[-2000:]
            probe.spin(0.5, joints=False, pose=False)
    finally:
        probe.close()
        for p in procs.values():
            stop(p)
    policy2, _ = load_run_log(tmp_path / "logs" / "policy.npz")
    assert len(policy2["t"]) > 10  # the restarted node steps again
    cmds = np.array([c for _, c in probe.commands])
    ticks = np.maximum(np.round(np.diff(probe.stamps) / 0.005), 1)[:, None]
    v_max = np.asarray([ROBOT.gains_of(n).velocity_limit for n in NAMES])
    ratio = np.abs(np.diff(cmds, axis=0)) / (ticks * v_max * 0.005)
    # Commands all through: before the kill, while no policy ran, after the restart (a
    # count of ticks would depend on how fast the machine restarts the node).
    t_cmd = np.array([t for t, _ in probe.commands])
    for lo, hi in ((killed - 1.0, killed), (killed, restarted), (restarted, t_cmd[-1])):
        assert ((t_cmd > lo) & (t_cmd <= hi)).sum() > 50, (lo - killed, hi - killed)
    assert ratio.max() <= 1.001, ratio.max()


def test_camera_path_tracks_the_object_in_the_loop(deploy_ws, ros_env, tmp_path):
    """With the tracker in the loop: the simulated robot renders depth from the demo
    camera, the object pose node finds and follows the box, the policy steps on it."""
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(deploy_ws, ws)
    art = run_deploy(ws, DeployConfig(sim=True, camera=True, duration=5.0), log=lambda *a: None)
    poses, _ = load_run_log(ws / "deploy_log" / "object_pose.npz")
    assert len(poses["t"]) > 20 and poses["valid"].mean() > 0.8, poses["valid"].mean()
    assert art.metrics["policy_steps"] > 10, art.metrics  # after the first-frame search


def test_ctrl_c_stops_every_node_and_writes_the_log(deploy_ws, ros_env, tmp_path):
    """``h2s2r deploy`` interrupted like Ctrl-C: exit 0, every node gone, deploy_log/."""
    import shutil
    import sys

    ws = tmp_path / "ws"
    shutil.copytree(deploy_ws, ws)
    exe = str(Path(sys.executable).parent / "h2s2r")
    proc = subprocess.Popen(
        [exe, "deploy", str(ws), "--sim", "--duration", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ros_env,
        start_new_session=True,  # a terminal's Ctrl-C: the whole group gets SIGINT
    )
    out = []
    for line in proc.stdout:
        out.append(line)
        if line.startswith("deploying"):
            break
    time.sleep(2.0)
    os.killpg(proc.pid, signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(out) + rest
    assert "deploy_log/: success" in rest
    assert (ws / "deploy_log" / "metrics.json").is_file()
    left = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True)
    assert left.stdout.strip() == "", left.stdout


@pytest.mark.parametrize("value", ["250", "-1", "abc"])
def test_an_out_of_range_ros_domain_id_in_the_environment_is_one_line(monkeypatch, value):
    """The probe: ROS_DOMAIN_ID=250 made Fast DDS end `h2s2r deploy` with exit 1 and
    nothing on stderr; --domain-id was range-checked, the environment was not."""
    from h2s2r.cli.deploy import ros_environment
    from h2s2r.core.errors import H2S2RError

    monkeypatch.setenv("ROS_DOMAIN_ID", value)
    with pytest.raises(H2S2RError, match=rf"ROS_DOMAIN_ID='{value}'.* 0 to 232.*--domain-id"):
        ros_environment(DeployConfig(sim=True))
    assert ros_environment(DeployConfig(sim=True, domain_id=7))["ROS_DOMAIN_ID"] == "7"
    monkeypatch.setenv("ROS_DOMAIN_ID", "232")
    assert ros_environment(DeployConfig(sim=True))["ROS_DOMAIN_ID"] == "232"


_OTHER_GRAPH = """
import sys, time
import rclpy
from sensor_msgs.msg import JointState
from h2s2r.core import rosmsg
rclpy.init()
node = rclpy.create_node("policy")  # another deploy's policy node
pub = node.create_publisher(JointState, "/h2s2r/joint_targets", rosmsg.qos())
print("up", flush=True)
t_end = time.monotonic() + 60
while time.monotonic() < t_end:
    rclpy.spin_once(node, timeout_sec=0.1)
"""


def test_deploy_refuses_a_ros_domain_that_runs_another_h2s2r_graph(deploy_ws, ros_env, tmp_path):
    """The probe: two `deploy --sim` on one domain both ran, each command node taking
    both policies' targets."""
    import shutil
    import sys

    from h2s2r.core.errors import H2S2RError

    ws = tmp_path / "ws"
    shutil.copytree(deploy_ws, ws)
    other = subprocess.Popen(
        [sys.executable, "-c", _OTHER_GRAPH], env=ros_env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout.readline().strip() == "up"
        with pytest.raises(H2S2RError) as e:
            run_deploy(ws, DeployConfig(sim=True, duration=2.0), log=lambda *a: None)
        msg = str(e.value)
        assert f"ROS domain {ros_env['ROS_DOMAIN_ID']} already runs an h2s2r graph" in msg
        assert "node(s) /policy" in msg or "publisher(s) on /h2s2r/joint_targets" in msg
        assert "--domain-id" in msg and "ROS_DOMAIN_ID" in msg
        assert not (ws / "deploy_log").exists()  # no node was started
    finally:
        stop(other)


def test_one_command_node_per_ros_domain_on_a_machine(deploy_ws, ros_env, tmp_path):
    """The probe's second deploy on a busy domain was not always seen by DDS discovery in
    its 2 s: the command node (in every graph, launch file too) holds the domain's lock on
    this machine, and `h2s2r deploy` checks it first."""
    import shutil

    from h2s2r.core.errors import H2S2RError
    from h2s2r.deploy.graph import hold_domain

    ws = tmp_path / "ws"
    shutil.copytree(deploy_ws, ws)
    domain = ros_env["ROS_DOMAIN_ID"]
    fd = hold_domain(domain, "the other graph's command node")
    try:
        with pytest.raises(H2S2RError, match=rf"ROS domain {domain} already runs an h2s2r") as e:
            run_deploy(ws, DeployConfig(sim=True, duration=2.0), log=lambda *a: None)
        assert f"pid {os.getpid()}" in str(e.value) and "--domain-id" in str(e.value)
        assert not (ws / "deploy_log").exists()
        opts = DeployOptions(workspace=str(ws), log_dir=str(tmp_path), autostart=True)
        spec = next(s for s in deploy_graph(opts) if s.name == "command")
        proc = start(spec, ros_env, tmp_path / "command.log")
        try:
            assert proc.wait(timeout=60) == 1
        finally:
            stop(proc)
        assert "already runs an h2s2r graph" in (tmp_path / "command.log").read_text()
    finally:
        os.close(fd)


_JOINT_STATES = """
import sys, time
import rclpy
from sensor_msgs.msg import JointState
from h2s2r.core import rosmsg
from h2s2r.core.robots import get_robot
robot = get_robot("iiwa_allegro")
rclpy.init()
node = rclpy.create_node("robot_driver")  # a robot's drivers, nothing else
pub = node.create_publisher(JointState, "/joint_states", rosmsg.qos())
print("up", flush=True)
t_end = time.monotonic() + 60
while time.monotonic() < t_end:
    q, names = robot.home_qpos, list(robot.joint_names)
    pub.publish(rosmsg.joint_state(names, q, [0.0] * len(q), time.time()))
    rclpy.spin_once(node, timeout_sec=0.02)
"""


def test_deploy_without_a_robot_fails_naming_the_joint_states_topic(deploy_ws, ros_env, tmp_path):
    """The probe: `deploy` with no --sim and no drivers ran its 5 s, exit 0, and logged
    "success nan, final object error nan cm"."""
    import shutil

    from h2s2r.core.errors import H2S2RError

    ws = tmp_path / "ws"
    shutil.copytree(deploy_ws, ws)
    said: list[str] = []
    with pytest.raises(H2S2RError) as e:
        run_deploy(ws, DeployConfig(duration=6.0), log=said.append)
    msg = str(e.value)
    assert msg.startswith("no joint state arrived on /joint_states in "), msg
    assert "start the robot's drivers" in msg and "--sim" in msg, msg
    assert any(s.startswith("warning: no joint state") for s in said), said  # while it ran
    assert (ws / "deploy_log" / "metrics.json").is_file()  # the node logs are kept
    # Probe round 10: the log said "success nan" and the report "deploy_log/ ok".
    from h2s2r.core.artifacts import DeployLog
    from h2s2r.report.page import collect

    dl = DeployLog.load(ws / "deploy_log")
    assert dl.metrics["success"] == 0.0 and dl.metrics["loop_closed"] == 0.0
    assert dl.provenance.config["failure"] == msg.split(" (deploy_log/ in ")[0]
    st = collect(ws)["deploy_log"]
    assert st.status == "problem" and st.problem.startswith("the command failed: no joint state")


def test_deploy_with_a_robot_but_no_activation_says_how_to_activate(deploy_ws, ros_env, tmp_path):
    """Joint states arrive but nobody activates the lifecycle command node: nothing was
    commanded, and the error says how to activate it."""
    import shutil
    import sys

    from h2s2r.core.errors import H2S2RError

    ws = tmp_path / "ws"
    shutil.copytree(deploy_ws, ws)
    driver = subprocess.Popen(
        [sys.executable, "-c", _JOINT_STATES], env=ros_env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert driver.stdout.readline().strip() == "up"
        with pytest.raises(H2S2RError) as e:
            run_deploy(ws, DeployConfig(duration=3.0), log=lambda *a: None)
    finally:
        stop(driver)
    msg = str(e.value)
    assert msg.startswith("the command node was never activated in "), msg
    assert "joint states arrived on /joint_states" in msg and "--activate" in msg, msg
    assert "ros2 lifecycle set /command activate" in msg


def test_a_goal_speed_training_never_saw_is_refused_before_anything_starts(deploy_ws, tmp_path):
    """The probe: `deploy --sim --goal-speed 5` ran silently at 5× the demo's speed; the
    policy trained at 0.5–1×."""
    import shutil

    from h2s2r.cli.deploy import check_goal_speed
    from h2s2r.core.errors import H2S2RError

    ws = tmp_path / "ws"
    shutil.copytree(deploy_ws, ws)
    with pytest.raises(H2S2RError, match=r"--goal-speed 5 is outside .* \(0\.5 to 1× .*or 0 for"):
        run_deploy(ws, DeployConfig(sim=True, goal_speed=5.0), log=lambda *a: None)
    assert not (ws / "deploy_log").exists()
    check_goal_speed(0.0, [0.5, 1.0])  # 0: the middle of the range
    check_goal_speed(0.75, [0.5, 1.0])
    with pytest.raises(H2S2RError, match=r"--goal-speed 0\.3 is outside"):
        check_goal_speed(0.3, [0.5, 1.0])


def test_a_node_that_cannot_start_says_why_in_one_line(deploy_ws, ros_env, tmp_path, monkeypatch):
    """Probe round 10: in a shell without MENAGERIE_ROOT, `deploy --sim` said only "the
    policy node stopped: see deploy_log/policy.log" (a traceback there). The robot model
    is loaded before any node starts, and a node's own one-line error is relayed."""
    import shutil

    from h2s2r.cli.deploy import _last_words
    from h2s2r.core import robots
    from h2s2r.core.errors import H2S2RError
    from h2s2r.core.rosmsg import run_node

    ws = tmp_path / "ws"
    shutil.copytree(deploy_ws, ws)

    def no_menagerie(robot, physics=None):
        raise H2S2RError("cannot load MuJoCo Menagerie model kuka_iiwa_14 — set MENAGERIE_ROOT")

    monkeypatch.setattr(robots, "build_robot_spec", no_menagerie)
    with pytest.raises(H2S2RError, match="MENAGERIE_ROOT"):
        run_deploy(ws, DeployConfig(sim=True), log=lambda *a: None)
    assert not (ws / "deploy_log").exists()  # before any node started

    def factory():
        raise H2S2RError("/no/such/policy.onnx: missing — run `h2s2r export WS`")

    with pytest.raises(SystemExit) as e:
        run_node(factory, argv=[])
    assert e.value.code == 1
    out = tmp_path / "logs"
    out.mkdir()
    (out / "policy.log").write_text("[INFO] up\nerror: policy.onnx: missing — run export\n")
    (out / "command.log").write_text("Traceback (most recent call last):\n  x\nValueError: bad\n")
    assert _last_words(out, ["policy", "command"]) == (
        "policy said: policy.onnx: missing — run export; command said: ValueError: bad; "
    )
