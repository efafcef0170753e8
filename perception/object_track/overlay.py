"""Visual check: the tracked mesh outline drawn on the RGB frames (mp4 and a PNG strip)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from h2s2r.perception.object_track.icp import silhouette
from h2s2r.perception.object_track.model import ObjectModel


def draw_outline(
    rgb: np.ndarray,
    T_cam_obj: np.ndarray | None,
    model: ObjectModel,
    K: np.ndarray,
    valid: bool,
    label: str = "",
) -> np.ndarray:
    """A copy of ``rgb`` with the posed object's outline (green) or 'lost' (red)."""
    out = np.ascontiguousarray(rgb.copy())
    if valid and T_cam_obj is not None:
        sil = silhouette(T_cam_obj, model, K, rgb.shape[:2], dilate_px=0).astype(np.uint8)
        contours, _ = cv2.findContours(sil, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (0, 255, 0), 2)
        axes = np.array([[0, 0, 0], [0.05, 0, 0], [0, 0.05, 0], [0, 0, 0.05]]) + model.center_obj
        p = axes @ T_cam_obj[:3, :3].T + T_cam_obj[:3, 3]
        uv = (p[:, :2] / p[:, 2:3]) * [K[0, 0], K[1, 1]] + [K[0, 2], K[1, 2]]
        o = tuple(int(x) for x in uv[0])
        for k, color in zip(range(1, 4), ((255, 0, 0), (0, 255, 0), (0, 0, 255)), strict=True):
            cv2.line(out, o, tuple(int(x) for x in uv[k]), color, 2)
    else:
        cv2.putText(out, "lost", (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 0, 0), 3)
    if label:
        cv2.putText(out, label, (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    return out


def write_overlay(
    out_dir: Path,
    read_rgb: Callable[[int], np.ndarray],
    T: np.ndarray,
    valid: np.ndarray,
    model: ObjectModel,
    K: np.ndarray,
    fps: float,
    strip_frames: int = 6,
) -> list[str]:
    """Write ``overlay.mp4`` and ``overlay_strip.png``; returns the file names written."""
    n = len(T)
    frames_for_strip = set(np.linspace(0, n - 1, strip_frames).round().astype(int).tolist())
    strip = []
    writer = None
    written = []
    for i in range(n):
        img = draw_outline(read_rgb(i), T[i], model, K, bool(valid[i]), f"{i:06d}")
        if writer is None:
            h, w = img.shape[:2]
            writer = cv2.VideoWriter(
                str(out_dir / "overlay.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h)
            )
            if not writer.isOpened():
                writer = None
                break
        writer.write(img[..., ::-1])
        if i in frames_for_strip:
            strip.append(cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2)))
    if writer is not None:
        writer.release()
        written.append("overlay.mp4")
    if not strip:  # no video backend: the strip alone
        strip = [
            cv2.resize(
                draw_outline(read_rgb(i), T[i], model, K, bool(valid[i])), None, fx=0.5, fy=0.5
            )
            for i in sorted(frames_for_strip)
        ]
    cv2.imwrite(str(out_dir / "overlay_strip.png"), np.concatenate(strip, axis=1)[..., ::-1])
    written.append("overlay_strip.png")
    return written
