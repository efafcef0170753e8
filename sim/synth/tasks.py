"""Synthetic demo templates: the object, its scripted path, and how the hand holds it.

World frame = robot base frame (z up); the table top is the plane z = 0 and the robot
stands at the origin, so the demonstrator reaches along +x like the robot will.
Object frames are centred on the object's geometric centre (box: axes along its edges;
cylinder: z along its axis).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from h2s2r.core.errors import RegistryError
from h2s2r.core.geometry import make_T, rot_z
from h2s2r.sim.synth.hand import (
    FINGER_GEOMETRY,
    PALM_HALF_SIZE,
    HandShape,
    finger_shape,
    wrap_angles,
)

TABLE_TOP_Z = 0.0
# Palm surface centre in the hand (wrist) frame: x = palm surface, z = mid-palm.
PALM_SURFACE_IN_HAND = np.array([PALM_HALF_SIZE[0], 0.0, 0.050])


def box_mesh(size_xyz: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Closed box, outward-facing counter-clockwise triangles, centred at the origin."""
    h = np.asarray(size_xyz) / 2
    v = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * h
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    f = []
    for a, b, c, d in quads:
        f += [(a, b, c), (a, c, d)]
    return v.astype(np.float64), np.array(f, dtype=np.int64)


def cylinder_mesh(
    radius: float, height: float, segments: int = 48
) -> tuple[np.ndarray, np.ndarray]:
    """Closed cylinder along z, centred at the origin, outward counter-clockwise triangles."""
    ang = 2 * np.pi * np.arange(segments) / segments
    ring = np.stack([radius * np.cos(ang), radius * np.sin(ang)], axis=1)
    bottom = np.c_[ring, np.full(segments, -height / 2)]
    top = np.c_[ring, np.full(segments, height / 2)]
    v = np.vstack([bottom, top, [[0, 0, -height / 2]], [[0, 0, height / 2]]])
    cb, ct = 2 * segments, 2 * segments + 1
    f = []
    for i in range(segments):
        j = (i + 1) % segments
        f += [(i, j, segments + j), (i, segments + j, segments + i)]  # side
        f += [(cb, j, i), (ct, segments + i, segments + j)]  # caps
    return v, np.array(f, dtype=np.int64)


def smooth_progress(u: np.ndarray, onset_velocity: float = 0.15) -> np.ndarray:
    """0→1 progress with zero final velocity and a small initial velocity.

    A minimum-jerk profile blended with a linear term: a push or a lift starts moving at
    once when contact is made, so the motion onset is visible within a few frames.
    """
    u = np.clip(u, 0.0, 1.0)
    mj = 10 * u**3 - 15 * u**4 + 6 * u**5
    return onset_velocity * u + (1 - onset_velocity) * mj


@dataclass(frozen=True)
class SynthTask:
    """A scripted manipulation: object geometry, path, grasp and hand shape."""

    name: str
    object_name: str
    object_rgba: tuple[float, float, float, float]
    mesh: Callable[[], tuple[np.ndarray, np.ndarray]]
    rest_height: float  # object centre above the table at rest
    # (rng) -> T_world_obj at rest
    sample_start: Callable[[np.random.Generator], np.ndarray]
    # (T_world_obj0, progress in [0, 1]) -> T_world_obj
    path: Callable[[np.ndarray, float], np.ndarray]
    T_obj_wrist: np.ndarray  # hand (wrist) pose relative to the object while manipulating
    grasp: HandShape
    symmetry: str = "none"  # ObjectMesh.symmetry of the object's shape
    # True: T_obj_wrist is given in the object-centred frame with the world's axes (for
    # rotationally symmetric objects, whose yaw says nothing about where the hand is).
    grasp_world_aligned: bool = False

    def T_obj_wrist_for(self, T_world_obj0: np.ndarray) -> np.ndarray:
        """The wrist pose in the object frame for an object that starts at ``T_world_obj0``."""
        if not self.grasp_world_aligned:
            return self.T_obj_wrist
        return make_T(T_world_obj0[:3, :3].T, np.zeros(3)) @ self.T_obj_wrist


# ----------------------------------------------------------------------------- box_push
BOX_SIZE = (0.20, 0.12, 0.06)
PUSH_DISTANCE = 0.25


def _box_start(rng: np.random.Generator) -> np.ndarray:
    yaw = rng.uniform(-0.25, 0.25)
    pos = (
        0.60 + rng.uniform(-0.05, 0.05),
        -0.13 + rng.uniform(-0.03, 0.03),
        TABLE_TOP_Z + BOX_SIZE[2] / 2,
    )
    return make_T(rot_z(yaw), pos)


def _box_path(T0: np.ndarray, s: float) -> np.ndarray:
    T = T0.copy()
    # Along the box's +y (across its long face), starting at once on contact.
    T[:3, 3] += T0[:3, 1] * PUSH_DISTANCE * float(smooth_progress(np.asarray(s)))
    return T


