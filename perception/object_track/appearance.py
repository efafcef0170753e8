"""Appearance gate: which pixels near the object look like the object.

Geometry alone cannot tell a hand pressed against a box face from the face itself, and
ICP then slides the box along its visible planes. At initialization the tracker learns
the object's colours (the pixels of its agreeing visible surface) and the surrounding
colours (the rest of the crop), as hue–saturation histograms with a separate
brightness histogram for unsaturated pixels. Later, a pixel whose colour the object
never showed is not used for ICP. When the gate would drop most of the geometric
candidates (an object with the hand's colour), the tracker falls back to geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_H_BINS, _S_BINS, _V_BINS = 18, 8, 8
_MIN_SAT = 40  # below this saturation (of 255) hue is unreliable: use brightness bins
N_BINS = _H_BINS * _S_BINS + _V_BINS


def color_bins(rgb: np.ndarray) -> np.ndarray:
    """Histogram bin of each pixel of an RGB uint8 image (same shape without channels)."""
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)
    h = hsv[..., 0].astype(np.int64) * _H_BINS // 180
    s = hsv[..., 1].astype(np.int64)
    v = hsv[..., 2].astype(np.int64)
    chroma = h * _S_BINS + np.minimum(s * _S_BINS // 256, _S_BINS - 1)
    gray = _H_BINS * _S_BINS + np.minimum(v * _V_BINS // 256, _V_BINS - 1)
    return np.where(s < _MIN_SAT, gray, chroma)


@dataclass(frozen=True)
class AppearanceGate:
    object_prob: np.ndarray  # (N_BINS,) P(object | colour bin)

    @staticmethod
    def learn(
        rgb: np.ndarray, object_mask: np.ndarray, context_mask: np.ndarray, prior: float = 0.5
    ) -> AppearanceGate:
        """Learn from object pixels and context (non-object) pixels of one frame."""
        bins = color_bins(rgb)
        h_obj = np.bincount(bins[object_mask], minlength=N_BINS).astype(np.float64)
        h_ctx = np.bincount(bins[context_mask], minlength=N_BINS).astype(np.float64)
        # Spread a little mass to neighbouring hue bins: lighting changes move hues.
        h_obj = _blur_hue(h_obj / max(h_obj.sum(), 1))
        h_ctx = _blur_hue(h_ctx / max(h_ctx.sum(), 1))
        p = prior * h_obj / np.maximum(prior * h_obj + (1 - prior) * h_ctx, 1e-12)
        p[(h_obj == 0) & (h_ctx == 0)] = 0.0  # a colour never seen near the object: not it
        return AppearanceGate(object_prob=p)

    def pixel_ok(self, rgb: np.ndarray, threshold: float = 0.2) -> np.ndarray:
        return self.object_prob[color_bins(rgb)] >= threshold


def _blur_hue(h: np.ndarray) -> np.ndarray:
    chroma = h[: _H_BINS * _S_BINS].reshape(_H_BINS, _S_BINS)
    blurred = 0.5 * chroma + 0.25 * np.roll(chroma, 1, axis=0) + 0.25 * np.roll(chroma, -1, 0)
    return np.concatenate([blurred.ravel(), h[_H_BINS * _S_BINS :]])
