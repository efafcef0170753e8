"""Forward kinematics of a compiled MuJoCo tree in numpy, for checks and batched use.

Walks ``body_pos``/``body_quat`` and hinge/slide joints from the root, for many
configurations at once. It is an independent implementation of what ``mj_kinematics``
computes for hinge chains (tests compare the two), and it is cheap to batch.
"""

from __future__ import annotations

import mujoco
import numpy as np

from pipeline.geometry import hat, make_T, quat_to_matrix


def forward(
    model: mujoco.MjModel, qpos: np.ndarray, bodies: np.ndarray | None = None
) -> tuple[np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Body poses ``(nbody, B, 4, 4)`` and, per hinge joint, its world axis and anchor
    ``((B, 3), (B, 3))``, for configurations ``qpos (B, nq)``.

    ``bodies`` limits the walk to those bodies (they and their ancestors must be listed in
    increasing order, as MuJoCo numbers them); the others stay zero.
    """
    qpos = np.atleast_2d(np.asarray(qpos, dtype=np.float64))
    batch = qpos.shape[0]
    order = range(1, model.nbody) if bodies is None else bodies
    # Rotations and positions are walked separately (cheaper than 4×4 products); the
    # bodies' fixed rotations are converted once.
    R_body = quat_to_matrix(model.body_quat)
    R_world = {0: np.broadcast_to(np.eye(3), (batch, 3, 3))}
    p_world = {0: np.zeros((batch, 3))}
    T_world = np.zeros((model.nbody, batch, 4, 4))
    T_world[0] = np.eye(4)
    joints: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for b in order:
        parent = model.body_parentid[b]
        R = R_world[parent] @ R_body[b]
        p = R_world[parent] @ model.body_pos[b] + p_world[parent]
        for j in range(model.body_jntadr[b], model.body_jntadr[b] + model.body_jntnum[b]):
            jtype = model.jnt_type[j]
            q = qpos[:, model.jnt_qposadr[j]]
            axis = model.jnt_axis[j]
            anchor = model.jnt_pos[j]
            if jtype == mujoco.mjtJoint.mjJNT_HINGE:
                joints[j] = (R @ axis, R @ anchor + p)
                # Rotation about the joint axis through its anchor (body frame), Rodrigues.
                R_q = _axis_rotation(axis, q)
                p = p + np.einsum("bij,bj->bi", R, anchor - R_q @ anchor)
                R = R @ R_q
            elif jtype == mujoco.mjtJoint.mjJNT_SLIDE:
                p = p + R @ axis * q[:, None]
            else:
                raise ValueError(f"body {model.body(b).name}: free/ball joints not supported")
        R_world[b], p_world[b] = R, p
        T_world[b, :, :3, :3] = R
        T_world[b, :, :3, 3] = p
        T_world[b, :, 3, 3] = 1.0
    return T_world, joints


def _axis_rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """``(B, 3, 3)`` rotations by ``angle (B,)`` about the fixed ``axis (3,)``."""
    K = hat(axis / np.linalg.norm(axis))
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3) + s * K + (1.0 - c) * (K @ K)


def site_poses(model: mujoco.MjModel, qpos: np.ndarray, site_ids: np.ndarray) -> np.ndarray:
    """World poses ``(B, len(site_ids), 4, 4)`` of sites for configurations ``qpos (B, nq)``.

    Supports fixed bases, hinge and slide joints (robot arms and hands); bodies with free
    or ball joints raise ``ValueError``.
    """
    qpos = np.atleast_2d(np.asarray(qpos, dtype=np.float64))
    batch = qpos.shape[0]
    T_world, _ = forward(model, qpos)
    out = np.empty((batch, len(site_ids), 4, 4))
    for k, s in enumerate(site_ids):
        T_site = make_T(quat_to_matrix(model.site_quat[s]), model.site_pos[s])
        out[:, k] = T_world[model.site_bodyid[s]] @ T_site
    return out


def site_jacobian(
    model: mujoco.MjModel, qpos: np.ndarray, site: int, joint_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Site pose ``(B, 4, 4)`` and geometric Jacobian ``(B, 6, len(joint_ids))`` (linear
    rows first, world frame) with respect to the given hinge joints, batched.

    Column ``j``: ``[a_j × (p − o_j); a_j]`` for joint axis ``a_j`` through anchor ``o_j``
    (zero for joints that do not move the site).
    """
    qpos = np.atleast_2d(np.asarray(qpos, dtype=np.float64))
    chain = []
    b = int(model.site_bodyid[site])
    while b > 0:
        chain.append(b)
        b = int(model.body_parentid[b])
    T_world, joints = forward(model, qpos, np.array(sorted(chain)))
    T_site = T_world[model.site_bodyid[site]] @ make_T(
        quat_to_matrix(model.site_quat[site]), model.site_pos[site]
    )
    p = T_site[:, :3, 3]
    J = np.zeros((qpos.shape[0], 6, len(joint_ids)))
    for k, j in enumerate(joint_ids):
        if int(j) in joints:
            axis, anchor = joints[int(j)]
            J[:, :3, k] = np.cross(axis, p - anchor)
            J[:, 3:, k] = axis
    return T_site, J
