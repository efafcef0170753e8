"""The deploy cores without ROS: the policy core computes what the simulator's task does,
the command core enforces limits, refusals, the watchdog and the e-stop."""

from __future__ import annotations

import numpy as np
import pytest

from h2s2r.core.robots import get_robot
from h2s2r.core.table import Table
from h2s2r.core.trust import verify_policy
from h2s2r.deploy.command_core import CommandConfig, CommandCore
from h2s2r.deploy.policy_core import PolicyCore
from h2s2r.policy.config import saved_train_config
from h2s2r.policy.evaluate import onnx_policy
from h2s2r.sim.tasks import make_env

NAMES = list(get_robot("iiwa_allegro").joint_names)


@pytest.fixture(scope="module")
def exported_ws(trained_ws, tmp_path_factory):
    import shutil

    from h2s2r.policy.export import run_export

    ws = tmp_path_factory.mktemp("deploy") / "ws"
    shutil.copytree(trained_ws, ws)
    shutil.rmtree(ws / "policy", ignore_errors=True)
    run_export(ws, make_env, log=lambda *a: None)
    return ws


def test_policy_core_is_the_simulators_task(exported_ws):
    """Stepping the simulator's task (no randomization) with the core's actions, the core,
    fed the world's measured joints and object pose, builds the task's observation, moves
    its goal the same way and makes the controller's targets.

    One difference is measured, not hidden: the task reads the palm and fingertips from
    MuJoCo sensors, which ``mj_step`` computes before its last integration, so they lag
    the joints by one physics step (8.3 ms; up to 8 mm of fingertip here); the core's forward
    kinematics uses the joints it is given."""
    from h2s2r.core.observation import layout_slices

    cfg = saved_train_config(exported_ws)
    env = make_env(cfg.env_request(exported_ws, randomization="none", num_envs=1))
    policy, task, _ = verify_policy(exported_ws)
    core = PolicyCore(policy, task, goal_speed=float(env.goal_speed[0]))
    at = layout_slices(core.layout)
    hand = np.r_[at["fingertips_minus_object"], at["palm_minus_object"]]
    rest = np.setdiff1d(np.arange(obs_size := at["progress"].stop), hand)
    act = onnx_policy(exported_ws)
    obs = env.observe()
    lag = []
    for step in range(40):
        q, qd = env.robot_q()[0], env.sim.qvel()[0, env.info.dof_adr]
        pos, quat = env.object_pose()
        out = core.step(q, qd, pos[0], quat[0])
        assert out.observation.shape == (obs_size,)
        np.testing.assert_allclose(out.observation[rest], obs["policy"][0, rest], atol=2e-6)
        lag.append(np.abs(out.observation[hand] - obs["policy"][0, hand]).max())
        assert out.goal_time_s == pytest.approx(env.goal_time[0], abs=1e-12)
        a = act({"policy": out.observation[None]}, step)
        np.testing.assert_allclose(out.action, np.clip(a[0], -1, 1), atol=1e-6)
        want = env.controller(env.robot_q(), out.action[None], env.q_hand_ref)[0]
        np.testing.assert_allclose(out.target, want, atol=1e-9)
        obs = env.step(out.action[None])[0]
    assert lag[0] < 1e-6 and max(lag) < 1e-2, max(lag)  # measured: up to 8 mm
    env.close()


def test_policy_core_resumes_the_goal_where_the_object_is(exported_ws):
    policy, task, _ = verify_policy(exported_ws)
    core = PolicyCore(policy, task)
    q = np.asarray(task.pre_manip_qpos)
    k = len(task.t) * 2 // 3
    out = core.step(q, np.zeros_like(q), task.object_pos_base[k], task.object_quat_wxyz_base[k])
    assert out.goal_time_s == pytest.approx(task.t[k] - task.t[0])


def command_core(**kw) -> CommandCore:
    core = CommandCore(get_robot("iiwa_allegro"), Table(0.0), CommandConfig(**kw), 1 / 15)
    home = np.asarray(core.robot.home_qpos)
    core.on_joint_state(0.0, NAMES, home)
    core.on_object_pose(0.0, np.zeros(3), np.array([1.0, 0, 0, 0]))
    return core


