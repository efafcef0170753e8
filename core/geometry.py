"""SO(3) / SE(3) math with the project's conventions, batched over leading dimensions.

Conventions (DESIGN.md):
- ``T_a_b`` is a 4×4 pose of frame b in frame a: ``p_a = T_a_b @ p_b``.
- Quaternions are **wxyz** (MuJoCo order) everywhere; ``*_xyzw`` helpers exist only for
  the ROS / scipy boundary.
- Rotation vectors (axis × angle, rad) are the tangent space of SO(3); twists are
  ``[v, ω]`` (translation first) for SE(3).
- Camera frames are OpenCV's: x right, y down, z forward.

Every function accepts arrays with any number of leading batch dimensions. The
quaternion functions a simulation step calls (``quat_mul``, ``quat_to_matrix``,
``rotvec_to_quat``…) also take torch tensors (:mod:`h2s2r.core.xp`), on any device.
"""

from __future__ import annotations

import numpy as np

from h2s2r.core.xp import is_torch, namespace

_EPS = 1e-12


def _float(x):
    """``(xp, x)``: a torch tensor as it is, anything else as float64 numpy."""
    if is_torch(x):
        return namespace(x), x
    return np, np.asarray(x, dtype=np.float64)


# ----------------------------------------------------------------------------- quaternions
def quat_normalize(q_wxyz: np.ndarray) -> np.ndarray:
    """Unit quaternion(s) with a non-negative w (canonical hemisphere)."""
    xp, q = _float(q_wxyz)
    q = q / xp.clip(xp.linalg.vector_norm(q, axis=-1, keepdims=True), min=_EPS)
    return xp.where(q[..., :1] < 0.0, -q, q)


def quat_mul(a_wxyz: np.ndarray, b_wxyz: np.ndarray) -> np.ndarray:
    """Hamilton product ``a ⊗ b`` (rotation b first, then a)."""
    xp, a = _float(a_wxyz)
    _, b = _float(b_wxyz)
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return xp.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_conj(q_wxyz: np.ndarray) -> np.ndarray:
    """Conjugate (the inverse of a unit quaternion)."""
    xp, q = _float(q_wxyz)
    return xp.concat([q[..., :1], -q[..., 1:]], axis=-1)


