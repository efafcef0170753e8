"""The table the demo was recorded on, as the simulator builds it and deployment checks it.

The table top is the plane ``z = height_m`` of the robot base frame (``task/``'s
``table_height_m``, from calibration or the depth under the object), a rectangle centred at
``center_xy`` with half-sizes ``half_xy``: the simulator's table geom and the deploy
command node's "below the table" check use the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TABLE_CENTER_XY = (0.65, 0.0)  # m, base frame: in front of the robot
TABLE_HALF_XY = (0.45, 0.6)  # m
TABLE_THICKNESS_M = 0.04


@dataclass(frozen=True)
class Table:
    height_m: float
    center_xy: tuple[float, float] = TABLE_CENTER_XY
    half_xy: tuple[float, float] = TABLE_HALF_XY

    def over(self, points: np.ndarray) -> np.ndarray:
        """``(N,)`` whether points ``(N, 3)`` lie over (or under) the table's rectangle."""
        d = np.abs(np.asarray(points)[:, :2] - np.asarray(self.center_xy))
        return np.all(d <= np.asarray(self.half_xy), axis=1)


__all__ = ["TABLE_CENTER_XY", "TABLE_HALF_XY", "TABLE_THICKNESS_M", "Table"]
