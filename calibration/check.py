"""``calibrate --check``: the robot model and the base frame drawn into a camera image.

If the calibration is right, the rendered robot lies on the robot in the photo and the
base frame's axes start at the robot's base.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import mujoco
import numpy as np
from PIL import Image

from h2s2r.calibration.poses import parse_pose, read_robot_poses
from h2s2r.core.artifacts import Calibration, Capture
from h2s2r.core.geometry import T_inv, matrix_to_quat, project_points
from h2s2r.core.render import offscreen_renderer


def _background(out: Path, cfg, size: tuple[int, int] | None) -> np.ndarray:
    if (out / "capture").is_dir():
        return Capture.load(out / "capture").read_rgb(0)
    if cfg.images and Path(cfg.images).is_dir():
        files = sorted(
            p
            for p in Path(cfg.images).iterdir()
            if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")
        )
        if files:
            return np.asarray(Image.open(files[0]).convert("RGB"))
    w, h = size or (640, 480)
    return np.full((h, w, 3), 40, np.uint8)


def _draw_axes(
    img: np.ndarray, cal: Calibration, T_base_frame: np.ndarray, length_m: float, width: int
) -> None:
    """Draw a frame's x (red), y (green), z (blue) axes, projected with the calibration."""
    T_cam_frame = T_inv(cal.T_base_cam) @ T_base_frame
    axes = np.array([[0, 0, 0], [length_m, 0, 0], [0, length_m, 0], [0, 0, length_m]])
    p = axes @ T_cam_frame[:3, :3].T + T_cam_frame[:3, 3]
    if np.any(p[:, 2] <= 0.01):
        return
    uv = project_points(cal.K, p)
    o = tuple(int(v) for v in uv[0])
    for k, color in zip(range(1, 4), ((255, 0, 0), (0, 255, 0), (0, 0, 255)), strict=True):
        cv2.line(img, o, tuple(int(v) for v in uv[k]), color, width)


def _board_pose(cal: Calibration) -> np.ndarray | None:
    """``T_base_board`` from the calibration's own config: the given board pose, or the
    first robot pose times the solved mount (eye-to-hand)."""
    cfg = cal.provenance.config
    try:
        if cfg.get("board_pose"):
            return parse_pose(cfg["board_pose"])
        notes = cfg.get("notes", {})
        if cfg.get("robot_poses") and notes.get("T_ee_board") is not None:
            first = read_robot_poses(
                cfg["robot_poses"], cfg["pose_kind"], cfg["robot"], cfg["ee_site"]
            )[0]
            return first @ np.asarray(notes["T_ee_board"])
    except Exception:  # the inputs moved since: the check image simply omits the board
        return None
    return None


def write_check(out: Path, cal: Calibration, cfg) -> Path:
    from h2s2r.core.robots import build_robot_spec, get_robot

    robot = get_robot(cfg.robot)
    bg = _background(out, cfg, (round(2 * cal.K[0, 2] + 1), round(2 * cal.K[1, 2] + 1)))
    h, w = bg.shape[:2]
    spec = build_robot_spec(robot)
    spec.visual.global_.offwidth = max(w, 640)
    spec.visual.global_.offheight = max(h, 480)
    R_mj = cal.T_base_cam[:3, :3] @ np.diag([1.0, -1.0, -1.0])
    fovy = float(np.degrees(2 * np.arctan(h / 2 / cal.K[1, 1])))
    spec.worldbody.add_camera(
        name="calib", pos=list(cal.T_base_cam[:3, 3]), quat=list(matrix_to_quat(R_mj)), fovy=fovy
    )
    spec.worldbody.add_light(pos=[0, 0, 2.0], dir=[0, 0, -1])
    model = spec.compile()
    data = mujoco.MjData(model)
    q = (
        np.array([float(x) for x in cfg.joints.split(",")])
        if cfg.joints
        else np.asarray(robot.home_qpos)
    )
    from h2s2r.core.robots import RobotModelInfo

    info = RobotModelInfo.of(model, robot)
    data.qpos[info.qpos_adr[: len(q)]] = q
    mujoco.mj_forward(model, data)
    with offscreen_renderer(model, h, w) as r:
        r.update_scene(data, camera="calib")
        rgb = r.render()
        r.enable_depth_rendering()
        r.update_scene(data, camera="calib")
        depth = r.render()
    robot_mask = depth < 0.99 * model.stat.extent * model.vis.map.zfar
    img = bg.astype(np.float32)
    img[robot_mask] = 0.45 * img[robot_mask] + 0.55 * rgb[robot_mask]
    img = np.ascontiguousarray(img.astype(np.uint8))
    _draw_axes(img, cal, np.eye(4), 0.2, 3)  # the robot base frame
    T_base_board = _board_pose(cal)
    if T_base_board is not None:  # the board, where the calibration says it was
        _draw_axes(img, cal, T_base_board, 0.1, 2)
    cv2.putText(
        img,
        f"{cal.method}: rms {cal.reprojection_rms_px:.2f} px",
        (10, 25),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.7,
        (255, 255, 255),
        2,
    )
    path = out / "calibration" / "check.png"
    cv2.imwrite(str(path), img[..., ::-1])
    return path
