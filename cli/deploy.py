"""``h2s2r deploy``: the deploy nodes as processes, where ROS 2's ``launch`` is missing.

Examples::

    h2s2r deploy runs/box --sim --duration 30        # closed loop with a simulated robot
    h2s2r deploy runs/box --robot-config configs/deploy/iiwa_allegro_ros2_control.yaml

Starts the nodes of :func:`h2s2r.deploy.graph.deploy_graph` (the table
``launch/deploy.launch.py`` reads too), each its own process with ``--ros-args``; then
configures the lifecycle ``command`` node and, with ``--sim`` or ``--activate``, activates
it once a joint state has arrived (on hardware, without ``--activate``, activate it
yourself: ``ros2 lifecycle set /command activate``). Stops after ``--duration`` seconds
(with ``--sim``: one episode of the demo) or on Ctrl-C, stopping every node cleanly, then
writes ``deploy_log/`` (metrics, timing, plot). ROS traffic stays on this machine unless
``--network`` is given; ``--domain-id`` sets ``ROS_DOMAIN_ID``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from h2s2r.core.config import check_options, option
from h2s2r.core.errors import H2S2RError
from h2s2r.core.robot_io import load_robot_io
from h2s2r.core.trust import verify_policy
from h2s2r.deploy.graph import (
    DeployOptions,
    check_domain_free,
    deploy_graph,
    domain_of_environment,
    ros_args,
)


@dataclass(frozen=True)
class DeployConfig:
    """Options of ``h2s2r deploy``."""

    sim: bool = False  # a simulated MuJoCo robot behind the same topics
    camera: bool = False  # the object pose from colour + depth (tracker in the loop)
    # seconds to run (0: one demo episode with --sim, else until Ctrl-C)
    duration: float = option(0.0, lo=0.0)
    robot_config: str = ""  # robot topics and drivers YAML (configs/deploy/; default: sim's)
    activate: bool = False  # activate the command node without asking (hardware)
    domain_id: int = option(-1, lo=-1, hi=232)  # ROS_DOMAIN_ID (-1: keep the environment's, else 0)
    network: bool = False  # allow ROS traffic beyond this machine (default: localhost only)
    # × demo speed (0: the middle of training's range)
    goal_speed: float = option(0.0, lo=0.0, hi=10.0)
    sim_seed: int = option(0, lo=0)  # the simulated robot's noise
    # the simulated object's start position noise (±, m)
    sim_start_noise_m: float = option(0.0, lo=0.0, hi=0.5)

    def __post_init__(self) -> None:
        check_options(self)


def node_command(node) -> list[str]:
    exe = shutil.which(node.executable) or str(Path(sys.executable).parent / node.executable)
    if not Path(exe).exists():
        raise H2S2RError(f"{node.executable} is not installed: run `make setup`")
    return [exe, *ros_args(node)]


JOINT_STATE_GRACE_S = 5.0  # without a joint state by then, say so while deploying
MAX_DOMAIN_ID = 232  # Fast DDS's ports (7400 + 250 × domain + offsets) end at 65535


def ros_environment(cfg: DeployConfig) -> dict[str, str]:
    """The nodes' environment: localhost-only discovery unless ``--network``, and the ROS
    domain from ``--domain-id`` or, checked like it, the environment's ``ROS_DOMAIN_ID``
    (Fast DDS ends the process without a word on a domain it has no ports for)."""
    env = dict(os.environ)
    if not cfg.network:
        env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    if cfg.domain_id >= 0:
        env["ROS_DOMAIN_ID"] = str(cfg.domain_id)
    elif env.get("ROS_DOMAIN_ID", "").strip():
        raw = env["ROS_DOMAIN_ID"]
        try:
            ok = 0 <= int(raw.strip()) <= MAX_DOMAIN_ID
        except ValueError:
            ok = False
        if not ok:
            raise H2S2RError(
                f"ROS_DOMAIN_ID={raw!r} in the environment: must be an integer from 0 to "
                f"{MAX_DOMAIN_ID} (the DDS ports end there) — set it to one in range, unset it "
                "(domain 0), or pass --domain-id N"
            )
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def domain_of(env: dict[str, str]) -> str:
    return domain_of_environment(env)


# Every node name an h2s2r deploy graph may have, and its supervisor's.
GRAPH_NODES = (
    *(n.name for n in deploy_graph(DeployOptions(workspace="", use_sim=True, use_camera=True))),
    "h2s2r_deploy",
)


def exclusive_topics(cfg: DeployConfig, robot_io) -> list[str]:
    """The topics this graph publishes and nothing else may: the policy's targets, the
    command node's outputs, events and state; with ``--sim`` the simulated robot's joint
    states and object pose; with ``--camera`` the pose node's."""
    t = robot_io.topics
    topics = [t.targets, t.command_active, t.events, *(o.topic for o in robot_io.outputs)]
    if cfg.sim:
        topics += [t.joint_states, t.object_pose]
    if cfg.camera:
        topics += [t.object_pose, t.object_pose_valid]
    return list(dict.fromkeys(topics))


