"""The action controller: palm deltas move the palm as commanded, synergies the hand."""

from __future__ import annotations

import mujoco
import numpy as np

from h2s2r.core.control import Controller, ControllerConfig, palm_pose
from h2s2r.core.robots import get_robot


def test_palm_delta_moves_the_palm_as_commanded():
    robot = get_robot("iiwa_allegro")
    ctrl = Controller(robot)
    q = np.tile(robot.home_qpos, (3, 1))
    hand = q[:, 7:]
    actions = np.zeros((3, 11))
    actions[0, 0] = 1.0  # +x, full scale: 2 cm
    actions[1, 2] = -0.5  # -z, half scale: 1 cm
    actions[2, 5] = 1.0  # rotate about z by 0.1 rad
    target = ctrl(q, actions, hand)
    before, after = palm_pose(ctrl, q), palm_pose(ctrl, target)
    step = after[:, :3, 3] - before[:, :3, 3]
    np.testing.assert_allclose(step[0], [0.02, 0, 0], atol=0.002)
    np.testing.assert_allclose(step[1], [0, 0, -0.01], atol=0.001)
    assert np.linalg.norm(step[2]) < 0.002
    R = after[2, :3, :3] @ before[2, :3, :3].T
    assert abs(np.arctan2(R[1, 0], R[0, 0]) - 0.1) < 0.01
    np.testing.assert_allclose(target[:, 7:], hand)  # zero synergies: the reference hand
    # Same palm as MuJoCo's own kinematics.
    d = mujoco.MjData(ctrl.model)
    d.qpos[ctrl.info.qpos_adr] = target[0]
    mujoco.mj_kinematics(ctrl.model, d)
    np.testing.assert_allclose(after[0, :3, 3], d.site_xpos[ctrl.info.palm_site], atol=1e-9)


def test_synergies_and_joint_delta_mode():
    robot = get_robot("iiwa_allegro")
    ctrl = Controller(robot)
    q = np.tile(robot.home_qpos, (1, 1))
    a = np.zeros((1, 11))
    a[0, 6] = 1.0  # the first principal component of real hands: the fingers close
    target = ctrl(q, a, q[:, 7:])
    expected = np.clip(q[0, 7:] + ctrl.synergies[:, 0], ctrl.lo[7:], ctrl.hi[7:])
    np.testing.assert_allclose(target[0, 7:], expected)
    flex = target[0, 7:] - q[0, 7:]
    assert flex[[1, 5, 9]].min() > 0.2  # proximal flexion of ff, mf, rf
    np.testing.assert_allclose(target[0, :7], q[0, :7], atol=1e-12)  # arm unmoved
    jd = Controller(robot, ControllerConfig(mode="joint_delta"))
    assert jd.action_dim == 23
    t = jd(q, np.ones((1, 23)), q[:, 7:])
    assert np.all(t <= jd.hi + 1e-12) and np.all(t >= q - 1e-12)
