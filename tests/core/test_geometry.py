"""Pose math against scipy and MuJoCo's own conversions (property tests)."""

import mujoco
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.transform import Rotation, Slerp

from h2s2r.core import geometry as g

finite = st.floats(-1.0, 1.0, allow_nan=False, width=64)
quats = arrays(np.float64, (4,), elements=finite).filter(lambda q: np.linalg.norm(q) > 0.1)
vec3 = arrays(np.float64, (3,), elements=st.floats(-2.0, 2.0, allow_nan=False, width=64))
rotvecs = arrays(np.float64, (3,), elements=st.floats(-3.0, 3.0, allow_nan=False, width=64))


def _mj_quat2mat(q):
    m = np.zeros(9)
    mujoco.mju_quat2Mat(m, q / np.linalg.norm(q))
    return m.reshape(3, 3)


@given(quats)
def test_quat_to_matrix_matches_scipy_and_mujoco(q):
    R = g.quat_to_matrix(q)
    np.testing.assert_allclose(R, Rotation.from_quat(q, scalar_first=True).as_matrix(), atol=1e-9)
    np.testing.assert_allclose(R, _mj_quat2mat(q), atol=1e-9)


@given(quats)
def test_matrix_to_quat_round_trip_and_mujoco(q):
    R = g.quat_to_matrix(q)
    q2 = g.matrix_to_quat(R)
    assert q2[0] >= 0 and abs(np.linalg.norm(q2) - 1) < 1e-9
    np.testing.assert_allclose(g.quat_to_matrix(q2), R, atol=1e-9)
    q_mj = np.zeros(4)
    mujoco.mju_mat2Quat(q_mj, R.ravel())
    assert abs(abs(q_mj @ q2) - 1.0) < 1e-9  # same rotation (q and -q)


@given(quats, quats)
def test_quat_mul_matches_matrix_product_and_mujoco(a, b):
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    ab = g.quat_mul(a, b)
    np.testing.assert_allclose(
        g.quat_to_matrix(ab), g.quat_to_matrix(a) @ g.quat_to_matrix(b), atol=1e-9
    )
    res = np.zeros(4)
    mujoco.mju_mulQuat(res, a, b)
    np.testing.assert_allclose(ab, res, atol=1e-12)


@given(rotvecs)
def test_rotvec_round_trip_matches_scipy(r):
    q = g.rotvec_to_quat(r)
    np.testing.assert_allclose(g.quat_to_matrix(q), Rotation.from_rotvec(r).as_matrix(), atol=1e-9)
    np.testing.assert_allclose(g.so3_exp(r), Rotation.from_rotvec(r).as_matrix(), atol=1e-9)
    if np.linalg.norm(r) < np.pi - 1e-6:
        np.testing.assert_allclose(g.quat_to_rotvec(q), r, atol=1e-7)
        np.testing.assert_allclose(g.so3_log(g.so3_exp(r)), r, atol=1e-7)


def test_batched_shapes_and_xyzw():
    rng = np.random.default_rng(0)
    q = g.random_quat(rng, 64).reshape(8, 8, 4)
    assert g.quat_to_matrix(q).shape == (8, 8, 3, 3)
    assert g.matrix_to_quat(g.quat_to_matrix(q)).shape == (8, 8, 4)
    xyzw = g.quat_wxyz_to_xyzw(q)
    np.testing.assert_allclose(
        Rotation.from_quat(xyzw.reshape(-1, 4)).as_matrix(),
        g.quat_to_matrix(q).reshape(-1, 3, 3),
        atol=1e-9,
    )
    np.testing.assert_allclose(g.quat_xyzw_to_wxyz(xyzw), q)


@settings(max_examples=50)
@given(quats, quats, st.floats(0.0, 1.0))
def test_slerp_matches_scipy(a, b, s):
    qs = g.quat_slerp(a, b, s)
    ra = Rotation.from_quat(a, scalar_first=True)
    rb = Rotation.from_quat(b, scalar_first=True)
    ref = Slerp([0, 1], Rotation.concatenate([ra, rb]))([s]).as_matrix()[0]
    np.testing.assert_allclose(g.quat_to_matrix(qs), ref, atol=1e-7)