def run(core: CommandCore, t0: float, t1: float, fresh: bool = True) -> list[np.ndarray]:
    out = []
    for t in np.arange(t0, t1, core.dt):
        if fresh:
            core.on_joint_state(t, NAMES, core.command if core.command is not None else core.q_meas)
            core.on_object_pose(t, np.zeros(3), np.array([1.0, 0, 0, 0]))
        c = core.tick(t)
        if c is not None:
            out.append(c)
    return out


def test_nothing_is_commanded_before_activation_and_after_estop():
    core = command_core()
    assert core.tick(0.0) is None
    assert core.activate(0.0)
    np.testing.assert_array_equal(core.tick(0.005), core.robot.home_qpos)  # no jump
    core.estop(0.01)
    assert core.tick(0.015) is None and core.events[-1].kind == "estop"


def test_ramp_reaches_the_target_in_one_period_within_limits():
    core = command_core()
    core.activate(0.0)
    target = np.asarray(core.robot.home_qpos) + 0.02  # a small step on every joint
    assert core.on_target(0.0, NAMES, target)
    cmds = np.array(run(core, 0.0, 0.2))
    np.testing.assert_allclose(cmds[-1], target, atol=1e-9)
    v = np.diff(cmds, axis=0) / core.dt
    assert np.all(np.abs(v) <= core.v_max + 1e-9)
    assert np.all(np.abs(np.diff(v, axis=0)) <= core.a_max * core.dt + 1e-9)


def test_velocity_limit_binds_on_a_large_step():
    core = command_core(velocity_scale=0.5)
    core.activate(0.0)
    target = np.asarray(core.robot.home_qpos).copy()
    target[0] += 0.5  # far more than one period allows at half speed
    core.on_target(0.0, NAMES, target)
    cmds = np.array(run(core, 0.0, 0.5))
    v = np.abs(np.diff(cmds[:, 0])) / core.dt
    assert v.max() == pytest.approx(core.v_max[0])


@pytest.mark.parametrize(
    ("names", "values", "reason"),
    [
        (NAMES, [np.nan] + [0.0] * 22, "NaN"),
        (NAMES[:-1], [0.0] * 22, "missing"),
        ([*NAMES[:-1], "hand/xx"], [0.0] * 23, "unknown joints ['hand/xx']"),
        (NAMES, [0.0] * 22, "23 names but 22 values"),
    ],
)
def test_bad_messages_are_rejected_with_the_reason(names, values, reason):
    core = command_core()
    assert not core.on_target(0.0, names, values)
    assert not core.on_joint_state(0.0, names, values)
    assert core.events[-1].kind == "rejected" and reason in core.events[-1].detail


def test_targets_beyond_limits_are_clamped():
    core = command_core()
    q = np.asarray(core.robot.home_qpos).copy()
    q[2] = 10.0
    assert core.on_target(0.0, NAMES, q)
    assert core.target[2] == core.hi[2] and core.events[-1].kind == "clamped"


def test_targets_below_the_table_or_outside_the_workspace_are_refused():
    core = command_core()
    core.activate(0.0)
    home = np.asarray(core.robot.home_qpos)
    assert core.on_target(0.0, NAMES, home)
    low = home.copy()
    low[1], low[3] = 1.5, -0.6  # shoulder forward, elbow open: the hand into the table
    assert core.unsafe(low).endswith("below the table top")
    assert not core.on_target(0.1, NAMES, low)
    assert core.events[-1].kind == "refused"
    np.testing.assert_array_equal(core.target, home)  # the last accepted target stays
    tight = command_core(workspace_max=(0.3, 0.9, 1.5))
    assert "workspace box" in tight.unsafe(home)


