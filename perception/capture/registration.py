"""Is the depth image registered to the colour image? A check from the images alone.

Object tracking scores poses by depth and draws them on the colour image; both assume
that pixel (u, v) of the depth image sees the same point as pixel (u, v) of the colour
image (RealSense: ``rs.align(rs.stream.color)``, which ``h2s2r capture`` uses). Recordings
made elsewhere are not always aligned, and a few pixels of offset put an object's depth
beside its colour silhouette. Depth discontinuities (object outlines) are nearly always
colour edges too, so the shift of the depth image that puts most depth edges on colour
edges estimates the misregistration.

Depth edges are of two kinds: jumps between valid neighbours, and the near side of holes.
A stereo camera (RealSense) leaves no depth in the shadow beside a foreground object, so
most silhouettes in real recordings are hole borders, not jumps. Counting jumps alone read
``shared/data/posecnn_ycbv_demo`` frames 2 and 4 as 16 and 20 px off, where their object
outlines (frame 4's mustard bottle and pitcher, frame 2's cans) sit on the colour edges;
with the near hole borders, all five frames read within 4 px. ``h2s2r import`` checks a
recording (five frames pooled) and warns; ``h2s2r track-object`` also moves the depth
back by the measured offset (``--depth-shift auto``, the default).
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
    valid = depth_m > 0
    d = np.where(valid, depth_m, np.nan).astype(np.float64)
    gy, gx = np.gradient(d)
    with np.errstate(invalid="ignore"):
        depth = np.hypot(gx, gy) > jump_m  # NaN (holes) compare False
    return colour, depth | _near_hole_borders(depth_m, jump_m)


def _near_hole_borders(
    depth_m: np.ndarray, jump_m: float, min_hole_px: int = 30, reach_px: int = 15
) -> np.ndarray:
    """Valid pixels beside a hole of at least ``min_hole_px`` pixels that are nearer, by
    ``jump_m``, than the farthest depth within ``reach_px``: the silhouette of a foreground
    object whose shadow has no depth. (The shadow's far border is no object outline.)"""
    valid = depth_m > 0
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~valid).astype(np.uint8), 4)
    big = np.zeros(n, dtype=bool)
    big[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_hole_px
    hole = big[labels].astype(np.uint8)
    border = valid & (cv2.dilate(hole, np.ones((3, 3), np.uint8)) > 0)
    far = cv2.dilate(
        np.where(valid, depth_m, 0).astype(np.float32), np.ones((reach_px, reach_px), np.uint8)
    )
    return border & (depth_m < far - jump_m)


def _half(mask: np.ndarray) -> np.ndarray:
    """2×2 max-pooling of a boolean image (thin edges survive)."""
    h, w = (mask.shape[0] // 2) * 2, (mask.shape[1] // 2) * 2
    return mask[:h, :w].reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3))


def _overlaps(
    rgb: np.ndarray, depth_m: np.ndarray, max_shift_px: int, jump_m: float
) -> tuple[np.ndarray, int]:
    """Depth edges that land on colour edges for every shift ``(2r+1, 2r+1)`` (indexed
    ``[dv + r, du + r]`` at half resolution), and the number of depth edges."""
    colour, depth = _edges(rgb, depth_m, jump_m)
    colour, depth = _half(colour), _half(depth)
    r = max_shift_px // 2
    # Crop the margins so that shifted windows stay inside the image.
    h, w = depth.shape
    ref = colour[r : h - r, r : w - r]
    counts = np.zeros((2 * r + 1, 2 * r + 1))
    for dv in range(-r, r + 1):
        for du in range(-r, r + 1):
            # depth pixel (u, v) sees colour pixel (u + du, v + dv)
            win = depth[r - dv : h - r - dv, r - du : w - r - du]
            counts[dv + r, du + r] = np.count_nonzero(win & ref)
    return counts, int(np.count_nonzero(depth[r : h - r, r : w - r]))


def depth_color_registration(
    rgb: np.ndarray | list[np.ndarray],
    depth_m: np.ndarray | list[np.ndarray],
    max_shift_px: int = 32,
    jump_m: float = 0.03,
) -> Registration:
    """Best shift (px, even numbers) of the depth image onto the colour image within
    ``± max_shift_px``, from edges at half resolution. Lists of frames pool their edges
    (a recording's misregistration is constant; one frame may have few depth edges)."""
    rgbs = rgb if isinstance(rgb, list) else [rgb]
    depths = depth_m if isinstance(depth_m, list) else [depth_m]
    # Shifts up to a quarter of a small image's side (the margins are cropped).
    max_shift_px = min(max_shift_px, 2 * (min(depths[0].shape[:2]) // 8))
    r = max_shift_px // 2
    counts, n = np.zeros((2 * r + 1, 2 * r + 1)), 0
    for c, d in zip(rgbs, depths, strict=True):
        cf, nf = _overlaps(c, d, max_shift_px, jump_m)
        counts, n = counts + cf, n + nf
    n = max(n, 1)
    # The first best in scan order (dv, then du), as the shifts were scanned before.
    dv, du = np.unravel_index(int(np.argmax(counts)), counts.shape)
    return Registration(
        (2 * (int(du) - r), 2 * (int(dv) - r)), float(counts[r, r]) / n, float(counts.max()) / n
    )


def shift_depth(depth_m: np.ndarray, offset_px: tuple[int, int]) -> np.ndarray:
    """The depth image moved by ``offset_px = (du, dv)`` (:attr:`Registration.offset_px`),
    so that its pixel (u, v) lands on colour pixel (u + du, v + dv). Pixels uncovered at
    the border have no depth (0). A whole-image shift undoes a constant misregistration;
    it does not replace aligning with the true depth-to-colour extrinsics."""
    du, dv = (int(x) for x in offset_px)
    h, w = depth_m.shape
    out = np.zeros_like(depth_m)
    if abs(du) >= w or abs(dv) >= h:
        return out
    out[max(0, dv) : h + min(0, dv), max(0, du) : w + min(0, du)] = depth_m[
        max(0, -dv) : h - max(0, dv), max(0, -du) : w - max(0, du)
    ]
    return out


def from_metrics(m: dict) -> Registration:
    """The check as stored in ``object_track/metrics.json``."""
    return Registration(
        (int(m["depth_colour_offset_u_px"]), int(m["depth_colour_offset_v_px"])),
        float(m["depth_colour_edge_agreement"]),
        float(m["depth_colour_edge_agreement_shifted"]),
    )


def check_capture(cap, frames: int = 5) -> Registration:
    """:func:`depth_color_registration` of a :class:`Capture`, pooled over ``frames``
    frames spread over the recording."""
    idx = np.unique(np.linspace(0, cap.num_frames - 1, min(frames, cap.num_frames)).astype(int))
    return depth_color_registration(
        [cap.read_rgb(int(i)) for i in idx], [cap.read_depth_m(int(i)) for i in idx]
    )


__all__ = [
    "Registration",
    "check_capture",
    "depth_color_registration",
    "from_metrics",
    "shift_depth",
]
