"""Visual check of retargeting: the robot at the pre-manipulation pose, seen from the demo
camera, beside the demo frame with the tracked hand keypoints."""

from __future__ import annotations

from pathlib import Path

import cv2
import mujoco
import numpy as np

from h2s2r.core.artifacts import Capture
from h2s2r.core.geometry import matrix_to_quat
from h2s2r.core.render import offscreen_renderer
from h2s2r.sim.scene import TaskScene

BONES = [
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (0, 5),
    (5, 6),
    (6, 7),
    (7, 8),
    (5, 9),
    (9, 10),
    (10, 11),
    (11, 12),
    (9, 13),
    (13, 14),
    (14, 15),
    (15, 16),
    (13, 17),
    (0, 17),
    (17, 18),
    (18, 19),
    (19, 20),
]


def draw_hand(img: np.ndarray, px: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(img.copy())
    ok = np.all(np.isfinite(px), axis=1)
    for a, b in BONES:
        if ok[a] and ok[b]:
            cv2.line(
                out, tuple(int(v) for v in px[a]), tuple(int(v) for v in px[b]), (0, 255, 0), 2
            )
    for i in np.nonzero(ok)[0]:
        cv2.circle(out, tuple(int(v) for v in px[i]), 3, (255, 255, 0), -1)
    return out


def write_check_image(
    path: Path,
    scene: TaskScene,
    qpos: np.ndarray,
    T_base_obj: np.ndarray,
    cap: Capture,
    frame: int,
    keypoints_px: np.ndarray,
) -> None:
    model = scene.model
    data = mujoco.MjData(model)
    data.qpos[scene.robot.qpos_adr] = qpos
    data.mocap_pos[scene.object_mocap] = T_base_obj[:3, 3]
    data.mocap_quat[scene.object_mocap] = matrix_to_quat(T_base_obj[:3, :3])
    mujoco.mj_forward(model, data)
    h, w = cap.height, cap.width
    with offscreen_renderer(model, h, w) as r:
        r.update_scene(data, camera="demo_cam")
        robot_view = r.render().copy()
    demo = draw_hand(cap.read_rgb(frame), keypoints_px)
    for img, label in ((demo, f"demo frame {frame}"), (robot_view, "robot, pre-manipulation")):
        cv2.putText(img, label, (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    cv2.imwrite(str(path), np.concatenate([demo, robot_view], axis=1)[..., ::-1])
