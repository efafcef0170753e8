"""The Isaac Lab backend (kit-less, Newton on Warp's CPU device), in its own environment:
``make test-isaaclab`` (``.venv-isaaclab``, made by ``make isaaclab-env``). Skipped where
Isaac Lab is not installed (the main ``.venv``: Python 3.11, MuJoCo 4).

Isaac Lab runs one simulation per process: the tests here share one environment (a
``DirectRLEnv`` with the task attached), and training runs in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("isaaclab", reason="Isaac Lab 3 is not installed (make isaaclab-env)")
torch = pytest.importorskip("torch")

from tests.conftest import REPO, straight_push_task  # noqa: E402

B = 4


@pytest.fixture(scope="module")
def envs():
    """Isaac Lab's DirectRLEnv of the task, and the same task on MuJoCo."""
    from h2s2r.sim.backends.isaaclab.env import make_isaaclab_env
    from h2s2r.sim.tasks.track_demo import TrackDemoEnv, make_task_cfg

    task, mesh = straight_push_task()
    direct = make_isaaclab_env(task, mesh, make_task_cfg(), num_envs=B, device="cpu")
    ref = TrackDemoEnv(task, mesh, make_task_cfg(), num_envs=B, nthread=1)
    yield direct, ref
    ref.close()
    direct.close()


def test_the_scene_matches_the_mujoco_model(envs):
    """Same joints, start state, fingertip and palm positions as MuJoCo (the USD scene is
    converted from the same MjSpec; names mapped, quaternions xyzw ↔ wxyz)."""
    direct, ref = envs
    sim = direct.task.sim
    assert sim.robot.is_fixed_base
    assert len(sim.robot.joint_names) == len(ref.info.qpos_adr)
    q = torch.as_tensor(ref.sim.qpos(), dtype=torch.float32)  # the episodes' start states
    sim.reset(torch.ones(B, dtype=torch.bool), q)
    np.testing.assert_allclose(sim.qpos().numpy(), ref.sim.qpos(), atol=1e-5)
    cols = ref._hand_pos_cols.ravel()
    np.testing.assert_allclose(
        sim.sensordata[:, cols].numpy(), ref.sim.sensordata[:, cols], atol=1e-5
    )


