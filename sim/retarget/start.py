"""When does the manipulation start? Object speed with hysteresis, robust to jitter.

The object's surface speed (translation plus rotation times its radius) is computed from
the track with a centred difference over a short window. The noise level at rest is
measured on the first frames; motion is declared when the speed stays above a high
threshold for a few frames, and its start is the last frame before that run where the
speed was still below the low threshold (the hysteresis), plus one. The pre-manipulation
frame is the frame before the start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import T_inv, so3_log


@dataclass(frozen=True)
class MotionSegment:
    start_idx: int  # first frame in which the object has moved
    pre_manip_idx: int  # last frame before it
    end_idx: int  # last frame of the motion (the object is at rest after it)
    speed_m_s: np.ndarray  # (N,) surface speed, NaN where unknown
    threshold_m_s: tuple[float, float]  # (low, high)


def fill_invalid(T: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Poses with gaps filled by linear interpolation of position / nearest rotation."""
    out = T.copy()
    idx = np.nonzero(valid)[0]
    if len(idx) == 0:
        raise H2S2RError("the object track has no valid frame")
    n = len(T)
    for k in range(3):
        out[:, k, 3] = np.interp(np.arange(n), idx, T[idx, k, 3])
    nearest = idx[np.abs(np.arange(n)[:, None] - idx[None]).argmin(axis=1)]
    out[:, :3, :3] = T[nearest, :3, :3]
    out[:, 3] = [0, 0, 0, 1]
    return out


def surface_speed(
    T: np.ndarray, fps: float, radius_m: float, half_window: int = 2, symmetry: str = "none"
) -> np.ndarray:
    """Speed (m/s) of the object's surface: |v| + radius·|ω|, centred differences.

    For a shape symmetric about its z axis (``cylinder_z``) only the axis' own turning
    counts: a tracker may spin such an object about its axis freely.
    """
    n = len(T)
    speed = np.full(n, np.nan)
    k = half_window
    for i in range(n):
        a, b = max(i - k, 0), min(i + k, n - 1)
        if b == a:
            continue
        dt = (b - a) / fps
        v = np.linalg.norm(T[b, :3, 3] - T[a, :3, 3]) / dt
        if symmetry == "cylinder_z":
            c = float(np.clip(T[a, :3, 2] @ T[b, :3, 2], -1.0, 1.0))
            w = np.arccos(c) / dt
        else:
            w = np.linalg.norm(so3_log((T_inv(T[a]) @ T[b])[:3, :3])) / dt
        speed[i] = v + radius_m * w
    return speed


def detect_motion(
    T_cam_obj: np.ndarray,
    valid: np.ndarray,
    fps: float,
    radius_m: float,
    min_high: float = 0.03,
    min_low: float = 0.01,
    sustain_frames: int = 3,
    min_displacement_m: float = 0.01,
    symmetry: str = "none",
) -> MotionSegment:
    """Find the object's motion in a track (see the module docstring)."""
    T = fill_invalid(T_cam_obj, valid)
    disp = np.linalg.norm(T[:, :3, 3] - T[0, :3, 3], axis=1)
    if disp.max() < min_displacement_m:
        raise H2S2RError(
            f"the object never moves (largest displacement {disp.max() * 1e3:.1f} mm < "
            f"{min_displacement_m * 1e3:.0f} mm): check object_track/ (overlay) or the demo"
        )
    speed = surface_speed(T, fps, radius_m, symmetry=symmetry)
    rest = speed[: max(5, min(15, len(speed) // 6))]
    noise = float(np.nanmedian(rest)) if np.isfinite(rest).any() else 0.0
    low, high = max(min_low, 2.0 * noise), max(min_high, 4.0 * noise)
    fast = speed > high
    run_start = None
    for i in range(len(fast) - sustain_frames + 1):
        if fast[i : i + sustain_frames].all():
            run_start = i
            break
    if run_start is None:
        raise H2S2RError(
            f"the object moves {disp.max() * 1e3:.0f} mm but never faster than "
            f"{high:.3f} m/s for {sustain_frames} frames: too slow or too jittery "
            "to find the start of manipulation"
        )
    start = run_start
    while start > 0 and not speed[start - 1] < low:
        start -= 1
    # The centred difference spreads motion half a window early; the first moving frame is
    # where the pose first departs from its rest pose by more than the noise.
    rest_pose = T[max(start - 1, 0)]
    jitter = np.median(np.abs(np.diff(T[: max(start, 2), :3, 3], axis=0)), axis=0)
    tol = max(0.0015, 3.0 * float(np.linalg.norm(jitter)))
    while start < run_start and np.linalg.norm(T[start, :3, 3] - rest_pose[:3, 3]) < tol:
        start += 1
    start = max(start, 1)
    end = len(T) - 1
    after = np.nonzero(speed[run_start:] < low)[0]
    if len(after):
        # The first sustained rest after the motion.
        for j in after:
            i = run_start + j
            if np.all(speed[i : i + sustain_frames] < low):
                end = i
                break
    return MotionSegment(
        start_idx=int(start),
        pre_manip_idx=int(start - 1),
        end_idx=int(end),
        speed_m_s=speed,
        threshold_m_s=(low, high),
    )
