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
from h2s2r.core.xp import is_torch, namespace


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
        self._device_constants: dict = {}
        self.R_site = quat_to_matrix(model.site_quat[site])
        self.p_site = model.site_pos[site].copy()

    def _constants(self, like) -> tuple:
        """The chain's constants as arrays like ``like``: numpy, or torch on its device
        and float type (converted once per kind)."""
        if not is_torch(like):
            return self.bodies, self.R_site, self.p_site
        key = (str(like.device), like.dtype)
        if key not in self._device_constants:
            import torch

            def t(a):
                return (
                    None if a is None else torch.as_tensor(a, device=like.device, dtype=like.dtype)
                )

            bodies = [
                (t(R), t(p), [(adr, col, t(V), t(KK)) for adr, col, V, KK in joints])
                for R, p, joints in self.bodies
            ]
            self._device_constants[key] = (bodies, t(self.R_site), t(self.p_site))
        return self._device_constants[key]

    def __call__(self, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Site pose ``(B, 4, 4)`` and geometric Jacobian ``(B, 6, len(joint_ids))`` (linear
        rows first, world frame) for configurations ``qpos (B, nq)`` (numpy, or torch on
        any device).

        Column ``j``: ``[a_j × (p − o_j); a_j]`` for a hinge axis ``a_j`` through anchor
        ``o_j``, ``[a_j; 0]`` for a slide joint, zero for joints that do not move the site.
        """
        if is_torch(qpos):
            xp = namespace(qpos)
            qpos = qpos[None] if qpos.ndim == 1 else qpos
        else:
            xp = np
            qpos = np.atleast_2d(np.asarray(qpos, dtype=np.float64))
        bodies, R_site, p_site = self._constants(qpos)
        batch, kw = qpos.shape[0], {"dtype": qpos.dtype, "device": getattr(qpos, "device", None)}
        if xp is np:
            kw = {"dtype": qpos.dtype}
        R = xp.broadcast_to(xp.eye(3, **kw), (batch, 3, 3))
        p = xp.zeros((batch, 3), **kw)
        axes: list[tuple[int, np.ndarray, np.ndarray | None]] = []
        for R_body, p_body, joints in bodies:
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
                s, c = xp.sin(q), 1.0 - xp.cos(q)
                p = p - RV[..., 0] * s - RV[..., 1] * c
                RK = R @ KK
                R = R + RK[..., :3] * s[:, :, None] + RK[..., 3:] * c[:, :, None]
        pos = R @ p_site + p
        bottom = xp.broadcast_to(xp.asarray([0.0, 0.0, 0.0, 1.0], **kw), (batch, 1, 4))
        T = xp.concat([xp.concat([R @ R_site, pos[..., None]], axis=2), bottom], axis=1)
        columns = [xp.zeros((batch, 6), **kw) for _ in range(self.num_columns)]
        for col, axis, anchor in axes:
            if anchor is None:
                columns[col] = xp.concat([axis, xp.zeros_like(axis)], axis=1)
            else:
                columns[col] = xp.concat([xp.linalg.cross(axis, pos - anchor), axis], axis=1)
        J = xp.stack(columns, axis=2) if columns else xp.zeros((batch, 6, 0), **kw)
        return T, J


def site_poses(model: mujoco.MjModel, qpos: np.ndarray, site_ids: np.ndarray) -> np.ndarray:
    """World poses ``(B, len(site_ids), 4, 4)`` of sites for configurations ``qpos (B, nq)``.

    Supports fixed bases, hinge and slide joints (robot arms and hands); a free or ball
    joint on a site's chain raises ``ValueError``.
    """
    return np.stack([SiteChain(model, s, [])(qpos)[0] for s in site_ids], axis=1)