def quat_to_matrix(q_wxyz: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` from quaternions (normalized first)."""
    xp, q = _float(q_wxyz)
    q = q / xp.clip(xp.linalg.vector_norm(q, axis=-1, keepdims=True), min=_EPS)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    R = xp.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - w * z),
            2 * (x * z + w * y),
            2 * (x * y + w * z),
            1 - 2 * (x * x + z * z),
            2 * (y * z - w * x),
            2 * (x * z - w * y),
            2 * (y * z + w * x),
            1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    )
    return xp.reshape(R, (*q.shape[:-1], 3, 3))


def matrix_to_quat(R: np.ndarray) -> np.ndarray:
    """Quaternions (wxyz, w ≥ 0) from rotation matrices, numerically stable branch per item."""
    R = np.asarray(R, dtype=np.float64)
    batch = R.shape[:-2]
    m = R.reshape(-1, 3, 3)
    tr = np.trace(m, axis1=1, axis2=2)
    # Four candidate denominators; pick the largest per matrix (Shepperd's method).
    cands = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    k = np.argmax(cands, axis=1)
    q = np.empty((m.shape[0], 4))
    for branch in range(4):
        sel = k == branch
        if not np.any(sel):
            continue
        s = m[sel]
        if branch == 0:
            t = np.sqrt(np.maximum(1.0 + tr[sel], _EPS)) * 2
            q[sel] = np.stack(
                [
                    0.25 * t,
                    (s[:, 2, 1] - s[:, 1, 2]) / t,
                    (s[:, 0, 2] - s[:, 2, 0]) / t,
                    (s[:, 1, 0] - s[:, 0, 1]) / t,
                ],
                axis=1,
            )
        else:
            i = branch - 1
            j, kk = (i + 1) % 3, (i + 2) % 3
            t = np.sqrt(np.maximum(1.0 + s[:, i, i] - s[:, j, j] - s[:, kk, kk], _EPS)) * 2
            vec = np.empty((s.shape[0], 3))
            vec[:, i] = 0.25 * t
            vec[:, j] = (s[:, j, i] + s[:, i, j]) / t
            vec[:, kk] = (s[:, kk, i] + s[:, i, kk]) / t
            w = (s[:, kk, j] - s[:, j, kk]) / t
            q[sel] = np.concatenate([w[:, None], vec], axis=1)
    return quat_normalize(q).reshape((*batch, 4))


def quat_wxyz_to_xyzw(q_wxyz: np.ndarray) -> np.ndarray:
    """Reorder for ROS messages and scipy (the one place xyzw is allowed)."""
    return np.roll(np.asarray(q_wxyz, dtype=np.float64), -1, axis=-1)


def quat_xyzw_to_wxyz(q_xyzw: np.ndarray) -> np.ndarray:
    """Reorder a ROS / scipy quaternion to the project's wxyz."""
    return np.roll(np.asarray(q_xyzw, dtype=np.float64), 1, axis=-1)


def quat_from_axis_angle(axis: np.ndarray, angle_rad: np.ndarray | float) -> np.ndarray:
    """Quaternion rotating by ``angle_rad`` about ``axis`` (normalized here)."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), _EPS)
    half = 0.5 * np.asarray(angle_rad, dtype=np.float64)[..., None]
    return np.concatenate([np.cos(half), np.sin(half) * axis], axis=-1)


def quat_to_rotvec(q_wxyz: np.ndarray) -> np.ndarray:
    """Rotation vector (axis × angle, angle in [0, π]) of quaternions."""
    xp = namespace(q_wxyz)
    q = quat_normalize(q_wxyz)
    v = q[..., 1:]
    s = xp.linalg.vector_norm(v, axis=-1, keepdims=True)
    angle = 2.0 * xp.atan2(s, q[..., :1])
    # angle / s → 2 / w as s → 0 (first-order Taylor)
    scale = xp.where(s > 1e-9, angle / xp.clip(s, min=_EPS), 2.0 / xp.clip(q[..., :1], min=_EPS))
    return v * scale


def rotvec_to_quat(rotvec: np.ndarray) -> np.ndarray:
    """Quaternion (wxyz) of a rotation vector."""
    xp, r = _float(rotvec)
    angle = xp.linalg.vector_norm(r, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(θ/2)/θ → 1/2 as θ → 0
    k = xp.where(angle > 1e-9, xp.sin(half) / xp.clip(angle, min=_EPS), 0.5 - angle**2 / 48.0)
    return xp.concat([xp.cos(half), r * k], axis=-1)


def quat_slerp(q0_wxyz: np.ndarray, q1_wxyz: np.ndarray, s: np.ndarray | float) -> np.ndarray:
    """Spherical interpolation along the shorter arc; ``s`` in [0, 1] broadcasts."""
    q0 = quat_normalize(q0_wxyz)
    q1 = quat_normalize(q1_wxyz)
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    delta = quat_mul(quat_conj(q0), q1)
    s = np.asarray(s, dtype=np.float64)[..., None]
    return quat_normalize(quat_mul(q0, rotvec_to_quat(s * quat_to_rotvec(delta))))


def quat_continuous(q_wxyz: np.ndarray) -> np.ndarray:
    """A sequence of quaternions ``(M, 4)`` with signs chosen so that each is in the same
    hemisphere as the one before it (after that one's own flip): the same rotations, a
    path without sign jumps. Flipping against the raw neighbour instead leaves a jump
    wherever two flips follow each other."""
    q = np.array(q_wxyz, dtype=np.float64, copy=True)
    for i in range(1, len(q)):
        if np.dot(q[i], q[i - 1]) < 0:
            q[i] = -q[i]
    return q


def quat_angle_between(a_wxyz: np.ndarray, b_wxyz: np.ndarray) -> np.ndarray:
    """Geodesic angle (rad, in [0, π]) between two rotations given as quaternions."""
    xp = namespace(a_wxyz, b_wxyz)
    a = quat_normalize(a_wxyz)
    b = quat_normalize(b_wxyz)
    d = xp.abs(xp.sum(a * b, axis=-1))
    return 2.0 * xp.acos(xp.clip(d, 0.0, 1.0))


def random_quat(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    """Uniformly distributed unit quaternions (Shoemake)."""
    size = () if n is None else (n,)
    u1, u2, u3 = rng.random(size), rng.random(size), rng.random(size)
    a, b = np.sqrt(1 - u1), np.sqrt(u1)
    q = np.stack(
        [
            b * np.cos(2 * np.pi * u3),
            a * np.sin(2 * np.pi * u2),
            a * np.cos(2 * np.pi * u2),
            b * np.sin(2 * np.pi * u3),
        ],
        axis=-1,
    )
    return quat_normalize(q)


# ----------------------------------------------------------------------------- SO(3)
def so3_exp(rotvec: np.ndarray) -> np.ndarray:
    """Rotation matrix of a rotation vector (Rodrigues)."""
    return quat_to_matrix(rotvec_to_quat(rotvec))


def so3_log(R: np.ndarray) -> np.ndarray:
    """Rotation vector of a rotation matrix."""
    return quat_to_rotvec(matrix_to_quat(R))


def rotation_angle_between(R_a: np.ndarray, R_b: np.ndarray) -> np.ndarray:
    """Geodesic angle (rad) between rotation matrices."""
    R_rel = np.swapaxes(np.asarray(R_a), -1, -2) @ np.asarray(R_b)
    c = (np.trace(R_rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.arccos(np.clip(c, -1.0, 1.0))


def rot_x(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=np.float64)


def rot_y(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float64)


def rot_z(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)


def is_rotation_matrix(R: np.ndarray, tol: float = 1e-4) -> np.ndarray:
    """True where ``R`` is orthonormal with determinant +1 (within ``tol``)."""
    R = np.asarray(R, dtype=np.float64)
    eye = np.eye(3)
    ortho = np.max(np.abs(np.swapaxes(R, -1, -2) @ R - eye), axis=(-2, -1)) < tol
    return ortho & (np.abs(np.linalg.det(R) - 1.0) < tol)


def project_to_so3(M: np.ndarray) -> np.ndarray:
    """Nearest rotation matrix (Frobenius) to ``M``, via SVD."""
    U, _, Vt = np.linalg.svd(np.asarray(M, dtype=np.float64))
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.zeros((*U.shape[:-2], 3, 3))
    D[..., 0, 0] = 1.0
    D[..., 1, 1] = 1.0
    D[..., 2, 2] = d
    return U @ D @ Vt


# ----------------------------------------------------------------------------- SE(3)
def make_T(R: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Homogeneous 4×4 transform(s) from rotation ``(...,3,3)`` and translation ``(...,3)``."""
    R = np.asarray(R, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    batch = np.broadcast_shapes(R.shape[:-2], p.shape[:-1])
    T = np.zeros((*batch, 4, 4))
    T[..., :3, :3] = R
    T[..., :3, 3] = p
    T[..., 3, 3] = 1.0
    return T


def T_inv(T_a_b: np.ndarray) -> np.ndarray:
    """``T_b_a`` from ``T_a_b`` (closed form, no general matrix inverse)."""
    T = np.asarray(T_a_b, dtype=np.float64)
    R_t = np.swapaxes(T[..., :3, :3], -1, -2)
    return make_T(R_t, -(R_t @ T[..., :3, 3:4])[..., 0])


def T_from_pos_quat(pos: np.ndarray, quat_wxyz: np.ndarray) -> np.ndarray:
    """Transform from a position and a wxyz quaternion."""
    return make_T(quat_to_matrix(quat_wxyz), pos)


def pos_quat_from_T(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(position, quat_wxyz)`` of a transform."""
    T = np.asarray(T, dtype=np.float64)
    return T[..., :3, 3].copy(), matrix_to_quat(T[..., :3, :3])


def transform_points(T_a_b: np.ndarray, points_b: np.ndarray) -> np.ndarray:
    """Map points ``(..., N, 3)`` from frame b to frame a."""
    T = np.asarray(T_a_b, dtype=np.float64)
    p = np.asarray(points_b, dtype=np.float64)
    return p @ np.swapaxes(T[..., :3, :3], -1, -2) + T[..., None, :3, 3]


def _so3_left_jacobian(rotvec: np.ndarray) -> np.ndarray:
    """Left Jacobian of SO(3), used by the SE(3) exponential."""
    w = np.asarray(rotvec, dtype=np.float64)
    theta = np.linalg.norm(w, axis=-1)[..., None, None]
    W = hat(w)
    small = theta < 1e-6
    th = np.where(small, 1.0, theta)
    a = np.where(small, 0.5 - theta**2 / 24.0, (1 - np.cos(th)) / th**2)
    b = np.where(small, 1.0 / 6.0 - theta**2 / 120.0, (th - np.sin(th)) / th**3)
    return np.eye(3) + a * W + b * (W @ W)


def hat(w: np.ndarray) -> np.ndarray:
    """Skew-symmetric matrices ``(..., 3, 3)`` of vectors ``w (..., 3)``: ``hat(w) @ v = w × v``."""
    w = np.asarray(w, dtype=np.float64)
    z = np.zeros(w.shape[:-1])
    x, y, zz = w[..., 0], w[..., 1], w[..., 2]
    return np.stack(
        [np.stack([z, -zz, y], -1), np.stack([zz, z, -x], -1), np.stack([-y, x, z], -1)], -2
    )


def se3_exp(twist: np.ndarray) -> np.ndarray:
    """Transform of a twist ``[v, ω]`` (6,) — the group exponential."""
    xi = np.asarray(twist, dtype=np.float64)
    v, w = xi[..., :3], xi[..., 3:]
    p = (_so3_left_jacobian(w) @ v[..., None])[..., 0]
    return make_T(so3_exp(w), p)


def se3_log(T: np.ndarray) -> np.ndarray:
    """Twist ``[v, ω]`` of a transform — the group logarithm."""
    T = np.asarray(T, dtype=np.float64)
    w = so3_log(T[..., :3, :3])
    v = np.linalg.solve(_so3_left_jacobian(w), T[..., :3, 3:4])[..., 0]
    return np.concatenate([v, w], axis=-1)


def T_interpolate(T0: np.ndarray, T1: np.ndarray, s: np.ndarray | float) -> np.ndarray:
    """Pose between ``T0`` (s=0) and ``T1`` (s=1): linear in translation, slerp in rotation."""
    T0 = np.asarray(T0, dtype=np.float64)
    T1 = np.asarray(T1, dtype=np.float64)
    s_arr = np.asarray(s, dtype=np.float64)
    p = T0[..., :3, 3] + s_arr[..., None] * (T1[..., :3, 3] - T0[..., :3, 3])
    q = quat_slerp(matrix_to_quat(T0[..., :3, :3]), matrix_to_quat(T1[..., :3, :3]), s_arr)
    return T_from_pos_quat(p, q)


def translation_error(T_a: np.ndarray, T_b: np.ndarray) -> np.ndarray:
    """Euclidean distance (m) between the translations of two poses."""
    return np.linalg.norm(np.asarray(T_a)[..., :3, 3] - np.asarray(T_b)[..., :3, 3], axis=-1)


def rotation_error_rad(T_a: np.ndarray, T_b: np.ndarray) -> np.ndarray:
    """Geodesic rotation distance (rad) between two poses."""
    return rotation_angle_between(np.asarray(T_a)[..., :3, :3], np.asarray(T_b)[..., :3, :3])


# ----------------------------------------------------------------------------- cameras
def look_at_T_world_cam(eye: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """OpenCV camera pose (z forward, y down) at ``eye`` looking at ``target``."""
    eye = np.asarray(eye, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - eye
    z = z / np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to 'up'; choose another up")
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    return make_T(np.stack([x, y, z], axis=1), eye)


def project_points(K: np.ndarray, points_cam: np.ndarray) -> np.ndarray:
    """Pixel coordinates ``(..., 2)`` (OpenCV: pixel centres at integers) of camera points."""
    p = np.asarray(points_cam, dtype=np.float64)
    uvw = p @ np.asarray(K, dtype=np.float64).T
    return uvw[..., :2] / uvw[..., 2:3]


def backproject_depth(K: np.ndarray, depth_m: np.ndarray) -> np.ndarray:
    """Camera-frame points ``(H, W, 3)`` of a depth image in metres (0 stays at the origin)."""
    K = np.asarray(K, dtype=np.float64)
    h, w = depth_m.shape
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    z = depth_m.astype(np.float64)
    x = (u - K[0, 2]) * z / K[0, 0]
    y = (v - K[1, 2]) * z / K[1, 1]
    return np.stack([x, y, z], axis=-1)


# ----------------------------------------------------------------------------- planes
def fit_plane_ransac(
    points: np.ndarray,
    threshold_m: float = 0.008,
    iterations: int = 300,
    rng: np.random.Generator | None = None,
    normal_hint: np.ndarray | None = None,
    max_angle_deg: float = 90.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Dominant plane ``(n, d)`` with ``n·x + d = 0`` and its inlier mask (RANSAC + refit).

    With ``normal_hint`` only planes within ``max_angle_deg`` of it are accepted, and the
    normal is oriented along it.
    """
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) < 3:
        raise ValueError("need at least 3 points to fit a plane")
    rng = rng or np.random.default_rng(0)
    best, best_count = None, -1
    cos_min = np.cos(np.deg2rad(max_angle_deg))
    for _ in range(iterations):
        a, b, c = pts[rng.choice(len(pts), 3, replace=False)]
        n = np.cross(b - a, c - a)
        if np.linalg.norm(n) < 1e-9:
            continue
        n /= np.linalg.norm(n)
        if normal_hint is not None and abs(n @ normal_hint) < cos_min:
            continue
        count = int(np.sum(np.abs(pts @ n - n @ a) < threshold_m))
        if count > best_count:
            best, best_count = (n, -(n @ a)), count
    if best is None:
        raise ValueError("no plane found (points collinear, or none near the normal hint)")
    n, d = best
    inliers = np.abs(pts @ n + d) < threshold_m
    centroid = pts[inliers].mean(axis=0)
    _, _, vt = np.linalg.svd(pts[inliers] - centroid, full_matrices=False)
    n = vt[-1]
    if normal_hint is not None and n @ normal_hint < 0:
        n = -n
    d = -(n @ centroid)
    return np.r_[n, d], np.abs(pts @ n + d) < threshold_m


def table_plane_from_depth(
    depth_m: np.ndarray,
    K: np.ndarray,
    T_base_cam: np.ndarray,
    stride: int = 3,
    below_z: float | None = None,
    threshold_m: float = 0.008,
    max_angle_deg: float = 20.0,
    min_points: int = 200,
) -> tuple[np.ndarray, float]:
    """The near-horizontal plane ``(n, d)`` (base frame, n up) of a depth image, and the
    fraction of the points on it. ``below_z`` keeps only points below that height (the
    table under an object). Raises ``ValueError`` with too few points."""
    pts = backproject_depth(K, depth_m)[::stride, ::stride]
    pts = transform_points(T_base_cam, pts[pts[..., 2] > 0])
    if below_z is not None:
        pts = pts[pts[:, 2] < below_z]
    if len(pts) < min_points:
        raise ValueError(f"only {len(pts)} depth points to fit a plane to (need {min_points})")
    plane, inliers = fit_plane_ransac(
        pts,
        threshold_m,
        300,
        np.random.default_rng(0),
        normal_hint=np.array([0, 0, 1.0]),
        max_angle_deg=max_angle_deg,
    )
    return plane, float(inliers.mean())
