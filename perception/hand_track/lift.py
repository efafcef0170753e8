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

:func:`lift_hand` does this for one frame (one scale per frame: the hand's size drifts
between frames). ``track-hand`` uses :func:`lift_sequence`: one skeleton and one scale for
the whole video, each frame's first fit on the palm's keypoints (docs/hand_size.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

SKIN_OFFSET_M = 0.008  # joint centre behind the visible skin
DEPTH_INLIER_M = 0.03  # a keypoint agrees with the depth within this of the skin offset
PX_SIGMA = 3.0
DEPTH_SIGMA_M = 0.01
OCCLUDED_SIGMA_M = 0.04
SCALE_SIGMA = 0.15
PALM_KEYPOINTS = np.isin(np.arange(21), (0, 1, 5, 9, 13, 17))  # wrist and knuckles


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


def depth_agrees(z: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Which keypoints at depth ``z`` (metres, camera frame) agree with the depth ``d``
    measured under them (:func:`keypoint_depths`; 0: none): the joint centre lies
    ``SKIN_OFFSET_M`` behind the skin, give or take ``DEPTH_INLIER_M``."""
    return (d > 0) & (np.abs(z - (d + SKIN_OFFSET_M)) < DEPTH_INLIER_M)


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
    inliers = use & depth_agrees(P[:, 2], d)
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


# ------------------------------------------------------------------ one hand size per video
def _fit_translation(
    px: np.ndarray,
    shape: np.ndarray,
    d: np.ndarray,
    use: np.ndarray,
    K: np.ndarray,
    scale: float | None,
    x0: np.ndarray,
):
    """Least squares for one frame: ``P = s·shape + t``; ``s`` fixed unless ``scale`` is
    None. The residuals are those of :func:`lift_hand` without its scale prior."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]

    def residuals(x: np.ndarray) -> np.ndarray:
        s, t = (x[0], x[1:]) if scale is None else (scale, x)
        P = s * shape + t
        z = np.maximum(P[:, 2], 1e-3)
        reproj = np.concatenate(
            [fx * P[:, 0] / z + cx - px[:, 0], fy * P[:, 1] / z + cy - px[:, 1]]
        )
        r = P[use, 2] - (d[use] + SKIN_OFFSET_M)
        dep = np.where(r < 0, r / DEPTH_SIGMA_M, r / OCCLUDED_SIGMA_M)
        return np.concatenate([reproj / PX_SIGMA, dep])

    sol = least_squares(residuals, x0, loss="soft_l1", f_scale=1.0)
    s, t = (sol.x[0], sol.x[1:]) if scale is None else (scale, sol.x)
    return float(s), t, float(sol.cost)


def _reproj_rms(P: np.ndarray, px: np.ndarray, K: np.ndarray) -> float:
    z = np.maximum(P[:, 2], 1e-3)
    proj = np.stack([K[0, 0] * P[:, 0] / z + K[0, 2], K[1, 1] * P[:, 1] / z + K[1, 2]], axis=1)
    return float(np.sqrt(np.mean(np.sum((proj - px) ** 2, axis=1))))


@dataclass(frozen=True)
class SequenceLift:
    """A video's hand lifted with one skeleton: ``keypoints_cam[i] = scale·shape_i + t_i``,
    every frame's bones exactly ``bone_lengths_m``."""

    keypoints_cam: np.ndarray  # (N, 21, 3); NaN where not lifted
    lifted: np.ndarray  # (N,) bool: enough depth under the hand
    bone_lengths_m: np.ndarray  # (20,) the video's hand (skeleton.BONES order)
    frame_scale_ratio: np.ndarray  # (N,) the frame's own best size / the video's; NaN
    reproj_rms_px: np.ndarray  # (N,)
    depth_inliers: np.ndarray  # (N,) int
    fit_frames: int  # frames that decided the size


def lift_sequence(
    px: np.ndarray,
    world: np.ndarray,
    depths: list,
    K: np.ndarray,
    use_frames: np.ndarray,
    min_depth_points: int = 3,
    frame_size_tol: float = 1.33,
) -> SequenceLift:
    """Lift every frame of ``use_frames`` with one hand skeleton for the whole video.

    The skeleton's proportions are the median of MediaPipe's bone lengths over those
    frames; each frame's pose is MediaPipe's bone directions with those lengths
    (:func:`skeleton.rebuild`). One scale — the hand's size — is shared by all frames and
    fitted jointly with each frame's translation to the 2D keypoints and the depth (the
    asymmetric, occlusion-aware residuals of :func:`lift_hand`), plus a weak
    anthropometric prior on the hand length (:data:`skeleton.HAND_LENGTH_PRIOR_M`):

    1. each frame alone (free scale) → a per-frame size; the median is the start;
    2. frames whose own size is within ×``frame_size_tol`` of it decide the size: a 1D
       bounded search of the summed robust cost, each frame's translation re-fitted;
    3. every frame is re-fitted at that size, its depth outliers (> 3 cm) dropped.

    ``depths[i]`` is frame i's depth image (metres) or a callable returning it.
    """
    from scipy.optimize import minimize_scalar

    from h2s2r.perception.hand_track.skeleton import (
        HAND_LENGTH_BONES,
        HAND_LENGTH_PRIOR_M,
        bone_lengths,
        rebuild,
    )

    n = len(px)
    kp = np.full((n, 21, 3), np.nan)
    lifted = np.zeros(n, dtype=bool)
    ratio = np.full(n, np.nan)
    rms = np.full(n, np.nan)
    inl = np.zeros(n, dtype=int)
    frames = [int(i) for i in np.nonzero(use_frames)[0]]
    template = np.median(bone_lengths(world[frames]), axis=0) if frames else np.zeros(20)
    data = {}
    for i in frames:
        dm = depths[i]() if callable(depths[i]) else depths[i]
        d = keypoint_depths(dm, px[i])
        use = d > 0
        if use.sum() < min_depth_points:
            continue
        shape = rebuild(world[i], template)
        shape = shape - shape.mean(axis=0)
        z0 = float(np.median(d[use])) + SKIN_OFFSET_M
        c = px[i].mean(axis=0)
        t0 = np.array([(c[0] - K[0, 2]) * z0 / K[0, 0], (c[1] - K[1, 2]) * z0 / K[1, 1], z0])
        # First the palm's keypoints: a thin finger's keypoint often sees past the finger
        # (the background reads far behind it, which the asymmetric residual would take
        # for a hand floating in free space and push the hand back, larger); then every
        # keypoint whose depth agrees within 3 cm.
        first = use & PALM_KEYPOINTS if (use & PALM_KEYPOINTS).sum() >= min_depth_points else use
        s_i, t_i, _ = _fit_translation(px[i], shape, d, first, K, None, np.r_[1.0, t0])
        P = s_i * shape + t_i
        inliers = use & depth_agrees(P[:, 2], d)
        if inliers.sum() < min_depth_points:
            inliers = use
        if not np.array_equal(inliers, first):
            s_i, t_i, _ = _fit_translation(px[i], shape, d, inliers, K, None, np.r_[s_i, t_i])
        data[i] = dict(d=d, use=use, inliers=inliers, shape=shape, s=s_i, t=t_i)
    if not data:
        return SequenceLift(kp, lifted, template, ratio, rms, inl, 0)

    s0 = float(np.median([v["s"] for v in data.values()]))
    deciding = [i for i, v in data.items() if 1 / frame_size_tol <= v["s"] / s0 <= frame_size_tol]
    ell = float(np.sum(template[list(HAND_LENGTH_BONES)]))
    mu, sd = HAND_LENGTH_PRIOR_M

    def total(s: float) -> float:
        cost = 0.5 * ((s * ell - mu) / sd) ** 2
        for i in deciding:
            v = data[i]
            _, _, c = _fit_translation(px[i], v["shape"], v["d"], v["inliers"], K, s, v["t"])
            cost += c
        return cost

    best = minimize_scalar(
        total, bounds=(s0 / 1.5, s0 * 1.5), method="bounded", options={"xatol": 1e-4 * s0}
    )
    s = float(best.x)
    for i, v in data.items():
        _, t, _ = _fit_translation(px[i], v["shape"], v["d"], v["inliers"], K, s, v["t"])
        P = s * v["shape"] + t
        inliers = v["use"] & (np.abs(P[:, 2] - (v["d"] + SKIN_OFFSET_M)) < 0.03)
        if inliers.sum() >= min_depth_points and not np.array_equal(inliers, v["inliers"]):
            _, t, _ = _fit_translation(px[i], v["shape"], v["d"], inliers, K, s, t)
            P = s * v["shape"] + t
        kp[i] = rebuild(P, s * template)  # the same bones exactly (rounding)
        lifted[i] = True
        ratio[i] = v["s"] / s
        rms[i] = _reproj_rms(kp[i], px[i], K)
        inl[i] = int(inliers.sum())
    return SequenceLift(kp, lifted, s * template, ratio, rms, inl, len(deciding))
