"""Is the depth image registered to the colour image? A check from the images alone.

Object tracking scores poses by depth and draws them on the colour image; both assume
that pixel (u, v) of the depth image sees the same point as pixel (u, v) of the colour
image (RealSense: ``rs.align(rs.stream.color)``, which ``h2s2r capture`` uses). Recordings
made elsewhere are not always aligned, and a few pixels of offset put an object's depth
beside its colour silhouette. Depth discontinuities (object outlines) are nearly always
colour edges too, so the shift of the depth image that puts most depth edges on colour
edges estimates the misregistration.

Example: frame 4 of ``shared/data/posecnn_ycbv_demo`` — 61 % of its depth edges lie on
colour edges as recorded, 87 % after shifting the depth 20 px sideways; frame 2 looks
16 px off vertically; frames 1, 3 and 5 align within 2 px. ``h2s2r import`` and
``h2s2r track-object`` check the first frame and warn.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Registration:
    offset_px: tuple[int, int]  # (du, dv): depth pixel (u, v) sees colour pixel (u+du, v+dv)
    agreement_as_recorded: float  # fraction of depth edges on colour edges, no shift
    agreement_best: float  # the same at the best shift

    @property
    def misaligned(self) -> bool:
        """An offset of 4 px or more that explains clearly more edges than none."""
        return (
            max(abs(self.offset_px[0]), abs(self.offset_px[1])) >= 4
            and self.agreement_best > self.agreement_as_recorded + 0.1
        )

    def message(self, where: str) -> str:
        return (
            f"{where}: the depth image looks shifted by {self.offset_px} px against the "
            f"colour image ({100 * self.agreement_as_recorded:.0f} % of depth edges on colour "
            f"edges as recorded, {100 * self.agreement_best:.0f} % shifted) — record with "
            "depth aligned to colour (rs.align) or check the depth-to-colour extrinsics"
        )


def _edges(rgb: np.ndarray, depth_m: np.ndarray, jump_m: float) -> tuple[np.ndarray, np.ndarray]:
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)
    colour = cv2.Canny(cv2.GaussianBlur(gray, (5, 5), 0), 50, 150) > 0
    colour = cv2.dilate(colour.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    d = np.where(depth_m > 0, depth_m, np.nan).astype(np.float64)
    gy, gx = np.gradient(d)
    with np.errstate(invalid="ignore"):
        depth = np.hypot(gx, gy) > jump_m  # NaN (holes) compare False
    return colour, depth


def _half(mask: np.ndarray) -> np.ndarray:
    """2×2 max-pooling of a boolean image (thin edges survive)."""
    h, w = (mask.shape[0] // 2) * 2, (mask.shape[1] // 2) * 2
    return mask[:h, :w].reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3))


def depth_color_registration(
    rgb: np.ndarray, depth_m: np.ndarray, max_shift_px: int = 32, jump_m: float = 0.03
) -> Registration:
    """Best shift (px, even numbers) of the depth image onto the colour image within
    ``± max_shift_px``, from edges at half resolution."""
    colour, depth = _edges(rgb, depth_m, jump_m)
    colour, depth = _half(colour), _half(depth)
    r = max_shift_px // 2
    # Crop the margins so that shifted windows stay inside the image.
    h, w = depth.shape
    ref = colour[r : h - r, r : w - r]
    n = max(int(np.count_nonzero(depth[r : h - r, r : w - r])), 1)
    best, best_shift, as_recorded = -1.0, (0, 0), 0.0
    for dv in range(-r, r + 1):
        for du in range(-r, r + 1):
            # depth pixel (u, v) sees colour pixel (u + du, v + dv)
            win = depth[r - dv : h - r - dv, r - du : w - r - du]
            score = float(np.count_nonzero(win & ref)) / n
            if (du, dv) == (0, 0):
                as_recorded = score
            if score > best + 1e-9:
                best, best_shift = score, (2 * du, 2 * dv)
    return Registration(best_shift, as_recorded, best)


def from_metrics(m: dict) -> Registration:
    """The check as stored in ``object_track/metrics.json``."""
    return Registration(
        (int(m["depth_colour_offset_u_px"]), int(m["depth_colour_offset_v_px"])),
        float(m["depth_colour_edge_agreement"]),
        float(m["depth_colour_edge_agreement_shifted"]),
    )


def check_capture(cap, frame: int = 0) -> Registration:
    """:func:`depth_color_registration` on one frame of a :class:`Capture`."""
    return depth_color_registration(cap.read_rgb(frame), cap.read_depth_m(frame))


__all__ = ["Registration", "check_capture", "depth_color_registration", "from_metrics"]