def test_watchdog_holds_then_resumes_without_a_jump():
    core = command_core()
    core.activate(0.0)
    target = np.asarray(core.robot.home_qpos) + 0.05
    core.on_target(0.0, NAMES, target)
    run(core, 0.0, 0.03)
    last_fresh = core.t_pose
    # The inputs stop: the command holds still once they are older than the watchdog.
    cmds = np.array(run(core, 0.03, 0.5, fresh=False))
    dog = [e for e in core.events if e.kind == "watchdog"]
    assert len(dog) == 1 and "object pose" in dog[0].detail
    assert last_fresh + core.cfg.watchdog_s < dog[0].t <= last_fresh + core.cfg.watchdog_s + core.dt
    held = cmds[np.arange(0.03, 0.5, core.dt) >= dog[0].t - 1e-9]
    assert len(held) > 10 and np.all(held == held[0])
    # Fresh inputs: the ramp continues from the held command, at bounded speed.
    more = np.array(run(core, 0.5, 0.8))
    assert core.events[-1].kind == "resumed"
    steps = np.abs(np.diff(np.vstack([held[-1], more]), axis=0))
    assert np.all(steps <= core.v_max * core.dt + 1e-9)
    np.testing.assert_allclose(more[-1], target, atol=1e-9)

    # deploy_log/ adds up the time held: from the watchdog to the resume.
    from h2s2r.deploy.log import watchdog_hold_s

    events = [{"t": e.t, "kind": e.kind} for e in core.events]
    resumed = next(e.t for e in core.events if e.kind == "resumed")
    assert watchdog_hold_s(events, 0.8) == pytest.approx(resumed - dog[0].t)
    # A hold still on when the node stops counts to its last command.
    assert watchdog_hold_s(events[:-1], 0.8) == pytest.approx(0.8 - dog[0].t)


def test_a_hold_ended_by_an_estop_is_counted_and_the_next_hold_is_logged_anew():
    """A hold ends with the commanding (e-stop); after re-activation, stale inputs hold
    again with a ``watchdog`` event of their own, and both holds are added up."""
    from h2s2r.deploy.log import watchdog_hold_s

    core = command_core()
    core.activate(0.0)
    run(core, 0.0, 0.03)
    run(core, 0.03, 0.4, fresh=False)  # stale from about 0.23 s
    core.estop(0.4)
    run(core, 0.4, 0.5)  # fresh again, not commanding: nothing resumes
    assert core.activate(0.5)
    run(core, 0.5, 0.6)
    run(core, 0.6, 1.0, fresh=False)
    kinds = [e.kind for e in core.events]
    assert kinds.count("watchdog") == 2 and "resumed" not in kinds, kinds
    dogs = [e.t for e in core.events if e.kind == "watchdog"]
    events = [{"t": e.t, "kind": e.kind} for e in core.events]
    assert watchdog_hold_s(events, 1.0) == pytest.approx((0.4 - dogs[0]) + (1.0 - dogs[1]))


# --- the robot config's command limits and robot (core/robot_io.py) ------------------
SHIPPED = "iiwa_allegro_ros2_control.yaml"


def _robot_yaml(tmp_path, old: str, new: str):
    from h2s2r.core.robot_io import DEPLOY_CONFIGS

    text = (DEPLOY_CONFIGS / SHIPPED).read_text()
    assert old in text, old
    f = tmp_path / "my_robot.yaml"
    f.write_text(text.replace(old, new))
    return f


def test_robot_config_shipped_loads():
    from h2s2r.core.robot_io import DEPLOY_CONFIGS, load_robot_io

    io = load_robot_io(DEPLOY_CONFIGS / SHIPPED, "iiwa_allegro")
    assert io.command.velocity_scale == 0.5 and io.command.rate_hz == 200.0


@pytest.mark.parametrize(
    "old, new, says",
    [
        # percent meant: the range, what 0.5 means and the value divided by 100
        ("velocity_scale: 0.5", "velocity_scale: 50", ["velocity_scale: 50 ", "0 < scale <= 1",
                                                       "0.5 = half", "divide by 100: 0.5"]),
        ("velocity_scale: 0.5", "velocity_scale: 0", ["velocity_scale: 0 ", "0 < scale <= 1"]),
        ("velocity_scale: 0.5", "velocity_scale: 1.5", ["velocity_scale: 1.5 ", "<= 1"]),
        ("velocity_scale: 0.5", "velocity_scale: 0.5\n  acceleration_scale: 80",
         ["acceleration_scale: 80 ", "0 < scale <= 1", "divide by 100: 0.8"]),
        ("watchdog_s: 0.2", "watchdog_s: 200", ["watchdog_s: 200 ", "divide by 1000: 0.2"]),
        ("rate_hz: 200.0", "rate_hz: 0.005", ["rate_hz: 0.005 ", "1/period: 200"]),
        ("rate_hz: 200.0", "rate_hz: 1.0e6", ["rate_hz: 1e+06 ", "<= 10000"]),
        ("velocity_scale: 0.5", "velocity_scale: 0.5\n  table_margin_m: 1",
         ["table_margin_m: 1 ", "divide by 100: 0.01"]),
        ("velocity_scale: 0.5", "velocity_scale: 0.5\n  workspace_max: [1300, 900, 1500]",
         ["workspace_max: [1300.0, 900.0, 1500.0]", "millimetres? divide by 1000"]),
        ("velocity_scale: 0.5", "velocity_scale: 0.5\n  workspace_min: [1.0, 0.0, 0.0]\n"
         "  workspace_max: [0.5, 1.0, 1.0]", ["workspace_min [1.0, 0.0, 0.0] must be below"]),
    ],
)  # fmt: skip
def test_robot_config_command_limits_in_range(tmp_path, old, new, says):
    """A command limit outside its range (a unit slip: percent, ms, cm, mm) is refused in
    one line naming the file, ``command:`` and the key, the value and the range."""
    from h2s2r.core.errors import H2S2RError
    from h2s2r.core.robot_io import load_robot_io

    f = _robot_yaml(tmp_path, old, new)
    with pytest.raises(H2S2RError) as e:
        load_robot_io(f, "iiwa_allegro")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{f}: command: "), msg
    for s in says:
        assert s in msg, (s, msg)