@given(quats, quats)
def test_angle_between_quat_and_matrix_agree(a, b):
    ang = g.quat_angle_between(a, b)
    ref = (
        Rotation.from_quat(a, scalar_first=True).inv() * Rotation.from_quat(b, scalar_first=True)
    ).magnitude()
    assert abs(ang - ref) < 1e-6
    assert abs(g.rotation_angle_between(g.quat_to_matrix(a), g.quat_to_matrix(b)) - ref) < 1e-6


@given(quats, vec3, arrays(np.float64, (5, 3), elements=st.floats(-1, 1, width=64)))
def test_transforms(q, p, pts):
    T_a_b = g.T_from_pos_quat(p, q)
    np.testing.assert_allclose(T_a_b @ g.T_inv(T_a_b), np.eye(4), atol=1e-9)
    p_a = g.transform_points(T_a_b, pts)
    homog = (T_a_b @ np.c_[pts, np.ones(5)].T).T[:, :3]
    np.testing.assert_allclose(p_a, homog, atol=1e-12)
    np.testing.assert_allclose(g.transform_points(g.T_inv(T_a_b), p_a), pts, atol=1e-9)
    p2, q2 = g.pos_quat_from_T(T_a_b)
    np.testing.assert_allclose(g.T_from_pos_quat(p2, q2), T_a_b, atol=1e-9)


@given(arrays(np.float64, (6,), elements=st.floats(-2.5, 2.5, width=64)))
def test_se3_exp_log_round_trip(xi):
    T = g.se3_exp(xi)
    assert g.is_rotation_matrix(T[:3, :3])
    if np.linalg.norm(xi[3:]) < np.pi - 1e-3:
        np.testing.assert_allclose(g.se3_log(T), xi, atol=1e-6)


def test_interpolate_endpoints_and_midpoint():
    T0 = g.make_T(g.rot_z(0.0), [0, 0, 0])
    T1 = g.make_T(g.rot_z(1.0), [1, 2, 3])
    np.testing.assert_allclose(g.T_interpolate(T0, T1, 0.0), T0, atol=1e-12)
    np.testing.assert_allclose(g.T_interpolate(T0, T1, 1.0), T1, atol=1e-12)
    mid = g.T_interpolate(T0, T1, 0.5)
    np.testing.assert_allclose(mid[:3, :3], g.rot_z(0.5), atol=1e-12)
    np.testing.assert_allclose(mid[:3, 3], [0.5, 1, 1.5])


def test_project_to_so3_and_checks():
    rng = np.random.default_rng(1)
    R = g.quat_to_matrix(g.random_quat(rng))
    noisy = R + 1e-3 * rng.normal(size=(3, 3))
    assert not g.is_rotation_matrix(noisy)
    assert g.is_rotation_matrix(g.project_to_so3(noisy))
    assert g.rotation_angle_between(g.project_to_so3(noisy), R) < 5e-3


def test_camera_look_at_project_and_backproject():
    T_world_cam = g.look_at_T_world_cam([1.0, 0.5, 0.8], [0.0, 0.0, 0.0])
    z_cam_in_world = T_world_cam[:3, 2]
    target_dir = -np.array([1.0, 0.5, 0.8]) / np.linalg.norm([1.0, 0.5, 0.8])
    np.testing.assert_allclose(z_cam_in_world, target_dir, atol=1e-12)
    assert T_world_cam[:3, 1] @ np.array([0, 0, 1]) < 0  # image "down" points down
    K = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])
    depth = np.full((480, 640), 2.0)
    pts = g.backproject_depth(K, depth)
    np.testing.assert_allclose(g.project_points(K, pts[100, 200]), [200, 100], atol=1e-9)


def test_quat_continuous_flips_against_the_flipped_neighbour():
    """Two sign changes in a row (raw neighbours disagree twice) leave no jump: each
    quaternion is compared with its already-flipped predecessor."""
    yaw = np.linspace(0, 1.0, 6)
    q = np.c_[np.cos(yaw / 2), np.zeros((6, 2)), np.sin(yaw / 2)]
    raw = q * np.array([1, -1, 1, 1, -1, -1])[:, None]
    out = g.quat_continuous(raw)
    np.testing.assert_allclose(out, q)
    assert np.all(np.sum(out[1:] * out[:-1], axis=1) > 0)
    # The old rule (each against its raw neighbour) leaves jumps here.
    old = raw.copy()
    old[1:] *= np.where(np.sum(raw[1:] * raw[:-1], axis=1) < 0, -1.0, 1.0)[:, None]
    assert np.any(np.sum(old[1:] * old[:-1], axis=1) < 0)
