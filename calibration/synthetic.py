"""Synthetic board images from known poses, for tests and benchmarks.

The printed board texture (OpenCV's generator) is warped into the camera image with the
plane homography ``K [r1 r2 t]``, over a textured background, then blurred, partly
occluded and given sensor noise. The depth of the board plane can be rendered too.
"""

from __future__ import annotations

import cv2
import numpy as np

from h2s2r.calibration.board import BoardSpec
from h2s2r.core.geometry import T_inv, backproject_depth

_PX_PER_M = 4000.0  # texture resolution
_MARGIN_PX = 40  # white paper around the squares


def _texture(spec: BoardSpec) -> tuple[np.ndarray, np.ndarray]:
    w_m, h_m = spec.size_m
    size = (round(w_m * _PX_PER_M) + 2 * _MARGIN_PX, round(h_m * _PX_PER_M) + 2 * _MARGIN_PX)
    tex = spec.board.generateImage(size, marginSize=_MARGIN_PX)
    # Texture pixel (u, v) (centres at integers) ↔ board point (x, y) in metres.
    s = 1.0 / _PX_PER_M
    A = np.array([[s, 0, (0.5 - _MARGIN_PX) * s], [0, s, (0.5 - _MARGIN_PX) * s], [0, 0, 1]])
    return tex, A


def render_board(
    spec: BoardSpec,
    K: np.ndarray,
    T_cam_board: np.ndarray,
    size: tuple[int, int] = (640, 480),
    rng: np.random.Generator | None = None,
    noise_sigma: float = 2.0,
    blur_px: float = 0.8,
    occlusion: float = 0.1,
) -> np.ndarray:
    """Grey image (uint8) of the board seen from ``T_cam_board``.

    ``occlusion`` is the fraction of the board's image area hidden by a random blob.
    """
    rng = rng or np.random.default_rng(0)
    w, h = size
    tex, A = _texture(spec)
    H = K @ np.column_stack([T_cam_board[:3, 0], T_cam_board[:3, 1], T_cam_board[:3, 3]]) @ A
    background = cv2.resize(
        rng.integers(60, 200, (h // 16 + 1, w // 16 + 1)).astype(np.uint8),
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    warped = cv2.warpPerspective(
        tex, H, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    inside = (
        cv2.warpPerspective(np.full(tex.shape, 255, np.uint8), H, (w, h), flags=cv2.INTER_NEAREST)
        > 0
    )
    img = np.where(inside, warped, background).astype(np.float32)
    if occlusion > 0 and inside.any():
        vs, us = np.nonzero(inside)
        cu, cv_ = rng.uniform(us.min(), us.max()), rng.uniform(vs.min(), vs.max())
        r = np.sqrt(occlusion * inside.sum() / np.pi)
        cv2.ellipse(
            img,
            (int(cu), int(cv_)),
            (int(r * 1.3), int(r * 0.8)),
            float(rng.uniform(0, 180)),
            0,
            360,
            float(rng.uniform(20, 90)),
            -1,
        )
    if blur_px > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur_px)
    img += rng.normal(0, noise_sigma, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def render_plane_depth(K: np.ndarray, T_cam_plane: np.ndarray, size=(640, 480)) -> np.ndarray:
    """Depth (m) of the infinite plane z = 0 of ``T_cam_plane`` (0 where behind the camera)."""
    w, h = size
    rays = backproject_depth(K, np.ones((h, w)))
    n = T_cam_plane[:3, 2]
    p0 = T_cam_plane[:3, 3]
    denom = rays @ n  # rays have z = 1, so the ray parameter is the depth
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(np.abs(denom) > 1e-9, (p0 @ n) / denom, 0.0)
    return np.clip(np.where(s > 0, s, 0.0), 0, 10.0)


def look_at_board(cam_pos_board: np.ndarray, spec: BoardSpec) -> np.ndarray:
    """``T_cam_board`` of a camera at ``cam_pos_board`` (board frame) looking at its centre."""
    from h2s2r.core.geometry import look_at_T_world_cam

    w_m, h_m = spec.size_m
    center = np.array([w_m / 2, h_m / 2, 0.0])
    T_board_cam = look_at_T_world_cam(cam_pos_board, center, up=(0.0, -1.0, 0.0))
    return T_inv(T_board_cam)