def _use_ros_environment(env: dict[str, str]) -> None:
    for k in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_DOMAIN_ID"):  # this process's nodes too
        if k in env:
            os.environ[k] = env[k]


def refuse_a_running_graph(
    env: dict[str, str], topics: list[str], discovery_s: float = 2.0
) -> None:
    """Refuse to start when the ROS domain already holds an h2s2r graph (another
    ``h2s2r deploy`` or launch): nodes of its names, or publishers on the topics this
    graph publishes. Two graphs on one domain cross: each command node takes both
    policies' targets, each robot both command streams. Waits up to ``discovery_s`` for
    discovery."""
    import rclpy
    from rclpy.context import Context

    _use_ros_environment(env)
    context = Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("h2s2r_deploy_check", context=context)
        try:
            t_end = time.monotonic() + discovery_s
            while True:
                names = sorted(
                    f"{ns.rstrip('/')}/{n}"
                    for n, ns in node.get_node_names_and_namespaces()
                    if n in GRAPH_NODES
                )
                busy = {t: n for t in topics if (n := node.count_publishers(t))}
                if names or busy or time.monotonic() > t_end:
                    break
                time.sleep(0.1)
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    if names or busy:
        found = ", ".join(
            [f"node(s) {', '.join(names)}"] * bool(names)
            + [f"{n} publisher(s) on {t}" for t, n in busy.items()]
        )
        raise H2S2RError(
            f"ROS domain {domain_of(env)} already runs an h2s2r graph ({found}): a second one "
            "would cross with it (each command node taking both policies' targets) — stop "
            "the other deploy, or run this one on another domain: --domain-id N (or "
            "ROS_DOMAIN_ID=N), 0 to 232"
        )


def check_goal_speed(speed: float, trained: list[float]) -> None:
    """``--goal-speed`` must be one the policy trained at: the goal moving faster or slower
    than any episode it saw is an input it never learned to follow."""
    lo, hi = (float(v) for v in trained)
    if speed > 0 and not lo - 1e-9 <= speed <= hi + 1e-9:
        raise H2S2RError(
            f"--goal-speed {speed:g} is outside the speeds the policy trained at ({lo:g} to "
            f"{hi:g}× the demo's, policy/policy.json): pass one in that range, or 0 for "
            f"{0.5 * (lo + hi):g}; to deploy at {speed:g}×, retrain with task_config: "
            "goal_speed covering it"
        )


def check_command_rate(rate_hz: float, ctrl_dt_s: float, cfg: DeployConfig) -> None:
    """The command node must tick at least as often as the policy steps: slower, it
    drops the policy's targets and the robot moves in coarser steps than training's."""
    if rate_hz * ctrl_dt_s < 1.0 - 1e-9:
        where = cfg.robot_config or "the default robot config"
        raise H2S2RError(
            f"{where}: command rate_hz {rate_hz:g} is below the policy's "
            f"{1 / ctrl_dt_s:g} Hz (ctrl_dt_s {ctrl_dt_s:g} in policy/policy.json): the "
            "command node would skip the policy's targets — set rate_hz to the robot "
            f"driver's command rate, at least {1 / ctrl_dt_s:g} (usually 100-1000 Hz)"
        )


