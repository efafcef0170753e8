"""Which of a symmetric object's equal-looking poses is meant.

Depth alone cannot tell a box from itself turned 180° about one of its axes (nor a can
turned about its axis); the tracker returns any of them. A policy, though, was trained on
one continuous orientation, starting at the demo's. :func:`closest_equivalent` picks,
among the poses that look the same, the one whose orientation is nearest a prior (the
demo's first pose, then the last pose published).
"""

from __future__ import annotations

import numpy as np

from h2s2r.core.geometry import rot_x, rot_y, rot_z, rotation_angle_between

_BOX = np.stack([np.eye(3), rot_x(np.pi), rot_y(np.pi), rot_z(np.pi)])
_CYLINDER = np.stack(
    [rot_z(a) @ f for a in np.radians(np.arange(0, 360, 5)) for f in (np.eye(3), rot_x(np.pi))]
)


def symmetries(symmetry: str) -> np.ndarray:
    """``(K, 3, 3)`` rotations (object frame) that map the shape onto itself."""
    if symmetry == "box":
        return _BOX
    if symmetry == "cylinder_z":
        return _CYLINDER
    if symmetry == "none":
        return np.eye(3)[None]
    raise ValueError(f"unknown symmetry {symmetry!r}")


def closest_equivalent(
    T_a_obj: np.ndarray, R_a_prior: np.ndarray, symmetry: str, center_obj: np.ndarray
) -> np.ndarray:
    """The pose among ``T_a_obj``'s symmetric equivalents (rotations about the shape's
    axes through ``center_obj``) whose rotation is nearest ``R_a_prior``."""
    S = symmetries(symmetry)
    R = T_a_obj[:3, :3] @ S  # (K, 3, 3)
    k = int(np.argmin(rotation_angle_between(R, np.broadcast_to(R_a_prior, R.shape))))
    out = T_a_obj.copy()
    out[:3, :3] = R[k]
    # The same centre: T c = T' c, so t' = t + R c - R S c.
    out[:3, 3] = T_a_obj[:3, 3] + T_a_obj[:3, :3] @ center_obj - R[k] @ center_obj
    return out


__all__ = ["closest_equivalent", "symmetries"]
