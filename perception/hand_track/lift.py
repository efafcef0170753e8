"""Lifting MediaPipe's hand to 3D in the camera frame with the depth image.

Reading the depth at each 2D keypoint fails exactly when it matters: the fingers touching
an object are hidden by it, and the depth there is the object's. Instead the hand's
*shape* comes from MediaPipe's relative 3D landmarks ``W`` (metric, camera-aligned axes)
and only a scale ``s`` and an offset ``t`` are fitted, ``P_i = s·W_i + t``, to

- the 2D keypoints (reprojection, σ = 3 px), and
- the measured depth at the keypoints that show skin (the surface lies ~8 mm in front of
  the joint centre), asymmetrically: a joint may lie behind the measured surface
  (occluded by the object or by other fingers) far more easily than in front of it (free
  space); keypoints whose depth disagrees by more than 3 cm after a first fit are dropped
  and the fit repeated;
- a weak prior on the scale (MediaPipe's hand size is already metric).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

SKIN_OFFSET_M = 0.008  # joint centre behind the visible skin
PX_SIGMA = 3.0
DEPTH_SIGMA_M = 0.01
OCCLUDED_SIGMA_M = 0.04
SCALE_SIGMA = 0.15


@dataclass(frozen=True)
class LiftResult:
    keypoints_cam: np.ndarray  # (21, 3)
    scale: float
    depth_inliers: int
    reproj_rms_px: float


def keypoint_depths(depth_m: np.ndarray, px: np.ndarray, radius: int = 2) -> np.ndarray:
    """Median valid depth in a small window at each keypoint (0 where none)."""
    h, w = depth_m.shape
    out = np.zeros(len(px))
    for i, (u, v) in enumerate(np.rint(px).astype(int)):
        if not (0 <= u < w and 0 <= v < h):
            continue
        win = depth_m[max(v - radius, 0) : v + radius + 1, max(u - radius, 0) : u + radius + 1]
        vals = win[win > 0]
        if len(vals):
            out[i] = float(np.median(vals))
    return out


def lift_hand(
    px: np.ndarray, world: np.ndarray, depth_m: np.ndarray, K: np.ndarray, min_depth_points: int = 3
) -> LiftResult | None:
    """Camera-frame keypoints, or None when too few keypoints have usable depth."""
    d = keypoint_depths(depth_m, px)
    use = d > 0
    if use.sum() < min_depth_points:
        return None
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]

    def residuals(x: np.ndarray, use_depth: np.ndarray) -> np.ndarray:
        s, t = x[0], x[1:]
        P = s * world + t
        z = np.maximum(P[:, 2], 1e-3)
        reproj = (
            np.stack(
                [fx * P[:, 0] / z + cx - px[:, 0], fy * P[:, 1] / z + cy - px[:, 1]], axis=1
            ).ravel()
            / PX_SIGMA
        )
        r = P[use_depth, 2] - (d[use_depth] + SKIN_OFFSET_M)
        # Asymmetric: a joint in front of the measured surface is impossible (free space);
        # behind it is what occlusion (by the object, by other fingers) looks like.
        dep = np.where(r < 0, r / DEPTH_SIGMA_M, r / OCCLUDED_SIGMA_M)
        return np.concatenate([reproj, dep, [(s - 1.0) / SCALE_SIGMA]])

    # Start: the hand centre on the ray through its 2D centroid, at the median depth.
    z0 = float(np.median(d[use])) + SKIN_OFFSET_M
    c = px.mean(axis=0)
    x0 = np.array([1.0, (c[0] - cx) * z0 / fx, (c[1] - cy) * z0 / fy, z0])
    sol = least_squares(residuals, x0, args=(use,), loss="soft_l1", f_scale=1.0)
    # Drop keypoints whose depth is another surface (an occluding object), refit.
    P = sol.x[0] * world + sol.x[1:]
    inliers = use & (np.abs(P[:, 2] - (d + SKIN_OFFSET_M)) < 0.03)
    if inliers.sum() >= min_depth_points and inliers.sum() < use.sum():
        sol = least_squares(residuals, sol.x, args=(inliers,), loss="soft_l1", f_scale=1.0)
    else:
        inliers = use if inliers.sum() < min_depth_points else inliers
    s, t = sol.x[0], sol.x[1:]
    P = s * world + t
    z = np.maximum(P[:, 2], 1e-3)
    proj = np.stack([fx * P[:, 0] / z + cx, fy * P[:, 1] / z + cy], axis=1)
    rms = float(np.sqrt(np.mean(np.sum((proj - px) ** 2, axis=1))))
    return LiftResult(
        keypoints_cam=P, scale=float(s), depth_inliers=int(inliers.sum()), reproj_rms_px=rms
    )
