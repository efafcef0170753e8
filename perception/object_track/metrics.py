"""Pose-error metrics against ground truth (YCB-Video conventions).

- translation error (m), rotation error (deg, modulo the object's symmetry);
- ADD: mean distance of model points under the two poses;
- ADD-S: mean distance of each point to the *closest* point under the other pose
  (symmetry-agnostic); its AUC is the area under the accuracy–threshold curve for
  thresholds up to 0.1 m, normalised to [0, 1]. Frames without a valid estimate count as
  failures (infinite error).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from h2s2r.core.geometry import rot_x, rot_y, rot_z, rotation_angle_between, transform_points

_BOX_SYMMETRIES = np.stack([np.eye(3), rot_x(np.pi), rot_y(np.pi), rot_z(np.pi)])


def rotation_error_deg(R_est: np.ndarray, R_gt: np.ndarray, symmetry: str = "none") -> np.ndarray:
    """Geodesic rotation error (deg) modulo the shape's symmetry group."""
    R_est, R_gt = np.asarray(R_est), np.asarray(R_gt)
    if symmetry == "none":
        err = rotation_angle_between(R_est, R_gt)
    elif symmetry == "box":
        err = np.min([rotation_angle_between(R_est, R_gt @ S) for S in _BOX_SYMMETRIES], axis=0)
    elif symmetry == "cylinder_z":  # only the axis is defined, and up to its sign
        c = np.abs(np.sum(R_est[..., :, 2] * R_gt[..., :, 2], axis=-1))
        err = np.arccos(np.clip(c, -1.0, 1.0))
    else:
        raise ValueError(f"unknown symmetry {symmetry!r}")
    return np.degrees(err)


def add_errors(
    points_obj: np.ndarray, T_est: np.ndarray, T_gt: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame ADD and ADD-S (m) of ``T_est (N,4,4)`` against ``T_gt``."""
    add = np.empty(len(T_est))
    adds = np.empty(len(T_est))
    for i in range(len(T_est)):
        pe = transform_points(T_est[i], points_obj)
        pg = transform_points(T_gt[i], points_obj)
        add[i] = np.linalg.norm(pe - pg, axis=1).mean()
        adds[i] = cKDTree(pe).query(pg, k=1)[0].mean()
    return add, adds


def auc(errors: np.ndarray, max_threshold: float = 0.1) -> float:
    """Area under accuracy(threshold) for thresholds in [0, max], normalised to [0, 1]."""
    e = np.sort(np.where(np.isfinite(errors), errors, np.inf))
    t = np.linspace(0.0, max_threshold, 1001)
    acc = np.searchsorted(e, t, side="right") / max(len(e), 1)
    return float(np.trapezoid(acc, t) / max_threshold)


def pose_metrics(
    T_est: np.ndarray,
    valid: np.ndarray,
    T_gt: np.ndarray,
    points_obj: np.ndarray,
    symmetry: str,
    from_frame: int = 0,
) -> dict[str, float]:
    """Flat metrics over frames ``from_frame..`` (``valid`` frames; ADD-S AUC over all)."""
    sel = np.arange(len(T_gt)) >= from_frame
    v = valid & sel
    if not np.any(v):
        return {"add_s_auc": 0.0, "valid_fraction_after_init": 0.0}
    te = np.linalg.norm(T_est[v, :3, 3] - T_gt[v, :3, 3], axis=1)
    re = rotation_error_deg(T_est[v, :3, :3], T_gt[v, :3, :3], symmetry)
    add, adds = add_errors(points_obj, T_est[v], T_gt[v])
    adds_all = np.full(int(sel.sum()), np.inf)
    adds_all[v[sel]] = adds
    return {
        "trans_err_mean_m": float(te.mean()),
        "trans_err_p95_m": float(np.percentile(te, 95)),
        "trans_err_max_m": float(te.max()),
        "rot_err_mean_deg": float(re.mean()),
        "rot_err_p95_deg": float(np.percentile(re, 95)),
        "add_mean_m": float(add.mean()),
        "add_s_mean_m": float(adds.mean()),
        "add_s_auc": auc(adds_all),
        "valid_fraction_after_init": float(v.sum() / sel.sum()),
    }
