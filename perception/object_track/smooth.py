"""Zero-lag smoothing of a pose trajectory on SE(3).

Offline tracking sees the whole video, so each pose is smoothed with a *centred*
Savitzky–Golay fit (local quadratic) of its neighbours' twists, expressed in the tangent
space at that pose. A local quadratic reproduces constant-velocity and constant-
acceleration motion exactly: no lag while the object moves, only noise is removed.
"""

from __future__ import annotations

import numpy as np

from h2s2r.core.geometry import T_inv, se3_exp, se3_log


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
