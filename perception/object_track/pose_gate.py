"""Checks every object pose passes before the policy sees it (tracked or external).

A pose is refused when it is not finite, its quaternion is not unit length, it lies
outside the workspace box, its object would sink below the table top, or it jumped
farther than ``max_speed_m_s`` allows since the last accepted pose. The pose node
publishes only accepted poses (and a validity flag); a refused or missing pose lets the
command node's watchdog hold the robot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PoseGateConfig:
    max_speed_m_s: float = 1.5  # a hand-carried object; faster is a tracking jump
    table_margin_m: float = 0.03  # the object's origin may sit this far below the table top
    workspace_min: tuple[float, float, float] = (-0.4, -0.9, -0.3)
    workspace_max: tuple[float, float, float] = (1.5, 0.9, 1.5)


class PoseGate:
    def __init__(self, table_height_m: float, cfg: PoseGateConfig = PoseGateConfig()):
        self.table_height_m, self.cfg = table_height_m, cfg
        self.last: tuple[float, np.ndarray] | None = None

    def check(self, t_s: float, pos_base: np.ndarray, quat_wxyz: np.ndarray) -> str:
        """'' when the pose is accepted, else why not."""
        pos, q = np.asarray(pos_base, float), np.asarray(quat_wxyz, float)
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(q))):
            return "NaN or infinite values"
        if abs(np.linalg.norm(q) - 1.0) > 1e-3:
            return f"quaternion of norm {np.linalg.norm(q):.3f}"
        if np.any(pos < self.cfg.workspace_min) or np.any(pos > self.cfg.workspace_max):
            return f"outside the workspace at {np.round(pos, 3).tolist()}"
        if pos[2] < self.table_height_m - self.cfg.table_margin_m:
            return f"{self.table_height_m - pos[2]:.3f} m below the table top"
        if self.last is not None:
            t0, p0 = self.last
            dt = max(t_s - t0, 1e-3)
            speed = np.linalg.norm(pos - p0) / dt
            if speed > self.cfg.max_speed_m_s:
                return f"jumped {np.linalg.norm(pos - p0):.3f} m in {dt:.3f} s"
        self.last = (t_s, pos)
        return ""


__all__ = ["PoseGate", "PoseGateConfig"]