@pytest.mark.parametrize(
    "old,new,says",
    [
        (  # probe round 9: the policy node died with "see deploy_log/policy.log"
            "object_pose: /h2s2r/object_pose",
            "object_pose: /joint_states",
            "topics.joint_states and topics.object_pose are both '/joint_states'",
        ),
        (
            "topic: /allegro_hand/joint_trajectory",
            "topic: /joint_states",
            "topics.joint_states and outputs[1].topic are both '/joint_states'",
        ),
        (
            "object_pose: /h2s2r/object_pose",
            "object_pose: /h2s2r/object pose",
            "topics.object_pose '/h2s2r/object pose' is not a ROS topic name",
        ),
    ],
)
def test_robot_config_topics_one_role_each(tmp_path, old, new, says):
    """Two roles on one topic (or a name ROS refuses) are refused when the config is
    read, in one line naming the file and both roles."""
    from h2s2r.core.errors import H2S2RError
    from h2s2r.core.robot_io import load_robot_io

    f = _robot_yaml(tmp_path, old, new)
    with pytest.raises(H2S2RError) as e:
        load_robot_io(f, "iiwa_allegro")
    assert str(e.value).startswith(f"{f}: {says}"), str(e.value)


def test_robot_config_command_limits_edges():
    """The ranges' edges: a scale of exactly 1 (the registry's limits), a negative table
    margin (stay above the table) are fine."""
    cfg = CommandConfig(velocity_scale=1.0, acceleration_scale=1.0, table_margin_m=-0.02)
    assert cfg.velocity_scale == 1.0
    for kw in ({"velocity_scale": float("nan")}, {"watchdog_s": float("inf")}):
        with pytest.raises(ValueError, match="must be a number"):
            CommandConfig(**kw)


def test_robot_config_of_another_robot_says_what_to_use(tmp_path):
    """A config for another robot names both robots, the shipped config(s) for the
    policy's robot and the other way on (retarget and train for the config's robot)."""
    from h2s2r.core.errors import H2S2RError
    from h2s2r.core.robot_io import DEPLOY_CONFIGS, load_robot_io, shipped_configs

    assert [p.name for p in shipped_configs("iiwa_allegro")] == [SHIPPED]
    assert shipped_configs("iiwa_leap") == []
    f = _robot_yaml(tmp_path, "robot: iiwa_allegro", "robot: iiwa_leap")
    with pytest.raises(H2S2RError) as e:
        load_robot_io(f, "iiwa_allegro")
    msg = str(e.value)
    assert msg.startswith(f"{f}: is for 'iiwa_leap', but the policy drives 'iiwa_allegro'")
    assert f"use a config for iiwa_allegro (configs/deploy/{SHIPPED}" in msg, msg
    assert "retarget DIR --robot iiwa_leap, then h2s2r train DIR" in msg, msg
    # No shipped config for the policy's robot: the message says what such a config holds.
    with pytest.raises(H2S2RError) as e:
        load_robot_io(DEPLOY_CONFIGS / SHIPPED, "iiwa_leap")
    assert "use a config for iiwa_leap (robot: iiwa_leap" in str(e.value), str(e.value)
