"""Zero-lag smoothing of a pose trajectory on SE(3).

Offline tracking sees the whole video, so each pose is smoothed with a *centred*
Savitzky–Golay fit (local quadratic) of its neighbours' twists, expressed in the tangent
space at that pose. A local quadratic reproduces constant-velocity and constant-
acceleration motion exactly: no lag while the object moves, only noise is removed.
"""

from __future__ import annotations

import sys

import numpy as np

from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import T_inv, se3_exp, se3_log


def check_smoothing_window(
    half_window: int, fps: float, warn_s: float | None = None, max_s: float = 2.0
) -> None:
    """``--smooth-half-window`` in seconds of video: a window longer than ``max_s``
    smooths the manipulation itself away and is refused; one longer than ``warn_s`` (the
    hand: half a second, about how long a grasp takes to close) is named."""
    span = 2 * half_window + 1
    if half_window <= 0:
        return
    if span / fps > max_s:
        raise H2S2RError(
            f"--smooth-half-window {half_window} spans {span / fps:.2f} s of video ({span} "
            f"frames at {fps:g} fps), more than {max_s:g} s: it would flatten the motion "
            f"itself — give at most {int((max_s * fps - 1) // 2)} (0 = off)"
        )
    if warn_s is not None and span / fps > warn_s:
        print(
            f"warning: --smooth-half-window {half_window} spans {span / fps:.2f} s of video "
            f"({span} frames at {fps:g} fps): it flattens any motion faster than that",
            file=sys.stderr,
        )


def savgol_weights(half_window: int, order: int = 2) -> np.ndarray:
    """Weights that evaluate a least-squares polynomial fit at the window centre."""
    x = np.arange(-half_window, half_window + 1, dtype=np.float64)
    A = np.vander(x, order + 1, increasing=True)
    return np.linalg.pinv(A)[0]


def smooth_poses(
    T: np.ndarray, valid: np.ndarray, half_window: int = 3, order: int = 2
) -> np.ndarray:
    """Smoothed copy of ``T (N, 4, 4)``; only valid frames are used and changed.

    Near gaps and ends the window shrinks (symmetrically), down to no smoothing.
    """
    out = T.copy()
    valid = np.asarray(valid, dtype=bool)
    n = len(T)
    for i in np.nonzero(valid)[0]:
        k = half_window
        while k > 0 and (i - k < 0 or i + k >= n or not valid[i - k : i + k + 1].all()):
            k -= 1
        if k < 2:
            continue
        w = savgol_weights(k, min(order, 2 * k))
        T_i_inv = T_inv(T[i])
        xi = se3_log(T_i_inv[None] @ T[i - k : i + k + 1])  # twists relative to frame i
        out[i] = T[i] @ se3_exp(w @ xi)
    return out
