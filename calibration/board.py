"""ChArUco boards: parsing ``charuco:COLSxROWS:SQUARE_M:MARKER_M:DICT``, detection, PnP.

Board frame (OpenCV's): origin at the board's outer corner, x along the columns, y along
the rows (down the printed image), z into the board; corners lie in z = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import make_T, so3_exp

MIN_CORNERS = 6


@dataclass(frozen=True)
class BoardSpec:
    cols: int
    rows: int
    square_m: float
    marker_m: float
    dictionary: str = "DICT_5X5_100"

    @staticmethod
    def parse(text: str) -> BoardSpec:
        """``charuco:7x5:0.04:0.03:DICT_5X5_100`` (the dictionary may be omitted)."""
        parts = text.split(":")
        try:
            if parts[0] != "charuco" or len(parts) not in (4, 5):
                raise ValueError
            cols, rows = (int(x) for x in parts[1].lower().split("x"))
            spec = BoardSpec(
                cols,
                rows,
                float(parts[2]),
                float(parts[3]),
                parts[4] if len(parts) == 5 else "DICT_5X5_100",
            )
        except ValueError:
            raise H2S2RError(
                f"--board {text!r}: expected charuco:COLSxROWS:SQUARE_M:MARKER_M[:DICT]"
                ", e.g. charuco:7x5:0.04:0.03:DICT_5X5_100"
            ) from None
        if not hasattr(cv2.aruco, spec.dictionary):
            raise H2S2RError(
                f"--board: unknown ArUco dictionary {spec.dictionary!r} (e.g. "
                "DICT_4X4_50, DICT_5X5_100, DICT_6X6_250)"
            )
        if not 0 < spec.marker_m < spec.square_m < 1.0:
            raise H2S2RError(
                f"--board: need 0 < MARKER_M < SQUARE_M < 1 m (metres), got "
                f"{spec.marker_m} and {spec.square_m}"
            )
        return spec

    @cached_property
    def board(self) -> cv2.aruco.CharucoBoard:
        d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        return cv2.aruco.CharucoBoard((self.cols, self.rows), self.square_m, self.marker_m, d)

    @property
    def corners_board(self) -> np.ndarray:
        """(K, 3) inner chessboard corners in the board frame, metres."""
        return np.asarray(self.board.getChessboardCorners(), dtype=np.float64)

    @property
    def size_m(self) -> tuple[float, float]:
        return self.cols * self.square_m, self.rows * self.square_m


@dataclass(frozen=True)
class Detection:
    ids: np.ndarray  # (k,) corner ids
    px: np.ndarray  # (k, 2) sub-pixel corner positions


def detect(spec: BoardSpec, image: np.ndarray) -> Detection | None:
    """ChArUco corners in an image (RGB or grey); None with fewer than MIN_CORNERS."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    corners, ids, _, _ = cv2.aruco.CharucoDetector(spec.board).detectBoard(gray)
    if ids is None or len(ids) < MIN_CORNERS:
        return None
    return Detection(ids=ids.ravel().astype(int), px=corners.reshape(-1, 2).astype(np.float64))


def board_pose(
    spec: BoardSpec, det: Detection, K: np.ndarray, dist: np.ndarray | None = None
) -> np.ndarray:
    """``T_cam_board`` by PnP (iterative, refined)."""
    obj = spec.corners_board[det.ids]
    ok, rvec, tvec = cv2.solvePnP(obj, det.px, K, dist, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise H2S2RError("PnP failed on a board detection")
    return make_T(so3_exp(rvec.ravel()), tvec.ravel())


def project(K: np.ndarray, T_cam_board: np.ndarray, pts_board: np.ndarray) -> np.ndarray:
    p = pts_board @ T_cam_board[:3, :3].T + T_cam_board[:3, 3]
    uv = p @ K.T
    return uv[:, :2] / uv[:, 2:3]
