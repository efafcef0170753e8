"""RL in three layers (STYLE 12): reward kernels by hand, a smoke test of the task, a toy
problem PPO must solve; plus export to ONNX against torch."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from rsl_rl.env import VecEnv
from rsl_rl.runners import OnPolicyRunner
from tensordict import TensorDict

from h2s2r.core.geometry import T_from_pos_quat, T_inv
from h2s2r.core.goal import NEXT_GOAL_S, keypoint_distance
from h2s2r.core.robots import get_robot
from h2s2r.policy.baselines import object_aware_targets, replay_targets
from h2s2r.policy.config import TrainConfig, ppo_config
from h2s2r.policy.rollout import run_episodes
from h2s2r.sim.tasks import make_env
from h2s2r.sim.tasks.track_demo import (
    DR_PRESETS,
    TrackDemoEnv,
    action_rate,
    keypoint_precision,
    keypoint_tracking,
    latin_hypercube,
    make_task_cfg,
)
from tests.conftest import straight_push_task


# ----------------------------------------------------------------------------- kernels
def test_keypoint_tracking_by_hand():
    kp = np.array([[0.1, 0, 0], [0, 0.06, 0], [0, 0, 0.03]])
    pos = np.zeros((2, 3))
    quat = np.tile([1.0, 0, 0, 0], (2, 1))
    goal = np.array([[0.05, 0, 0], [0.3, 0, 0]])
    d = keypoint_distance(pos, quat, goal, quat, kp)
    np.testing.assert_allclose(d, [0.05, 0.3])  # a translation moves every keypoint
    tips = np.array([0.1, 0.1])
    r = keypoint_tracking(d, tips, gate_m=0.3, pause_m=0.2)
    np.testing.assert_allclose(r, [np.exp(-0.5), 0.1 * np.exp(-3.0)])  # × 0.1 beyond 0.2 m
    r = keypoint_tracking(d, np.array([0.3, 0.1]), gate_m=0.3, pause_m=0.2)
    assert r[0] == 0.0  # fingertips 0.3 m away: no tracking reward
    # The fine kernel: exp(-d / 1 cm), same gate and pause.
    r = keypoint_precision(np.array([0.01, 0.03, 0.3]), np.array([0.1, 0.1, 0.1]), 0.3, 0.2)
    np.testing.assert_allclose(r, [np.exp(-1.0), np.exp(-3.0), 0.1 * np.exp(-30.0)])
    assert keypoint_precision(np.array([0.0]), np.array([0.35]), 0.3, 0.2)[0] == 0.0
    # A 90° turn about z moves the x keypoint by 0.1·√2 and the y one by 0.06·√2.
    qz = np.array([[np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]])
    d = keypoint_distance(pos[:1], quat[:1], pos[:1], qz, kp)
    np.testing.assert_allclose(d, [(0.1 + 0.06) * np.sqrt(2) / 3])
    np.testing.assert_allclose(action_rate(np.ones((1, 3)), np.zeros((1, 3))), [3.0])


# ----------------------------------------------------------------------------- smoke
@pytest.mark.parametrize("preset", sorted(DR_PRESETS))
@pytest.mark.parametrize("mode", ["palm_synergy", "joint_delta"])
def test_task_builds_resets_and_steps(preset, mode):
    task, mesh = straight_push_task()
    env = TrackDemoEnv(task, mesh, make_task_cfg(preset, mode), num_envs=6, nthread=2, seed=0)
    obs = env.observe()
    assert obs["policy"].shape == (6, env.observe()["policy"].shape[1])
    assert obs["critic"].shape[1] > obs["policy"].shape[1]
    assert env.action_dim == (11 if mode == "palm_synergy" else 23)
    rng = np.random.default_rng(0)
    for _ in range(5):
        obs, reward, term, trunc, info = env.step(rng.uniform(-1, 1, (6, env.action_dim)))
        assert reward.shape == (6,) and term.shape == (6,) and trunc.shape == (6,)
        assert np.isfinite(obs["policy"]).all() and np.isfinite(obs["critic"]).all()
        assert np.isfinite(reward).all()
        assert set(info["reward_terms"]) == {
            "keypoint_tracking",
            "keypoint_precision",
            "action_rate",
            "fingertip_reach",
        }
    env.reset(np.array([0, 3]))
    assert (env.steps[[0, 3]] == 0).all()
    env.close()


def _assert_hand_points_are_the_sites(env, world: int) -> None:
    """The task's palm and fingertip positions of ``world`` equal MuJoCo's sites at its
    current state (``mj_forward`` on the world's own model)."""
    import mujoco

    m = env.sim.models[world] if env.sim.models is not None else env.sim.model
    d = mujoco.MjData(m)
    mujoco.mj_setState(m, d, env.sim.state[world], mujoco.mjtState.mjSTATE_FULLPHYSICS)
    mujoco.mj_forward(m, d)
    tips, palm = env._hand_points()
    np.testing.assert_allclose(palm[world], d.site_xpos[env.info.palm_site], atol=1e-9)
    for k, f in enumerate(env.robot.fingertips):
        np.testing.assert_allclose(tips[world, k], d.site_xpos[env.info.fingertip_sites[f]])


@pytest.mark.parametrize("robot", ["iiwa_allegro", "iiwa_leap"])
def test_hand_points_and_contact_forces(robot):
    """Palm and fingertip positions are the sites' (the LEAP MJCF has sensors of its own
    before ours); touch forces are zero in free space and grow when the hand presses down."""
    task, mesh = straight_push_task(robot)
    env = TrackDemoEnv(task, mesh, make_task_cfg("none"), num_envs=2, nthread=1)
    _assert_hand_points_are_the_sites(env, 0)
    assert np.all(env.contact_forces() == 0.0)
    down = np.zeros((2, env.action_dim))
    down[:, 2] = -1.0  # palm down (≤ 2 cm per policy step), fingertips onto the table
    for _ in range(45):
        env.step(down)
    assert env.contact_forces().max() > 0.5
    env.close()


def test_reset_worlds_observe_their_new_hand_not_the_last_episodes():
    """After a reset, fingertip and palm observations come from the new start state (they
    were the previous episode's last sensor readings), so the same start poses replay the
    same episodes."""
    task, mesh = straight_push_task()
    env = TrackDemoEnv(task, mesh, make_task_cfg("medium"), num_envs=4, nthread=2, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(8):
        env.step(rng.uniform(-1, 1, (4, env.action_dim)))
    env.reset(np.array([1]))
    _assert_hand_points_are_the_sites(env, 1)

    def episode():
        env.seed(3)
        env.reset(np.arange(4))
        out = [env.observe()["policy"]]
        act = np.random.default_rng(4)
        for _ in range(6):
            out.append(env.step(act.uniform(-1, 1, (4, env.action_dim)))[0]["policy"])
        return np.stack(out)

    np.testing.assert_array_equal(episode(), episode())
    env.close()


def test_noisy_starts_never_put_the_hand_inside_the_object():
    """Start-pose noise (±3 cm, ±10° under `large`) next to a fingertip puts the tip inside
    the box in many raw draws; reset redraws those, so no world starts penetrating."""
    task, mesh = straight_push_task()
    env = TrackDemoEnv(task, mesh, make_task_cfg("large"), num_envs=64, nthread=1)
    tip = env._hand_points()[0][0, 1]  # a fingertip, at the start posture
    # Slide the box (0.12 m deep in y) toward the tip until it just clears it, then put
    # the demo's start 2 mm further out: clear without noise, close enough for noise.
    rng = np.random.default_rng(0)
    start = env._start_qpos(rng, 1, noise=False)
    for dy in np.arange(0.0, 0.2, 0.002):
        start[0, env.obj_qpos : env.obj_qpos + 3] = tip - [0, 0.06 + dy, 0]
        if not env._penetrating(start)[0]:
            break
    env.demo_pos = env.demo_pos.copy()
    env.demo_pos[0] = tip - [0, 0.06 + dy + 0.002, 0]
    assert not env._penetrating(env._start_qpos(rng, 1, noise=False))[0]
    raw = env._penetrating(env._start_qpos(rng, 200))
    assert raw.mean() > 0.2, raw.mean()  # the case the redraw is for
    env.start_bank = env._start_bank(rng)  # the bank resets draw from, for this start
    assert not env._penetrating(env.start_bank).any()
    env.reset(np.arange(64))
    assert not env._penetrating(env.sim.qpos().copy()).any()
    env.close()


def test_action_latency_is_per_world():
    """A world with latency k applies the action sent k policy steps earlier (zero before)."""
    task, mesh = straight_push_task()
    env = TrackDemoEnv(task, mesh, make_task_cfg("large"), num_envs=3, nthread=1, seed=0)
    env.dr = replace(env.dr, action_noise=0.0)
    env.latency[:] = [0, 1, 2]
    applied = []

    class Recording:  # the controller, remembering the actions it is given
        def __getattr__(self, name):
            return getattr(controller, name)

        def __call__(self, q, a, ref):
            applied.append(a.copy())
            return controller(q, a, ref)

    controller, env.controller = env.controller, Recording()
    for k in range(1, 4):
        env.step(np.full((3, env.action_dim), 0.1 * k))
    got = np.array([a[:, 0] for a in applied])  # (step, world)
    np.testing.assert_allclose(got[:, 0], [0.1, 0.2, 0.3])  # no latency
    np.testing.assert_allclose(got[:, 1], [0.0, 0.1, 0.2])  # one step late
    np.testing.assert_allclose(got[:, 2], [0.0, 0.0, 0.1])  # two steps late
    env.reset(np.arange(3))
    assert set(env.latency) <= {0, 1, 2} and not env.pending.any()
    env.close()


def test_latin_hypercube_fills_every_stratum():
    x = latin_hypercube(np.random.default_rng(3), [(0.6, 1.4), (0.6, 1.5)], 16)
    assert x.shape == (16, 2)
    for col, (lo, hi) in zip(x.T, [(0.6, 1.4), (0.6, 1.5)], strict=True):
        strata = np.floor((col - lo) / (hi - lo) * 16).astype(int)
        assert sorted(strata) == list(range(16))


def test_physics_variants_span_the_preset_and_follow_the_physics_seed():
    """Variants reach both ends of each ``medium`` range, are applied to the models, and
    differ between physics seeds (eval must meet parameters training never saw)."""
    task, mesh = straight_push_task()
    cfg = make_task_cfg("medium", model_variants=4)
    a = TrackDemoEnv(task, mesh, cfg, num_envs=2, nthread=1, seed=0)
    b = TrackDemoEnv(task, mesh, cfg, num_envs=2, nthread=1, seed=0, physics_seed=7)
    c = TrackDemoEnv(task, mesh, cfg, num_envs=2, nthread=1, seed=5, physics_seed=0)
    dr = DR_PRESETS["medium"]
    ranges = [dr.friction, dr.object_mass_scale, dr.gain_scale]
    for col, (lo, hi) in zip(a.variant_params.T, ranges, strict=True):
        assert lo <= col.min() < lo + (hi - lo) / 4 and hi - (hi - lo) / 4 <= col.max() <= hi
    np.testing.assert_array_equal(a.variant_params, c.variant_params)  # physics seed alone
    assert not np.allclose(a.variant_params, b.variant_params)
    base_mass = a.sim.model.body_mass[a.obj_body]
    masses = [m.body_mass[a.obj_body] / base_mass for m in a.variants]
    np.testing.assert_allclose(masses, a.variant_params[:, 1])
    # What MuJoCo derives from the masses follows them (stale, a rescaled object made 2 in
    # 3 worlds diverge at first contact).
    dof = a.obj_qvel
    for m, (_, ms, _) in zip(a.variants, a.variant_params, strict=True):
        np.testing.assert_allclose(m.body_subtreemass[a.obj_body], ms * base_mass, rtol=1e-6)
        np.testing.assert_allclose(m.dof_M0[dof : dof + 3], ms * base_mass, rtol=1e-6)
    for env in (a, b, c):
        env.close()


def test_object_aware_replay_is_the_replay_moved_with_the_object():
    """With the object at the demo's start the object-aware replay sends the replay's own
    joint targets; with the object moved and turned, its palm poses are the demo's moved
    and turned the same way (solved kinematically, within 1 mm and 0.5°)."""
    from h2s2r.core.control import palm_pose

    task, mesh = straight_push_task()
    sweep = np.linspace(0.0, 0.3, len(task.t))[:, None] * np.r_[1.0, -1.0, 1.0, 0, 0, 0, 0]
    task.replay_qpos[:, :7] += sweep  # the arm moves along the replay
    env = TrackDemoEnv(task, mesh, make_task_cfg("none"), num_envs=3, nthread=1, seed=0)
    replay, aware = replay_targets(env, task), object_aware_targets(env, task)
    for step in range(4):
        np.testing.assert_allclose(aware(step), replay(step), atol=1e-9)
        env.step_targets(aware(step))  # the arm lags its targets: not what is sent

    moved = env.sim.qpos().copy()  # object 3 cm along x, 2 cm along y, turned 10° about z
    yaw = np.radians(10.0)
    moved[:, env.obj_qpos : env.obj_qpos + 2] += [0.03, 0.02]
    moved[:, env.obj_qpos + 3 : env.obj_qpos + 7] = [np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]
    env.sim.reset(np.arange(3), qpos=moved)
    aware = object_aware_targets(env, task)
    pos, quat = env.object_pose()
    adj = T_from_pos_quat(pos[0], quat[0]) @ T_inv(
        T_from_pos_quat(task.object_pos_base[0], task.object_quat_wxyz_base[0])
    )
    for step in range(0, 30, 7):
        got = palm_pose(env.controller, aware(step))
        want = adj @ palm_pose(env.controller, replay(step)[:1])[0]
        np.testing.assert_allclose(got[:, :3, 3], np.broadcast_to(want[:3, 3], (3, 3)), atol=1e-3)
        cos = (np.trace(want[:3, :3].T @ got[:, :3, :3], axis1=1, axis2=2) - 1) / 2
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 0.5
    env.close()


def test_episodes_report_diverged_physics():
    """A world whose physics blows up ends as diverged and failed, not silently failed."""
    task, mesh = straight_push_task()
    env = TrackDemoEnv(task, mesh, make_task_cfg("none"), num_envs=3, nthread=1, seed=0)
    real_step = env.step_targets

    def blow_up_world_1(target, action=None):
        if env.steps[1] == 0:  # the first step's physics "diverges" in world 1
            env.sim.state[1, 1] = np.nan  # a joint position
        return real_step(target, action)

    env.step_targets = blow_up_world_1
    ep = run_episodes(env, None, replay_targets(env, task))
    assert ep.diverged.tolist() == [False, True, False]
    assert not ep.success[1]
    env.close()


@pytest.mark.parametrize("observe", [True, False])
def test_a_diverged_world_is_terminated_with_finite_outputs_and_reset_once(observe):
    """Observed: the diverged world is reset inside ``step``. With ``observe=False`` (the
    trainer's path) it is left for the caller's reset of the finished worlds, so a step
    costs one reset, not two; either way no NaN reaches the reward, its terms or the
    logged distance."""
    task, mesh = straight_push_task()
    cfg = make_task_cfg("none", far_hand_m=1.0)  # its palm starts 0.44 m from the box
    env = TrackDemoEnv(task, mesh, cfg, num_envs=3, nthread=1, seed=0)
    resets = []
    real_reset = env.sim.reset
    env.sim.reset = lambda mask, q: (
        resets.append(np.flatnonzero(mask).tolist()),
        real_reset(mask, q),
    )
    env.sim.state[1, 1] = np.nan  # world 1's physics has diverged
    obs, reward, terminated, truncated, info = env.step(np.zeros((3, env.action_dim)), observe)
    assert terminated.tolist() == [False, True, False] and info["unstable"].tolist()[1]
    assert reward[1] == 0.0 and np.isfinite(reward).all()
    assert all(np.isfinite(v).all() and v[1] == 0.0 for v in info["reward_terms"].values())
    assert np.isfinite(info["keypoint_distance"]).all()
    if observe:
        assert resets == [[1]] and env.sim.finite().all() and np.isfinite(obs["policy"]).all()
    else:
        assert resets == [] and obs is None and not env.sim.finite()[1]
        env.reset(terminated | truncated)
        assert resets == [[1]] and env.sim.finite().all() and env.steps[1] == 0
        assert np.isfinite(env.observe()["policy"]).all()
    env.close()


def test_goal_pauses_only_when_far_behind():
    task, mesh = straight_push_task()
    env = TrackDemoEnv(task, mesh, make_task_cfg("none"), num_envs=2, nthread=1)
    zero = np.zeros((2, env.action_dim))
    env.step(zero)
    assert (env.goal_time > 0).all()  # the object is on its path: the goal advances
    env.goal_time[:] = env.duration  # the goal far ahead: 0.25 m > 0.2 m
    before = env.goal_time.copy()
    env.step(zero)
    np.testing.assert_array_equal(env.goal_time, before)
    env.close()


def test_kept_goals_follow_goal_time():
    """The current and next goals the task keeps are the demo path's at ``goal_time`` and
    ``NEXT_GOAL_S`` later, after every change of ``goal_time`` (in place too, as a reset
    does). The path itself: tests/core/test_goal.py."""
    task, mesh = straight_push_task()
    env = TrackDemoEnv(task, mesh, make_task_cfg("none"), num_envs=3)
    t = np.array([0.25, 0.98, 1.91])
    env.goal_time = t.copy()
    want = (*env.path.pose(t), *env.path.pose(t + NEXT_GOAL_S))
    for got, w in zip(env.goals(), want, strict=True):
        np.testing.assert_array_equal(got, w)
    env.goal_time[1] = 0.0
    np.testing.assert_array_equal(env.goals()[0][1], task.object_pos_base[0])
    env.close()


def test_task_observes_through_the_shared_function():
    """Without noise, the task's policy observation is the core function applied to the
    world's measured quantities (joints of the registry's order, the palm and fingertip
    sites, the object, the goals); the critic's starts with it."""
    from h2s2r.core.observation import PolicyInputs, layout_size, policy_observation

    task, mesh = straight_push_task()
    env = TrackDemoEnv(task, mesh, make_task_cfg("none"), num_envs=2, nthread=1, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs = env.step(rng.uniform(-1, 1, (2, env.action_dim)))[0]
    tips, palm = env._hand_points()
    pos, quat = env.object_pose()
    g_pos, g_quat, n_pos, n_quat = env.goals()
    want = policy_observation(
        PolicyInputs(
            joint_pos=env.robot_q(),
            joint_vel=env.sim.qvel()[:, env.info.dof_adr],
            previous_action=env.prev_action,
            fingertip_pos=tips,
            palm_pos=palm,
            object_pos=pos,
            object_quat_wxyz=quat,
            goal_pos=g_pos,
            goal_quat_wxyz=g_quat,
            next_goal_pos=n_pos,
            next_goal_quat_wxyz=n_quat,
            progress=env.path.progress(env.goal_time),
        )
    )
    np.testing.assert_array_equal(obs["policy"], want)
    np.testing.assert_array_equal(obs["critic"][:, : want.shape[1]], want)
    assert want.shape[1] == layout_size(env.policy_layout)
    env.close()


# ----------------------------------------------------------------------------- toy PPO
class PointReach(VecEnv):
    """Move a 2-D point to a random target: PPO must solve it in seconds."""

    def __init__(self, n: int = 64):
        self.num_envs, self.num_actions, self.max_episode_length = n, 2, 30
        self.device, self.cfg = "cpu", {}
        self.episode_length_buf = torch.zeros(n, dtype=torch.long)
        self.g = torch.Generator().manual_seed(0)
        self.pos = torch.zeros(n, 2)
        self.goal = torch.zeros(n, 2)
        self._reset(torch.arange(n))

    def _reset(self, ids):
        # Out of place: inside the runner's inference mode tensors cannot be edited later.
        pos, goal, steps = self.pos.clone(), self.goal.clone(), self.episode_length_buf.clone()
        pos[ids] = torch.rand(len(ids), 2, generator=self.g) * 2 - 1
        goal[ids] = torch.rand(len(ids), 2, generator=self.g) * 2 - 1
        steps[ids] = 0
        self.pos, self.goal, self.episode_length_buf = pos, goal, steps

    def get_observations(self):
        o = torch.cat([self.pos, self.goal - self.pos], dim=1)
        return TensorDict({"policy": o, "critic": o}, batch_size=[self.num_envs])

    def step(self, actions):
        self.pos = (self.pos + 0.1 * actions.clamp(-1, 1)).clamp(-1.5, 1.5)
        dist = (self.goal - self.pos).norm(dim=1)
        reward = -dist
        self.episode_length_buf = self.episode_length_buf + 1
        done = self.episode_length_buf >= self.max_episode_length
        self.final_dist = dist.clone()
        ids = done.nonzero().flatten()
        if len(ids):
            self._reset(ids)
        return self.get_observations(), reward, done, {"time_outs": done.clone(), "log": {}}


def test_ppo_solves_a_toy_task_quickly(tmp_path):
    torch.manual_seed(0)
    env = PointReach()
    cfg = ppo_config(TrainConfig(steps_per_env=30, learning_rate=3e-3, entropy_coef=0.0))
    runner = OnPolicyRunner(env, cfg, log_dir=None, device="cpu")
    t0 = time.perf_counter()
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        runner.learn(60)
    assert time.perf_counter() - t0 < 60
    policy = runner.get_inference_policy()
    env._reset(torch.arange(env.num_envs))
    with torch.inference_mode():
        for _ in range(29):
            env.step(policy(env.get_observations()))
    assert float(env.final_dist.mean()) < 0.1  # reached (random policy: about 0.8)


# ----------------------------------------------------------------------------- pipeline
def test_training_writes_checkpoints_and_resumes(trained_ws):
    from h2s2r.core.artifacts import TrainRun
    from h2s2r.policy.train import run_train

    run = TrainRun.load(trained_ws / "train")
    assert run.env_steps == 8 * 16 * 3 and run.checkpoints
    assert (trained_ws / "train" / "config.json").is_file()
    assert list((trained_ws / "train").glob("events.out.tfevents.*"))  # TensorBoard
    from h2s2r.core.errors import H2S2RError

    with pytest.raises(H2S2RError, match="--resume"):
        run_train(trained_ws, TrainConfig(num_envs=8, total_steps=8 * 16 * 4), make_env)
    # Killed two iterations after its last checkpoint: those are done again, not counted.
    state = trained_ws / "train" / "state.json"
    st = json.loads(state.read_text())
    state.write_text(json.dumps(st | {"env_steps": 8 * 16 * 5, "iteration": st["iteration"] + 2}))
    run = run_train(
        trained_ws,
        TrainConfig(
            num_envs=8,
            total_steps=8 * 16 * 4,
            resume=True,
            threads=2,
            validate_every=1,
            validate_episodes=4,
        ),
        make_env,
        log=lambda *a: None,
    )
    assert run.env_steps == 8 * 16 * 4  # continued where it stopped
    history = json.loads((trained_ws / "train" / "validation.json").read_text())
    assert [r["env_steps"] for r in history] == [128, 256, 384, 512]  # the curve goes on


def test_validation_keeps_the_best_checkpoint(trained_ws):
    from h2s2r.core.artifacts import TrainRun
    from h2s2r.core.errors import H2S2RError
    from h2s2r.policy.checkpoints import BEST, policy_checkpoint

    folder = trained_ws / "train"
    assert BEST in TrainRun.load(folder).checkpoints
    history = json.loads((folder / "validation.json").read_text())
    best = json.loads((folder / "best.json").read_text())
    first_max = max(history, key=lambda r: (r["success"], -r["tracking_err_m"]))
    assert best["iteration"] == first_max["iteration"]
    assert policy_checkpoint(trained_ws).name == BEST
    assert policy_checkpoint(trained_ws, "latest").name.startswith("model_")
    with pytest.raises(H2S2RError, match=r"not a checkpoint of .* best, latest or one of"):
        policy_checkpoint(trained_ws, "model_999.pt")


def test_a_checkpoint_given_as_a_path_into_train_is_that_file(tmp_path, monkeypatch):
    """Probe round 7: ``--checkpoint WS/train/model_1.pt`` (what tab completion gives) was
    refused as 'a checkpoint of another run'. A path that resolves into this workspace's
    train/ (absolute, from the current folder, from the workspace, through a symlink) is
    its file; one outside it is still refused."""
    from h2s2r.core.errors import H2S2RError
    from h2s2r.policy.checkpoints import policy_checkpoint

    ws, other = tmp_path / "ws", tmp_path / "other"
    for d in (ws / "train", other / "train", ws / "train" / "old"):
        d.mkdir(parents=True)
        for name in ("model_0.pt", "model_1.pt"):
            (d / name).write_bytes(b"x")
    (ws / "model_1.pt").write_bytes(b"x")
    (tmp_path / "link").symlink_to(ws)
    listed = ("model_0.pt", "model_1.pt")
    want = ws / "train" / "model_1.pt"
    monkeypatch.chdir(tmp_path)
    for given in (
        "model_1.pt",
        str(want),
        "ws/train/model_1.pt",
        "./ws/train/../train/model_1.pt",
        "train/model_1.pt",  # from the workspace
        str(tmp_path / "link" / "train" / "model_1.pt"),
    ):
        assert policy_checkpoint(ws, given, listed) == want, given
    for given in (
        other / "train" / "model_1.pt",
        ws / "model_1.pt",
        ws / "train" / "old" / "model_1.pt",
        ws / "train" / "model_7.pt",
    ):
        with pytest.raises(H2S2RError, match=r"not a checkpoint of .*another run"):
            policy_checkpoint(ws, str(given), listed)
    with pytest.raises(H2S2RError, match=r"meta\.json does not list it"):
        policy_checkpoint(ws, str(ws / "train" / "model_1.pt"), ("model_0.pt",))


def test_runs_from_before_the_network_option_keep_their_network(tmp_path):
    """A ``train/config.json`` written before ``hidden_dims`` existed loads with the
    network its checkpoints hold, not today's default."""
    from dataclasses import asdict

    from h2s2r.policy.config import saved_train_config

    old = TrainConfig(hidden_dims=(64, 32))
    train = {k: v for k, v in asdict(old).items() if k != "hidden_dims"}
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "config.json").write_text(
        json.dumps({"train": train, "ppo": ppo_config(old)})
    )
    assert TrainConfig().hidden_dims != old.hidden_dims
    cfg = saved_train_config(tmp_path)
    assert cfg.hidden_dims == (64, 32)
    assert ppo_config(cfg)["critic"]["hidden_dims"] == [64, 32]


def test_validation_leaves_the_training_policy_alone(trained_ws):
    """Validation runs a copy: the learner's policy stays in training mode and its
    observation normalizer does not see the validation episodes."""
    from h2s2r.policy.checkpoints import make_runner
    from h2s2r.policy.train import Validator

    cfg = TrainConfig(num_envs=4, threads=2, validate_episodes=4)
    runner = make_runner(make_env(cfg.env_request(trained_ws)), cfg)
    runner.alg.train_mode()
    before = {k: v.clone() for k, v in runner.alg.get_policy().state_dict().items()}
    out = trained_ws / "validation_copy"
    out.mkdir()
    v = Validator(trained_ws, cfg, out, make_env)
    row = v(runner, 0, 0, 0.0)
    v.close()
    assert 0.0 <= row["success"] <= 1.0 and (out / "best_model.pt").is_file()
    assert runner.alg.get_policy().training
    after = runner.alg.get_policy().state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_export_onnx_matches_torch_and_eval_reproduces(trained_ws):
    import onnxruntime as ort

    from h2s2r.core.artifacts import EvalResult, PolicyExport
    from h2s2r.core.observation import layout_table, robot_policy_layout
    from h2s2r.policy.checkpoints import actor, load_runner, policy_checkpoint
    from h2s2r.policy.evaluate import EvalConfig, run_eval
    from h2s2r.policy.export import run_export

    art = run_export(trained_ws, make_env, log=lambda *a: None)
    loaded = PolicyExport.load(trained_ws / "policy")
    assert loaded.header["robot"] == "iiwa_allegro" and len(loaded.header["joint_names"]) == 23
    # The header's layout is the core table, offsets and encodings included.
    layout = robot_policy_layout(
        get_robot("iiwa_allegro"), loaded.header["action_semantics"]["dim"]
    )
    assert loaded.header["observation_layout"] == layout_table(layout)
    cfg = TrainConfig(num_envs=4, threads=2)
    env = make_env(cfg.env_request(trained_ws))
    obs = env.observe()
    sess = ort.InferenceSession(str(trained_ws / "policy" / "policy.onnx"))
    onnx_out = sess.run(None, {"obs": obs["policy"]})[0]
    torch_out = actor(load_runner(env, cfg, policy_checkpoint(trained_ws)), 4)(obs, 0)
    np.testing.assert_allclose(onnx_out, torch_out, atol=1e-5)
    assert art.header["observation_size"] == obs["policy"].shape[1]
    env.close()
    a = run_eval(trained_ws, EvalConfig(episodes=4, video=True), make_env, log=lambda *a: None)
    b = run_eval(
        trained_ws,
        EvalConfig(episodes=4, video=False, policy="onnx"),
        make_env,
        log=lambda *a: None,
    )
    for key in ("success_rate", "replay_success_rate", "object_aware_replay_success_rate"):
        assert 0.0 <= a.metrics[key] <= 1.0
    assert a.metrics["success_rate"] == b.metrics["success_rate"]
    for prefix in ("", "replay_", "object_aware_replay_"):
        assert a.metrics[f"{prefix}path_success_rate"] <= a.metrics[f"{prefix}success_rate"]
        assert a.metrics[f"{prefix}diverged_rate"] == 0.0
    assert abs(a.metrics["tracking_err_mean_m"] - b.metrics["tracking_err_mean_m"]) < 1e-3
    # eval/meta.json names the checkpoint policy.onnx came from (probe round 10: it said
    # "latest" for an ONNX exported from the best, --checkpoint being ignored).
    assert b.provenance.config["checkpoint"] == art.header["checkpoint"]
    assert isinstance(EvalResult.load(trained_ws / "eval"), EvalResult)
    assert (trained_ws / "eval" / "success.png").is_file()