def run_deploy(ws: str | Path, cfg: DeployConfig, log=print):
    """Run the deployment; returns the ``DeployLog`` written into ``ws/deploy_log``."""
    from h2s2r.core.robots import build_robot_spec, get_robot
    from h2s2r.deploy.log import commands_sent, summarize

    ws = Path(ws).resolve()
    policy, task, notes = verify_policy(ws)  # refuse before anything moves
    build_robot_spec(get_robot(policy.header["robot"]))  # what every node loads (Menagerie)
    robot_io = load_robot_io(cfg.robot_config, task.robot)  # and before deploy_log/ goes
    check_goal_speed(cfg.goal_speed, policy.header["goal"]["goal_speed_range"])
    check_command_rate(robot_io.command.rate_hz, float(policy.header["ctrl_dt_s"]), cfg)
    env = ros_environment(cfg)
    for n in notes:
        log(f"note: {n}")
    check_domain_free(domain_of(env))  # this machine: deterministic
    refuse_a_running_graph(env, exclusive_topics(cfg, robot_io))  # the domain's graph
    duration = cfg.duration
    if duration <= 0 and cfg.sim:
        lo = policy.header["goal"]["goal_speed_range"][0]
        duration = (task.t[-1] - task.t[0]) / lo + 2.0
    out = ws / "deploy_log"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    options = DeployOptions(
        workspace=str(ws),
        use_sim=cfg.sim,
        use_camera=cfg.camera,
        robot_config=cfg.robot_config,
        log_dir=str(out),
        goal_speed=cfg.goal_speed,
        sim_seed=cfg.sim_seed,
        sim_start_noise_m=cfg.sim_start_noise_m,
        autostart=cfg.activate,
    )
    procs: dict[str, subprocess.Popen] = {}
    watch = _Watch(env, robot_io.topics)  # before the nodes: their first messages count
    t_start, why = time.monotonic(), ""
    # SIGTERM (kill, timeout, a supervisor) stops the nodes and writes the log as Ctrl-C does.
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        for node in deploy_graph(options):
            with open(out / f"{node.name}.log", "w") as f:
                procs[node.name] = subprocess.Popen(
                    node_command(node),
                    stdout=f,
                    stderr=subprocess.STDOUT,
                    env=env,
                    preexec_fn=_stop_with_parent,
                )
        if options.autostart or cfg.sim:
            _wait_active(procs, watch, out)
            log("command node active, policy stepping")
        else:
            log(
                "the command node waits to be configured and activated: "
                "ros2 lifecycle set /command configure; ros2 lifecycle set /command activate"
            )
        log(
            f"deploying {policy.header['robot']} "
            + (f"for {duration:.1f} s" if duration > 0 else "until Ctrl-C")
            + f"; logs in {out}"
        )
        t0 = time.monotonic()
        t_end = t0 + duration if duration > 0 else float("inf")
        warned = False
        while time.monotonic() < t_end:
            dead = [n for n, p in procs.items() if p.poll() is not None]
            if dead:
                raise H2S2RError(
                    f"node(s) {dead} stopped: {_last_words(out, dead)}see "
                    f"{', '.join(str(out / f'{n}.log') for n in dead)}"
                )
            if not warned and time.monotonic() - t0 > JOINT_STATE_GRACE_S:
                if not watch.joint_states:
                    log(f"warning: {watch.missing(cfg, time.monotonic() - t_start)}")
                warned = True
            watch.spin(0.1)
    except KeyboardInterrupt:
        log("stopping (Ctrl-C or SIGTERM)")
    finally:
        why = watch.missing(cfg, time.monotonic() - t_start)
        watch.close()
        _stop(procs)
        signal.signal(signal.SIGTERM, previous)
    if why and (sent := commands_sent(out)):  # the nodes' own logs are the evidence
        log(
            f"note: deploy's own listener missed the loop ({why.split(',')[0]}), but the "
            f"command node's log shows {sent} commands sent: the loop ran"
        )
        why = ""
    art = summarize(ws, out, config={"deploy": cfg.__dict__, "duration_s": duration}, failure=why)
    if why:  # deploy_log/ is written all the same: the node logs say more
        raise H2S2RError(f"{why} (deploy_log/ in {out})")
    m = art.metrics
    shown = [
        ("success", m.get("success"), "{:.0f}"),
        ("final object error", m.get("final_object_err_m", float("nan")) * 100, "{:.1f} cm"),
        ("policy period jitter p99", m["policy_period_jitter_p99_ms"], "{:.2f} ms"),
        ("command jitter p99", m["command_period_jitter_p99_ms"], "{:.2f} ms"),
        ("latency p99", m["latency_p99_ms"], "{:.2f} ms"),
        ("watchdog", m["watchdog_events"], "{:.0f}"),
        ("held", m.get("watchdog_hold_s", float("nan")), "{:.2f} s"),
        ("safety", m["safety_events"], "{:.0f}"),
    ]
    log(
        "deploy_log/: "
        + "; ".join(
            f"{k} {f.format(v) if v is not None and np.isfinite(v) else 'n/a'}" for k, v, f in shown
        )
    )
    return art


