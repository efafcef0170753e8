"""The batched CPU backend steps exactly like plain mj_step, for every world."""

from __future__ import annotations

import mujoco
import numpy as np

from h2s2r.core.robots import get_robot
from h2s2r.sim.backends import interpolate_targets
from h2s2r.sim.backends.mujoco_cpu import BatchedSim
from h2s2r.sim.scene import build_task_scene
from h2s2r.sim.synth.tasks import box_mesh


def test_interpolated_targets_ramp_to_the_new_target():
    prev, target = np.zeros((2, 3)), np.ones((2, 3))
    ramp = interpolate_targets(prev, target, 4)
    assert ramp.shape == (2, 4, 3)
    np.testing.assert_allclose(ramp[:, :, 0], [[0.25, 0.5, 0.75, 1.0]] * 2)


def test_batched_step_matches_sequential_mj_step():
    v, f = box_mesh((0.20, 0.12, 0.06))
    s = build_task_scene(get_robot("iiwa_allegro"), v, f, 0.0, object_kinematic=False)
    model = s.model
    qpos = model.key_qpos[0].copy()
    adr = model.jnt_qposadr[model.joint("object").id]
    qpos[adr : adr + 7] = [0.62, 0.0, 0.0305, 1, 0, 0, 0]
    rng = np.random.default_rng(0)
    worlds, substeps = 5, 8
    starts = np.tile(qpos, (worlds, 1))
    starts[:, :7] += rng.normal(0, 0.05, (worlds, 7))
    with BatchedSim(model, worlds, nthread=2) as sim:
        sim.reset(np.arange(worlds), qpos=starts)
        ctrl = starts[:, : model.nu] + rng.normal(0, 0.05, (worlds, model.nu))
        plan = interpolate_targets(starts[:, : model.nu], ctrl, substeps)
        sim.step(plan)
        batched = sim.qpos().copy()
    data = mujoco.MjData(model)
    for w in range(worlds):
        mujoco.mj_resetDataKeyframe(model, data, 0)
        data.qpos[:] = starts[w]
        data.qvel[:] = 0
        for k in range(substeps):
            data.ctrl[:] = plan[w, k]
            mujoco.mj_step(model, data)
        np.testing.assert_allclose(batched[w], data.qpos, atol=1e-9)


def test_a_diverged_world_keeps_its_nan_and_the_others_step_on():
    """MuJoCo resets a diverged simulation to qpos0 by default, which would teleport the
    world in mid-episode and hide the failure; the backend keeps the NaN for the task."""
    v, f = box_mesh((0.20, 0.12, 0.06))
    model = build_task_scene(get_robot("iiwa_allegro"), v, f, 0.0, object_kinematic=False).model
    with BatchedSim(model, 3, nthread=2) as sim:
        sim.state[1, 1 + model.nq] = 1e12  # a joint speed MuJoCo calls diverged
        sim.step(np.tile(model.key_ctrl[0], (3, 4, 1)))
        assert not np.isfinite(sim.state[1]).all() or np.abs(sim.qvel()[1]).max() > 1e3
        assert np.isfinite(sim.state[[0, 2]]).all()
        assert sim.state[0, 0] > 0  # time advanced: not reset