def test_reward_and_observation_equal_mujoco_for_the_same_state(envs):
    """States from a MuJoCo rollout with random actions, written into both simulators:
    the shared task code gives the same reward terms and policy observations (the critic's
    contact forces are measured differently and are not compared)."""
    direct, ref = envs
    task = direct.task
    rng = np.random.default_rng(0)
    states = []
    for _ in range(6):
        ref.step(rng.uniform(-1, 1, (B, ref.action_dim)))
        states.append((ref.qpos(), ref.goal_time.copy(), ref.prev_action.copy()))
    mask_np, mask_t = np.ones(B, bool), torch.ones(B, dtype=torch.bool)
    for qpos, goal_time, prev_action in states:
        action = rng.uniform(-1, 1, (B, ref.action_dim))
        ref.sim.reset(mask_np, qpos)
        task.sim.reset(mask_t, torch.as_tensor(qpos, dtype=torch.float32))
        speed = ref.goal_speed.copy()  # drawn per world by each env's own generator
        for env, conv in ((ref, np.asarray), (task, lambda x: torch.as_tensor(x).float())):
            env.goal_time, env.prev_action = conv(goal_time), conv(prev_action)
            env.goal_speed = conv(speed)
            env.steps = env.steps * 0
        out_ref = ref.finish_step(action)
        out_il = task.finish_step(torch.as_tensor(action, dtype=torch.float32))
        np.testing.assert_allclose(out_il[1].numpy(), out_ref[1], rtol=1e-4, atol=1e-5)
        for name, v in out_ref[4]["reward_terms"].items():
            got = out_il[4]["reward_terms"][name].numpy()
            np.testing.assert_allclose(got, v, rtol=1e-4, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(
            out_il[0]["policy"].numpy(), out_ref[0]["policy"], rtol=1e-4, atol=1e-4
        )


def test_direct_rl_env_steps_through_the_task(envs):
    """Isaac Lab's own loop (``DirectRLEnv.step``: one policy step = the task's substeps)
    gives observations, rewards and dones of the right shapes, finite; the object moves
    under physics (it rests on the table, not through it)."""
    direct, _ = envs
    obs, _ = direct.reset()
    from h2s2r.core.observation import layout_size

    assert obs["policy"].shape == (B, layout_size(direct.task.policy_layout))
    assert obs["critic"].shape[0] == B
    for _ in range(3):
        obs, rew, term, trunc, extras = direct.step(torch.zeros(B, direct.task.action_dim))
    assert rew.shape == (B,) and torch.isfinite(rew).all()
    assert term.dtype == torch.bool and trunc.shape == (B,)
    assert torch.isfinite(obs["policy"]).all()
    z = direct.task.object_pose()[0][:, 2]
    assert (z > -0.01).all() and (z < 0.1).all(), z
    assert "success" in extras


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    """A retargeted box_push demo workspace, made by the main environment's stages
    (``.venv``: rendering, perception and retargeting live there; ``make test-isaaclab``
    sets it up first)."""
    main = REPO / ".venv" / "bin" / "h2s2r"
    if not main.is_file():
        pytest.fail(f"{main} missing: run `make setup` (the Isaac Lab tests use its stages)")
    ws = tmp_path_factory.mktemp("il") / "box"
    for args in (
        ["synth", "--out", str(ws), "--frames", "30"],
        ["track-object", str(ws), "--no-overlay"],
        ["track-hand", str(ws), "--method", "ground-truth"],
        ["retarget", str(ws)],
    ):
        subprocess.run([str(main), *args], check=True, capture_output=True)
    return ws


def test_register_adds_the_gym_id():
    import gymnasium as gym

    from h2s2r.sim.backends.isaaclab.env import GYM_ID, register

    register()
    assert GYM_ID in gym.registry


def test_short_ppo_run_improves_the_return(demo_ws):
    """``h2s2r train --backend isaaclab`` (a subprocess: one simulation per process) on
    a retargeted demo: the mean episode return of the last quarter of the iterations is
    above the first quarter's; validation runs on MuJoCo; export writes the same
    policy/ contract, and eval of the exported policy runs on MuJoCo (the
    cross-simulator check)."""
    h2s2r = [sys.executable, "-m", "h2s2r.cli.main"]
    steps = int(os.environ.get("H2S2R_ISAACLAB_TEST_STEPS", "32768"))
    train = [*h2s2r, "train", str(demo_ws), "--backend", "isaaclab", "--num-envs", "64"]
    train += ["--total-steps", str(steps), "--validate-every", "8", "--validate-episodes", "4"]
    subprocess.run(train, check=True, capture_output=True)
    rows = [json.loads(x) for x in (demo_ws / "train" / "progress.jsonl").read_text().splitlines()]
    ret = [r["terms"]["episode_return"] for r in rows if "episode_return" in r["terms"]]
    k = max(2, len(ret) // 4)
    assert np.mean(ret[-k:]) > np.mean(ret[:k]) + 0.5, ret
    subprocess.run([*h2s2r, "export", str(demo_ws)], check=True, capture_output=True)
    policy = json.loads((demo_ws / "policy" / "policy.json").read_text())
    assert policy["robot"] == "iiwa_allegro"
    ev = [*h2s2r, "eval", str(demo_ws), "--backend", "mujoco", "--episodes", "4", "--no-video"]
    subprocess.run([*ev, "--policy", "onnx"], check=True, capture_output=True)
    metrics = json.loads((demo_ws / "eval" / "metrics.json").read_text())
    assert 0.0 <= metrics["success_rate"] <= 1.0


_FRICTION = """
import json
import torch
from tests.conftest import straight_push_task
from h2s2r.sim.backends.isaaclab.env import make_isaaclab_env
from h2s2r.sim.backends.isaaclab.usd import usd_name
from h2s2r.sim.tasks.track_demo import make_task_cfg

task, mesh = straight_push_task()
env = make_isaaclab_env(task, mesh, make_task_cfg("medium"), num_envs=4, device="cpu")
t = env.task
sim, m = t.sim, t.sim.model
variant = [1, 0, 2, 1]
sim.assign_variants(torch.ones(4, dtype=torch.bool), torch.tensor(variant))
env.step(torch.zeros(4, t.action_dim))  # the solver takes the change on its next step
# Each body's friction per variant, in the MuJoCo variants (by its USD name).
want = {}
for g in [*t.scene.object_collision_geoms, *t.scene.hand_collision_geoms]:
    b = usd_name(m.body(int(m.geom_bodyid[g])).name)
    want[b] = [float(v.geom_friction[g, 0]) for v in sim.variants]
# ... and in MuJoCo Warp's model behind Newton, world by world (bodies named by USD path).
solver = env.sim.physics_manager._solver
mj, mjw = solver.mj_model, solver.mjw_model.geom_friction.numpy()[:, :, 0]
rows = []
for w, v in enumerate(variant):
    for j in range(mj.ngeom):
        body = mj.body(int(mj.geom_bodyid[j])).name
        for b, mu in want.items():
            if body.endswith("_" + b):
                rows.append((b, w, float(mjw[w, j]), mu[v]))
print("RESULT " + json.dumps(rows))
env.close()
"""


def test_friction_follows_each_worlds_variant():
    """With ``medium`` randomization, each world's object and hand friction in MuJoCo
    Warp's model (behind Newton) is its variant's, as in the MuJoCo backend (a
    subprocess: one simulation per process)."""
    r = subprocess.run(
        [sys.executable, "-c", _FRICTION], capture_output=True, text=True, cwd=REPO, timeout=600
    )
    line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, r.stdout[-2000:] + r.stderr[-2000:]
    rows = json.loads(line[len("RESULT ") :])
    bodies = {b for b, *_ in rows}
    assert "object" in bodies and len(bodies) >= 6, bodies  # the object and the hand's links
    got, want = np.array([r[2] for r in rows]), np.array([r[3] for r in rows])
    np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=str(rows))
    assert len({round(r[3], 6) for r in rows if r[0] == "object"}) == 3  # three variants