class _Watch:
    """What ``h2s2r deploy`` hears of its own graph (a node in this process): joint states
    from the robot, the command node's latched ``command_active``, the policy's targets."""

    def __init__(self, env: dict, topics):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Bool

        from h2s2r.core import rosmsg

        _use_ros_environment(env)
        self.topics = topics
        self.joint_states = self.targets = 0
        self.active = False  # the command node commanded at some point
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("h2s2r_deploy", context=self.context)
        self.node.create_subscription(
            JointState, topics.joint_states, self._on_joint_state, rosmsg.qos()
        )
        self.node.create_subscription(
            Bool, topics.command_active, self._on_active, rosmsg.qos_latched()
        )
        self.node.create_subscription(JointState, topics.targets, self._on_target, rosmsg.qos())
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _on_joint_state(self, msg) -> None:
        self.joint_states += 1

    def _on_active(self, msg) -> None:
        self.active |= bool(msg.data)

    def _on_target(self, msg) -> None:
        self.targets += 1

    def spin(self, seconds: float) -> None:
        self.executor.spin_once(timeout_sec=seconds)

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)  # Ctrl-C may have shut it already

    def missing(self, cfg: DeployConfig, seconds: float) -> str:
        """Why nothing was commanded ("" when the loop closed): no joint state from the
        robot, or a command node never activated."""
        t = self.topics
        if not self.joint_states:
            return (
                f"no joint state arrived on {t.joint_states} in {seconds:.0f} s, so nothing "
                "was commanded: start the robot's drivers (the topics of "
                f"{cfg.robot_config or 'the default robot config'}), check that they run on "
                "this ROS domain (ROS_DOMAIN_ID, --network for another machine), or pass "
                "--sim for the simulated robot"
            )
        if not self.active:
            return (
                f"the command node was never activated in {seconds:.0f} s ({self.joint_states} "
                f"joint states arrived on {t.joint_states}), so nothing was commanded: "
                "activate it while deploy runs (ros2 lifecycle set /command configure; "
                "ros2 lifecycle set /command activate) or pass --activate"
            )
        return ""


def _wait_active(procs, watch: _Watch, out: Path, timeout_s: float = 60.0) -> None:
    """Wait until the loop is closed: the command node says it commands (its latched
    ``command_active``) and the policy node has sent a target (the duration counts from
    here, not from the nodes' start-up)."""
    t_end = time.monotonic() + timeout_s
    while not (watch.active and watch.targets):
        for name in ("command", "policy", "object_pose"):
            if name in procs and procs[name].poll() is not None:
                raise H2S2RError(
                    f"the {name} node stopped: {_last_words(out, [name])}see {out}/{name}.log"
                )
        if time.monotonic() > t_end:
            raise H2S2RError(
                f"the loop is not closed after {timeout_s:.0f} s (joint states: "
                f"{watch.joint_states}, command node active: {watch.active}, targets from "
                f"the policy: {watch.targets}): {_last_words(out)}see {out}/*.log"
            )
        watch.spin(0.1)


def _last_words(out: Path, names=("object_pose", "policy", "command", "sim_robot")) -> str:
    """The newest warning or error each node logged (the object pose node says why it
    publishes no pose, the policy node what it waits for, a node that could not start
    its one-line ``error:``; else a traceback's last line), as "name said: message; "."""
    said = []
    for name in names:
        try:
            lines = (out / f"{name}.log").read_text(errors="replace").splitlines()
        except OSError:
            continue
        last = next(
            (
                ln
                for ln in reversed(lines)
                if ln.startswith("error: ") or "[WARN]" in ln or "[ERROR]" in ln
            ),
            "",
        )
        if not last and any(ln.startswith("Traceback") for ln in lines):
            last = next((ln for ln in reversed(lines) if ln.strip()), "")
        if last:
            said.append(
                f"{name} said: {last.split(']: ', 1)[-1].removeprefix('error: ').strip()[:300]}"
            )
    return "".join(f"{w}; " for w in said)


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _stop_with_parent() -> None:
    """In a node's process before it starts (Linux): SIGINT when ``h2s2r deploy`` dies, even
    by SIGKILL, so that no node goes on commanding a robot without its supervisor."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGINT))


def _stop(procs: dict[str, subprocess.Popen], timeout_s: float = 10.0) -> None:
    """SIGINT every node (they write their logs), then wait; kill what hangs."""
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    t_end = time.monotonic() + timeout_s
    for p in procs.values():
        try:
            p.wait(timeout=max(t_end - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


__all__ = ["DeployConfig", "run_deploy"]
