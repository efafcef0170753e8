"""Is the demo's scene, seen from the robot's base, one the robot can work in?

The camera-to-base transform puts the table, the object and the hand in the robot's
frame. A wrong depth scale (every measured distance stretched) or a wrong calibration
(a camera pose in other units, axes or frames) still gives numbers, and without a check
the pipeline ends with a policy for a table half a metre under the robot. The scene
(:mod:`h2s2r.sim.scene`, :mod:`h2s2r.core.table`) stands the robot's base at the table
top's height, in front of the table (synthetic demos: table top z = 0): checked here are
the table's height in the base frame, the camera's distance from the base and from the
object, the object resting on the table at the start, and the object within the arm's
reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from h2s2r.core.errors import H2S2RError
from h2s2r.core.table import MAX_CAMERA_DISTANCE_M, TABLE_HEIGHT_RANGE_M

MAX_REST_GAP_M = 0.10  # the object's lowest point off the table top at the start


@dataclass(frozen=True)
class SceneCheck:
    """What the checks compare (base frame, m)."""

    table_height_m: float
    camera_position_m: tuple[float, float, float]
    object_position_m: tuple[float, float, float]  # centre of its box at the start
    object_radius_m: float  # half its box's diagonal
    object_gap_m: float  # object's lowest point above the table top at the start
    reach_m: float  # the palm's largest distance from the base origin

    @property
    def camera_distance_m(self) -> float:
        return float(np.linalg.norm(self.camera_position_m))

    @property
    def camera_object_distance_m(self) -> float:
        return float(np.linalg.norm(np.subtract(self.object_position_m, self.camera_position_m)))

    @property
    def object_distance_m(self) -> float:
        return float(np.linalg.norm(self.object_position_m))

    def metrics(self) -> dict[str, float]:
        return {
            "camera_distance_m": self.camera_distance_m,
            "camera_object_distance_m": self.camera_object_distance_m,
            "object_distance_m": self.object_distance_m,
            "object_table_gap_m": self.object_gap_m,
            "arm_reach_m": self.reach_m,
        }


def arm_reach_m(model: mujoco.MjModel, site: int) -> float:
    """An upper bound of the distance from the world origin (the base) to ``site`` in any
    configuration: the lengths of the links from the root to the site's body, each hinge's
    offset from its body counted twice (a rotation about an off-origin anchor moves the
    body's origin by up to that much). Slide joints add their largest travel."""
    total = float(np.linalg.norm(model.site_pos[site]))
    b = int(model.site_bodyid[site])
    while b > 0:
        total += float(np.linalg.norm(model.body_pos[b]))
        for j in range(model.body_jntadr[b], model.body_jntadr[b] + model.body_jntnum[b]):
            total += 2 * float(np.linalg.norm(model.jnt_pos[j]))
            if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_SLIDE:
                total += float(np.max(np.abs(model.jnt_range[j])))
        b = int(model.body_parentid[b])
    return total


def _causes(cam_source: str) -> str:
    cal = (
        "the camera pose (calibration/: re-run `h2s2r calibrate`, or `h2s2r calibrate "
        "--from-file` with T_base_cam in metres)"
        if cam_source == "calibration"
        else f"the camera pose ({cam_source}/ T_base_cam)"
    )
    return (
        "check the depth scale (capture/meta.json depth_scale_m; re-import with `h2s2r "
        f"import --depth-scale M`) and {cal}; --allow-implausible writes the task anyway"
    )


def measure_scene(
    T_base_cam: np.ndarray,
    T_base_obj_start: np.ndarray,
    vertices: np.ndarray,
    table_height_m: float,
    reach_m: float,
) -> SceneCheck:
    """The numbers :func:`check_scene` compares. ``vertices``: the object mesh (object
    frame, m); ``T_base_obj_start``: its pose before the hand moves it."""
    cam = np.asarray(T_base_cam, dtype=np.float64)[:3, 3]
    pts = vertices @ T_base_obj_start[:3, :3].T + T_base_obj_start[:3, 3]
    centre = 0.5 * (pts.min(axis=0) + pts.max(axis=0))
    return SceneCheck(
        table_height_m=float(table_height_m),
        camera_position_m=tuple(float(x) for x in cam),
        object_position_m=tuple(float(x) for x in centre),
        object_radius_m=0.5 * float(np.linalg.norm(pts.max(axis=0) - pts.min(axis=0))),
        object_gap_m=float(pts[:, 2].min() - table_height_m),
        reach_m=float(reach_m),
    )


def check_scene(
    chk: SceneCheck, robot_name: str, cam_source: str = "calibration", table_source: str = "depth"
) -> None:
    """Raise a one-line :class:`H2S2RError` naming the likely causes when the scene is
    implausible for the robot."""
    causes = _causes(cam_source)
    cam = [round(x, 2) for x in chk.camera_position_m]
    lo, hi = TABLE_HEIGHT_RANGE_M
    if not lo <= chk.table_height_m <= hi:
        where = "calibration/ table plane" if table_source == "calibration" else "depth"
        raise H2S2RError(
            f"the table top is at z = {chk.table_height_m:+.2f} m in {robot_name}'s base "
            f"frame (from the {where}; the robot stands at table height: expected "
            f"{lo:+.2f} to {hi:+.2f} m; camera at {cam} m): {causes}"
        )
    for what, dist in (
        ("the robot base", chk.camera_distance_m),
        ("the object", chk.camera_object_distance_m),
    ):
        if dist > MAX_CAMERA_DISTANCE_M:
            raise H2S2RError(
                f"the camera is {dist:.2f} m from {what} (a tabletop demo: at most "
                f"{MAX_CAMERA_DISTANCE_M:.0f} m; camera at {cam} m): {causes}"
            )
    if abs(chk.object_gap_m) > MAX_REST_GAP_M:
        how = "above" if chk.object_gap_m > 0 else "below"
        raise H2S2RError(
            f"at the start the object's lowest point is {abs(chk.object_gap_m):.2f} m "
            f"{how} the table top (z = {chk.table_height_m:+.2f} m; it should rest on it, "
            f"within {MAX_REST_GAP_M:.2f} m): {causes}"
        )
    if chk.object_distance_m - chk.object_radius_m > chk.reach_m:
        pos = [round(x, 2) for x in chk.object_position_m]
        raise H2S2RError(
            f"the object starts {chk.object_distance_m:.2f} m from {robot_name}'s base "
            f"(at {pos} m), beyond the arm's reach ({chk.reach_m:.2f} m plus the object's "
            f"radius {chk.object_radius_m:.2f} m): {causes}"
        )
