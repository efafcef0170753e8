"""Forward kinematics of a compiled MuJoCo tree in numpy, for checks and batched use.

Walks ``body_pos``/``body_quat`` and hinge/slide joints from the root to a site, for many
configurations at once. It is an independent implementation of what ``mj_kinematics``
and ``mj_jacSite`` compute for hinge chains (tests compare them), and it is cheap to
batch.
"""

from __future__ import annotations

import mujoco
import numpy as np

from h2s2r.core.geometry import hat, quat_to_matrix


class SiteChain:
    """The pose and Jacobian of one site, batched, with the walk from the root prepared
    once: each body on the chain keeps its fixed rotation and offset, each joint the
    vectors it rotates into the world (a hinge: ``K a``, ``K² a``, its axis and anchor
    ``a``, with ``K`` the axis' skew matrix) and a hinge ``[K | K²]``. A call is then two
    batched products per joint (the controller's differential IK calls it every policy
    step).

    ``joint_ids``: the hinge or slide joints whose Jacobian columns are wanted, in this
    order.
    """

    def __init__(self, model: mujoco.MjModel, site: int, joint_ids: np.ndarray):
        chain = []
        b = int(model.site_bodyid[site])
        while b > 0:
            chain.append(b)
            b = int(model.body_parentid[b])
        column = {int(j): k for k, j in enumerate(joint_ids)}
        self.num_columns = len(joint_ids)
        self.bodies = []
        for b in reversed(chain):
            joints = []
            for j in range(model.body_jntadr[b], model.body_jntadr[b] + model.body_jntnum[b]):
                axis, anchor = model.jnt_axis[j].copy(), model.jnt_pos[j].copy()
                adr, col = int(model.jnt_qposadr[j]), column.get(j)
                if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE:
                    K = hat(axis / np.linalg.norm(axis))
                    V = np.stack([K @ anchor, K @ K @ anchor, axis, anchor], axis=1)
                    joints.append((adr, col, V, np.hstack([K, K @ K])))
                elif model.jnt_type[j] == mujoco.mjtJoint.mjJNT_SLIDE:
                    joints.append((adr, col, axis[:, None], None))
                else:
                    raise ValueError(f"body {model.body(b).name}: free/ball joints not supported")
            self.bodies.append(
                (quat_to_matrix(model.body_quat[b]), model.body_pos[b].copy(), joints)
            )
        self.R_site = quat_to_matrix(model.site_quat[site])
        self.p_site = model.site_pos[site].copy()

    def __call__(self, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Site pose ``(B, 4, 4)`` and geometric Jacobian ``(B, 6, len(joint_ids))`` (linear
        rows first, world frame) for configurations ``qpos (B, nq)``.

        Column ``j``: ``[a_j × (p − o_j); a_j]`` for a hinge axis ``a_j`` through anchor
        ``o_j``, ``[a_j; 0]`` for a slide joint, zero for joints that do not move the site.
        """
        qpos = np.atleast_2d(np.asarray(qpos, dtype=np.float64))
        batch = qpos.shape[0]
        R = np.broadcast_to(np.eye(3), (batch, 3, 3))
        p = np.zeros((batch, 3))
        axes: list[tuple[int, np.ndarray, np.ndarray | None]] = []
        for R_body, p_body, joints in self.bodies:
            p = R @ p_body + p
            R = R @ R_body
            for adr, col, V, KK in joints:
                q = qpos[:, adr, None]
                RV = R @ V  # the joint's vectors in the world frame
                if KK is None:  # slide
                    if col is not None:
                        axes.append((col, RV[..., 0], None))
                    p = p + RV[..., 0] * q
                    continue
                if col is not None:
                    axes.append((col, RV[..., 2], RV[..., 3] + p))
                # Rotation about the axis through the anchor (Rodrigues):
                # R_q = I + sin q K + (1 - cos q) K², and the anchor stays in place.
                s, c = np.sin(q), 1.0 - np.cos(q)
                p = p - RV[..., 0] * s - RV[..., 1] * c
                RK = R @ KK
                R = R + RK[..., :3] * s[:, :, None] + RK[..., 3:] * c[:, :, None]
        T = np.zeros((batch, 4, 4))
        T[:, :3, :3] = R @ self.R_site
        T[:, :3, 3] = R @ self.p_site + p
        T[:, 3, 3] = 1.0
        J = np.zeros((batch, 6, self.num_columns))
        for col, axis, anchor in axes:
            if anchor is None:
                J[:, :3, col] = axis
            else:
                J[:, :3, col] = np.cross(axis, T[:, :3, 3] - anchor)
                J[:, 3:, col] = axis
        return T, J


def site_poses(model: mujoco.MjModel, qpos: np.ndarray, site_ids: np.ndarray) -> np.ndarray:
    """World poses ``(B, len(site_ids), 4, 4)`` of sites for configurations ``qpos (B, nq)``.

    Supports fixed bases, hinge and slide joints (robot arms and hands); a free or ball
    joint on a site's chain raises ``ValueError``.
    """
    return np.stack([SiteChain(model, s, [])(qpos)[0] for s in site_ids], axis=1)