def _hand_on_face(
    palm_normal: np.ndarray, thumb_dir: np.ndarray, palm_surface_at: np.ndarray, gap: float = 0.001
) -> np.ndarray:
    """Wrist pose that puts the palm surface centre at a point, palm facing ``palm_normal``."""
    x = palm_normal / np.linalg.norm(palm_normal)
    y = thumb_dir / np.linalg.norm(thumb_dir)
    z = np.cross(x, y)
    R = np.stack([x, y, z], axis=1)
    wrist = palm_surface_at - R @ PALM_SURFACE_IN_HAND - x * gap
    return make_T(R, wrist)


# Palm on the box's -y face, fingers along +x (away from the robot), thumb up; the palm
# centre 4.8 cm above the table so the pinky side clears it.
_BOX_T_OBJ_WRIST = _hand_on_face(
    palm_normal=np.array([0.0, 1.0, 0.0]),
    thumb_dir=np.array([0.0, 0.0, 1.0]),
    palm_surface_at=np.array([-0.03, -BOX_SIZE[1] / 2, 0.048 - BOX_SIZE[2] / 2]),
)
_BOX_GRASP = finger_shape(0.10, 0.12, 0.06, thumb=(-0.35, -0.2, 0.2, 0.1), spread=0.05)

BOX_PUSH = SynthTask(
    name="box_push",
    object_name="box",
    object_rgba=(0.85, 0.35, 0.15, 1.0),
    mesh=lambda: box_mesh(BOX_SIZE),
    rest_height=BOX_SIZE[2] / 2,
    sample_start=_box_start,
    path=_box_path,
    symmetry="box",
    T_obj_wrist=_BOX_T_OBJ_WRIST,
    grasp=_BOX_GRASP,
)

# ----------------------------------------------------------------------------- can_lift
CAN_RADIUS, CAN_HEIGHT = 0.035, 0.12
LIFT_HEIGHT, PLACE_SHIFT = 0.15, 0.10


def _can_start(rng: np.random.Generator) -> np.ndarray:
    pos = (
        0.60 + rng.uniform(-0.05, 0.05),
        -0.05 + rng.uniform(-0.03, 0.03),
        TABLE_TOP_Z + CAN_HEIGHT / 2,
    )
    return make_T(rot_z(rng.uniform(-np.pi, np.pi)), pos)


def _can_path(T0: np.ndarray, s: float) -> np.ndarray:
    """Lift 0.15 m, carry 0.10 m to the left (+y world), set down."""
    up = smooth_progress(np.asarray(s / 0.4), 0.15) - smooth_progress(
        np.asarray((s - 0.6) / 0.4), 0.0
    )
    side = smooth_progress(np.asarray((s - 0.3) / 0.4), 0.0)
    T = T0.copy()
    T[:3, 3] += np.array([0.0, PLACE_SHIFT * float(side), LIFT_HEIGHT * float(up)])
    return T


def _can_grasp() -> HandShape:
    """Fingers wrapped around the can (solved per finger), thumb opposed."""
    # In each finger's flexion plane: the can axis is PALM distance + radius in front of
    # the palm surface, level with the palm centre.
    center = np.array([PALM_HALF_SIZE[0] + CAN_RADIUS + 0.001, PALM_SURFACE_IN_HAND[2]])
    a = {}
    for f, g in FINGER_GEOMETRY.items():
        wrap_r = CAN_RADIUS + g.radius
        mcp, pip, dip = wrap_angles(np.array([0.0, g.mcp_pos[2]]), g.lengths, center, wrap_r)
        a[f"{f}_mcp_flex"], a[f"{f}_pip_flex"], a[f"{f}_dip_flex"] = mcp, pip, dip
    a.update(thumb_cmc_abd=0.3, thumb_cmc_flex=0.55, thumb_mcp_flex=0.35, thumb_ip_flex=0.3)
    return HandShape(a)


# Palm against the can from the robot's side (-x), thumb up, fingers to the right (-y),
# in world-aligned axes (the can's yaw is random and unobservable).
def _can_T_obj_wrist() -> np.ndarray:
    return _hand_on_face(
        palm_normal=np.array([1.0, 0.0, 0.0]),
        thumb_dir=np.array([0.0, 0.0, 1.0]),
        palm_surface_at=np.array([-CAN_RADIUS, 0.0, 0.0]),
    )


CAN_LIFT = SynthTask(
    name="can_lift",
    object_name="can",
    object_rgba=(0.75, 0.10, 0.12, 1.0),
    mesh=lambda: cylinder_mesh(CAN_RADIUS, CAN_HEIGHT),
    rest_height=CAN_HEIGHT / 2,
    sample_start=_can_start,
    path=_can_path,
    T_obj_wrist=_can_T_obj_wrist(),
    grasp=_can_grasp(),
    grasp_world_aligned=True,
    symmetry="cylinder_z",
)

TASKS: dict[str, SynthTask] = {t.name: t for t in (BOX_PUSH, CAN_LIFT)}


def get_task(name: str) -> SynthTask:
    try:
        return TASKS[name]
    except KeyError:
        raise RegistryError("synth task", name, list(TASKS)) from None
