"""What every backend shares: simulation flags and the joint-target ramp."""

from __future__ import annotations

import mujoco
import numpy as np

from h2s2r.core.xp import namespace


def keep_divergence(model: mujoco.MjModel) -> mujoco.MjModel:
    """Disable MuJoCo's automatic reset of a diverged simulation (``mjDSBL_AUTORESET``):
    a world that blows up keeps its NaN so the task sees it (the default silently resets
    it to ``qpos0`` in mid-rollout: a teleported object, an episode that looks merely
    failed)."""
    model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_AUTORESET
    return model


def interpolate_targets(previous: np.ndarray, target: np.ndarray, substeps: int) -> np.ndarray:
    """Joint targets ramped linearly from ``previous`` to ``target`` over the substeps:
    ``(B, nu)`` twice → ``(B, S, nu)`` (numpy, or torch on the targets' device)."""
    xp = namespace(previous)
    s = xp.arange(1, substeps + 1, dtype=previous.dtype, device=_device(previous)) / substeps
    return previous[:, None, :] + s[None, :, None] * (target - previous)[:, None, :]


def _device(x):
    return getattr(x, "device", "cpu") if namespace(x) is not np else "cpu"
