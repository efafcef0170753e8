"""The goal path and its advance rule, by hand."""

from __future__ import annotations

import numpy as np

from h2s2r.core.geometry import quat_slerp
from h2s2r.core.goal import DemoPath, advance_goal, keypoint_distance, object_keypoints


def turning_path(n: int = 61, flip_from: int = 30) -> tuple[DemoPath, np.ndarray, np.ndarray]:
    """0.25 m along y in 2 s while turning 1.2 rad about z; the stored quaternions flip
    sign from ``flip_from`` on (the same rotations)."""
    t = 5.0 + np.arange(n) / 30.0  # any time origin
    yaw = np.linspace(0.0, 1.2, n)
    quat = np.c_[np.cos(yaw / 2), np.zeros((n, 2)), np.sin(yaw / 2)]
    quat[flip_from:] *= -1
    pos = np.c_[np.zeros(n), np.linspace(0, 0.25, n), np.zeros(n)]
    return DemoPath(t, pos, quat), quat, yaw


def test_path_hits_samples_slerps_between_and_clamps():
    path, quat, yaw = turning_path()
    assert path.duration == 2.0
    t_demo = path.t
    pos, q = path.pose(t_demo[[0, 17, 45]])
    np.testing.assert_allclose(pos[:, 1], [0, 0.25 * 17 / 60, 0.25 * 45 / 60], atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(q * quat[[0, 17, 45]], axis=1)), 1.0, atol=1e-12)
    t = np.array([0.25, 0.98, 1.91])  # between samples; 0.98 s is at the sign flip
    i = np.searchsorted(t_demo, t) - 1
    s = (t - t_demo[i]) / (t_demo[i + 1] - t_demo[i])
    _, q = path.pose(t)
    want = quat_slerp(quat[i], quat[i + 1], s)
    np.testing.assert_allclose(np.abs(np.sum(q * want, axis=1)), 1.0, atol=1e-12)
    np.testing.assert_allclose(q[:, 3] / q[:, 0], np.tan((yaw[i] + s * (yaw[i + 1] - yaw[i])) / 2))
    pos, _ = path.pose(np.array([-1.0, 10.0]))  # clamped to the ends
    np.testing.assert_allclose(pos[:, 1], [0.0, 0.25])
    np.testing.assert_allclose(path.progress(np.array([-1.0, 1.0, 3.0])), [0.0, 0.5, 1.0])


def test_goal_advances_unless_far_behind():
    t = np.array([0.0, 0.5, 0.5])
    speed = np.array([1.0, 0.5, 0.5])
    d = np.array([0.05, 0.2, 0.21])  # the rule pauses beyond 0.2 m, not at it
    np.testing.assert_allclose(advance_goal(t, speed, d, 0.1, 0.2), [0.1, 0.55, 0.5])


def test_keypoints_and_their_distance():
    v = np.array([[-0.1, -0.03, 0.0], [0.1, 0.03, 0.06]])
    kp, center = object_keypoints(v)
    np.testing.assert_allclose(center, [0, 0, 0.03])
    np.testing.assert_allclose(kp, [[0.1, 0, 0.03], [0, 0.03, 0.03], [0, 0, 0.06]])
    ident = np.array([[1.0, 0, 0, 0]])
    d = keypoint_distance(np.zeros((1, 3)), ident, np.array([[0.0, 0, 0.02]]), ident, kp)
    np.testing.assert_allclose(d, [0.02])
