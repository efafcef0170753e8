"""The table the demo was recorded on, as the simulator builds it and deployment checks it.

The table top is the plane ``z = height_m`` of the robot base frame (``task/``'s
``table_height_m``, from calibration or the depth under the object), a rectangle centred at
``center_xy`` with half-sizes ``half_xy``: the simulator's table geom and the deploy
command node's "below the table" check use the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from h2s2r.core.errors import H2S2RError

TABLE_CENTER_XY = (0.65, 0.0)  # m, base frame: in front of the robot
TABLE_HALF_XY = (0.45, 0.6)  # m
TABLE_THICKNESS_M = 0.04
# The table top relative to the robot base (z up, m): the base is mounted at about table
# height (synthetic demos: 0 exactly; real mounts vary by a few centimetres).
TABLE_HEIGHT_RANGE_M = (-0.15, 0.15)
MAX_TABLE_TILT_DEG = 15.0  # a table top is level in the base frame
MAX_CAMERA_DISTANCE_M = 3.0  # from the base (a tabletop demo)


def check_calibrated_table(plane: np.ndarray | None, T_base_cam: np.ndarray, causes: str) -> None:
    """A camera pose and the table plane it puts in the base frame (``n·x + d = 0``, n up)
    must describe a tabletop scene: the camera within 3 m and above the table, the table
    level and at the base's height. Otherwise a one-line error with the numbers and
    ``causes``."""
    cam = np.asarray(T_base_cam, dtype=np.float64)[:3, 3]
    dist = float(np.linalg.norm(cam))
    if dist > MAX_CAMERA_DISTANCE_M:
        raise H2S2RError(
            f"the camera is {dist:.2f} m from the robot base (a tabletop demo: at most "
            f"{MAX_CAMERA_DISTANCE_M:.0f} m; camera at {np.round(cam, 2).tolist()} m): {causes}"
        )
    flipped = (
        "a camera below the table usually means a rotation turned upside down: a quaternion "
        "given x,y,z,w where w,x,y,z is expected (--board-pose takes x,y,z,qw,qx,qy,qz), or "
        "an inverted transform"
    )
    if plane is None:
        # No depth: the table top is at the base's height (TABLE_HEIGHT_RANGE_M).
        if cam[2] < TABLE_HEIGHT_RANGE_M[0]:
            raise H2S2RError(
                f"the camera is at z = {cam[2]:+.3f} m in the robot base frame, below the "
                f"table (the robot stands at table height; a camera looks down at the table "
                f"from above) — {flipped}; {causes}"
            )
        return
    n, d = np.asarray(plane[:3], dtype=np.float64), float(plane[3])
    if n[2] < 0:  # the normal up, whichever way the plane was written
        n, d = -n, -d
    above = float(n @ cam + d) / max(float(np.linalg.norm(n)), 1e-12)
    if above < 0:
        raise H2S2RError(
            f"the camera is {-above:.3f} m below the table plane in the robot base frame "
            f"(camera at z = {cam[2]:+.3f} m; a camera looks down at the table from above) "
            f"— {flipped}; {causes}"
        )
    tilt = float(np.degrees(np.arccos(np.clip(abs(n[2]), -1.0, 1.0))))
    if tilt > MAX_TABLE_TILT_DEG:
        raise H2S2RError(
            f"the table plane is tilted {tilt:.0f}° in the robot base frame (at most "
            f"{MAX_TABLE_TILT_DEG:.0f}°: the base's z axis points up): {causes}"
        )
    height = -d / n[2]
    lo, hi = TABLE_HEIGHT_RANGE_M
    if not lo <= height <= hi:
        raise H2S2RError(
            f"the table top is at z = {height:+.2f} m in the robot base frame (the robot "
            f"stands at table height: expected {lo:+.2f} to {hi:+.2f} m): {causes}"
        )


@dataclass(frozen=True)
class Table:
    height_m: float
    center_xy: tuple[float, float] = TABLE_CENTER_XY
    half_xy: tuple[float, float] = TABLE_HALF_XY

    def over(self, points: np.ndarray) -> np.ndarray:
        """``(N,)`` whether points ``(N, 3)`` lie over (or under) the table's rectangle."""
        d = np.abs(np.asarray(points)[:, :2] - np.asarray(self.center_xy))
        return np.all(d <= np.asarray(self.half_xy), axis=1)


__all__ = [
    "MAX_CAMERA_DISTANCE_M",
    "TABLE_CENTER_XY",
    "TABLE_HALF_XY",
    "TABLE_HEIGHT_RANGE_M",
    "TABLE_THICKNESS_M",
    "Table",
    "check_calibrated_table",
]
