"""Camera-to-robot calibration solvers.

- **Board in the base frame**: the board lies at a known ``T_base_board``; each image gives
  ``T_cam_board`` by PnP; ``T_base_cam`` is then refined over all images by minimizing the
  corners' reprojection error.
- **Eye-to-hand**: the robot's end effector holds the board; for each pose ``i`` the
  kinematics give ``T_base_ee_i`` and PnP gives ``T_cam_board_i``, with
  ``T_base_ee_i · T_ee_board = T_base_cam · T_cam_board_i``. OpenCV's
  ``calibrateRobotWorldHandEye`` (Shah's method) gives a start for both unknowns, refined
  jointly by minimizing reprojection error over all images.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import least_squares

from h2s2r.calibration.board import BoardSpec, Detection, board_pose, project
from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import T_inv, make_T, so3_exp, so3_log


@dataclass(frozen=True)
class CalibResult:
    T_base_cam: np.ndarray
    per_image_rms_px: tuple[float, ...]
    rms_px: float
    T_ee_board: np.ndarray | None = None  # eye-to-hand only


def _pack(T: np.ndarray) -> np.ndarray:
    return np.r_[so3_log(T[:3, :3]), T[:3, 3]]


def _unpack(x: np.ndarray) -> np.ndarray:
    return make_T(so3_exp(x[:3]), x[3:6])


def _rms(res: np.ndarray) -> float:
    return float(np.sqrt(np.mean(res.reshape(-1, 2) ** 2 * 2))) if len(res) else float("nan")


def board_in_base(
    spec: BoardSpec, detections: list[Detection], K: np.ndarray, T_base_board: np.ndarray
) -> CalibResult:
    """``T_base_cam`` from images of a board at a known pose in the base frame."""
    if not detections:
        raise H2S2RError(
            "the board was found in no image: check --board (size, dictionary) "
            "and that the board is in view"
        )
    T0 = T_base_board @ T_inv(board_pose(spec, detections[0], K))
    obj = spec.corners_board

    def residuals(x):
        T_cam_board = T_inv(_unpack(x)) @ T_base_board
        return np.concatenate(
            [(project(K, T_cam_board, obj[d.ids]) - d.px).ravel() for d in detections]
        )

    sol = least_squares(residuals, _pack(T0), loss="huber", f_scale=1.0)
    T = _unpack(sol.x)
    per = []
    T_cam_board = T_inv(T) @ T_base_board
    for d in detections:
        per.append(_rms((project(K, T_cam_board, obj[d.ids]) - d.px).ravel()))
    return CalibResult(T_base_cam=T, per_image_rms_px=tuple(per), rms_px=_rms(sol.fun))


def check_rotation_diversity(
    T_base_ee: list[np.ndarray], min_axis_angle_deg: float = 15.0, min_rotation_deg: float = 5.0
) -> None:
    """Hand–eye needs relative rotations about non-parallel axes; fail clearly if not."""
    axes = []
    for i in range(len(T_base_ee)):
        for j in range(i + 1, len(T_base_ee)):
            r = so3_log(T_base_ee[i][:3, :3].T @ T_base_ee[j][:3, :3])
            if np.linalg.norm(r) > np.deg2rad(min_rotation_deg):
                axes.append(r / np.linalg.norm(r))
    spread = 0.0
    for a in range(len(axes)):
        for b in range(a + 1, len(axes)):
            spread = max(spread, np.degrees(np.arccos(min(abs(axes[a] @ axes[b]), 1.0))))
    if spread < min_axis_angle_deg:
        raise H2S2RError(
            f"the robot poses rotate the end effector about (nearly) parallel axes only (largest "
            f"angle between rotation axes {spread:.1f}° < {min_axis_angle_deg}°): hand–eye "
            "calibration is degenerate — add poses that tilt the board about other axes"
        )


def eye_to_hand(
    spec: BoardSpec, detections: list[Detection], T_base_ee: list[np.ndarray], K: np.ndarray
) -> CalibResult:
    """``T_base_cam`` (and ``T_ee_board``) from a board carried by the robot."""
    if len(detections) < 3:
        raise H2S2RError(
            f"eye-to-hand calibration needs at least 3 usable poses, got "
            f"{len(detections)}: record more robot poses with the board in view"
        )
    check_rotation_diversity(T_base_ee)
    T_cam_board = [board_pose(spec, d, K) for d in detections]
    # OpenCV's robot-world/hand-eye with roles renamed: its "camera" is our board (it moves
    # with the gripper) and its "world" is our camera (fixed):
    #   T_board_cam_i = T_board_ee · T_ee_base_i · T_base_cam.
    T_board_cam = [T_inv(T) for T in T_cam_board]
    T_ee_base = [T_inv(T) for T in T_base_ee]
    R_bw, t_bw, R_gc, t_gc = cv2.calibrateRobotWorldHandEye(
        [T[:3, :3] for T in T_board_cam],
        [T[:3, 3:4] for T in T_board_cam],
        [T[:3, :3] for T in T_ee_base],
        [T[:3, 3:4] for T in T_ee_base],
        method=cv2.CALIB_ROBOT_WORLD_HAND_EYE_SHAH,
    )
    T_cam_base0 = make_T(R_bw, t_bw.ravel())
    T_board_ee0 = make_T(R_gc, t_gc.ravel())
    obj = spec.corners_board

    def residuals(x):
        T_base_cam, T_ee_board = _unpack(x[:6]), _unpack(x[6:])
        out = []
        for d, T_be in zip(detections, T_base_ee, strict=True):
            T_cb = T_inv(T_base_cam) @ T_be @ T_ee_board
            out.append((project(K, T_cb, obj[d.ids]) - d.px).ravel())
        return np.concatenate(out)

    x0 = np.r_[_pack(T_inv(T_cam_base0)), _pack(T_inv(T_board_ee0))]
    sol = least_squares(residuals, x0, loss="huber", f_scale=1.0)
    T_base_cam, T_ee_board = _unpack(sol.x[:6]), _unpack(sol.x[6:])
    per = []
    for d, T_be in zip(detections, T_base_ee, strict=True):
        T_cb = T_inv(T_base_cam) @ T_be @ T_ee_board
        per.append(_rms((project(K, T_cb, obj[d.ids]) - d.px).ravel()))
    return CalibResult(
        T_base_cam=T_base_cam,
        per_image_rms_px=tuple(per),
        rms_px=_rms(sol.fun),
        T_ee_board=T_ee_board,
    )


def estimate_intrinsics(
    spec: BoardSpec, detections: list[Detection], image_size: tuple[int, int]
) -> tuple[np.ndarray, float]:
    """Pinhole intrinsics (no distortion) from board images; returns K and the RMS (px)."""
    if len(detections) < 3:
        raise H2S2RError(
            "estimating intrinsics needs the board in at least 3 images (varied "
            "views); or give the camera's factory intrinsics (capture/cam_K.txt)"
        )
    obj = [spec.corners_board[d.ids].astype(np.float32) for d in detections]
    img = [d.px.astype(np.float32) for d in detections]
    flags = cv2.CALIB_ZERO_TANGENT_DIST | cv2.CALIB_FIX_K1 | cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3
    rms, K, _, _, _ = cv2.calibrateCamera(obj, img, image_size, None, None, flags=flags)
    return K, float(rms)


def board_scale_from_depth(
    spec: BoardSpec, det: Detection, K: np.ndarray, depth_m: np.ndarray
) -> float | None:
    """Measured / PnP distance of the board: 1.0 when ``SQUARE_M`` is right.

    PnP scales the board's distance with the square size it is told; the depth camera
    measures it. A ratio far from 1 means a wrong ``--board`` square size.
    """
    T = board_pose(spec, det, K)
    pts = spec.corners_board[det.ids] @ T[:3, :3].T + T[:3, 3]
    h, w = depth_m.shape
    ratios = []
    for (u, v), z in zip(np.rint(det.px).astype(int), pts[:, 2], strict=True):
        if 0 <= u < w and 0 <= v < h and depth_m[v, u] > 0:
            ratios.append(depth_m[v, u] / z)
    return float(np.median(ratios)) if len(ratios) >= 4 else None
