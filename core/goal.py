"""The demo's object path as a goal that moves, and the rule that advances it.

The simulator and the deploy policy node both move a goal along the demo's object path
(the method's object-centric target) with these functions, so a policy meets the same
goal on the robot as in training.

- :class:`DemoPath`: the object's pose along the demo at any time (linear in position,
  slerp in orientation, clamped to the demo's ends).
- :func:`keypoint_distance`: how far the object is from a goal pose, measured on three
  keypoints of the object.
- :func:`advance_goal`: the goal advances at each world's goal speed and pauses only while
  the object is more than ``pause_m`` behind it (the official code: 0.2 m). A goal that
  paused at small errors would pay the policy for not moving the object (measured).

Shapes: ``B`` worlds (or robots), ``M`` demo waypoints; quaternions wxyz. The per-step
functions take numpy arrays or torch tensors (:mod:`h2s2r.core.xp`).
"""

from __future__ import annotations

import numpy as np

from h2s2r.core.geometry import (
    quat_conj,
    quat_mul,
    quat_normalize,
    quat_to_matrix,
    quat_to_rotvec,
    rotvec_to_quat,
)
from h2s2r.core.xp import is_torch, namespace

NEXT_GOAL_S = 0.5  # the observed next goal lies this far ahead on the demo path (s)


class DemoPath:
    """The object's path of a demo: waypoint times ``t (M,)`` (s, any origin), positions
    ``(M, 3)`` and wxyz orientations ``(M, 4)``, in one frame (the robot base)."""

    def __init__(self, t: np.ndarray, pos: np.ndarray, quat_wxyz: np.ndarray):
        t = np.asarray(t, dtype=np.float64)
        self.t = t - t[0]  # relative time (s)
        self.pos = np.asarray(pos, dtype=np.float64)
        self.quat = np.asarray(quat_wxyz, dtype=np.float64)
        self.duration = float(self.t[-1])
        # Slerp along the path, per segment: its start and its rotation as a rotation
        # vector (the shorter arc, whatever the stored signs), computed once.
        q0, q1 = quat_normalize(self.quat[:-1]), quat_normalize(self.quat[1:])
        q1 = np.where(np.sum(q0 * q1, axis=-1, keepdims=True) < 0, -q1, q1)
        self._seg_quat, self._seg_rotvec = q0, quat_to_rotvec(quat_mul(quat_conj(q0), q1))
        self._device_tables: dict = {}

    def _tables(self, like) -> tuple:
        """The path's tables as arrays like ``like`` (numpy, or torch on its device and
        float type), converted once per kind."""
        if not is_torch(like):
            return self.t, self.pos, self._seg_quat, self._seg_rotvec
        key = (str(like.device), like.dtype)
        if key not in self._device_tables:
            import torch

            self._device_tables[key] = tuple(
                torch.as_tensor(a, device=like.device, dtype=like.dtype)
                for a in (self.t, self.pos, self._seg_quat, self._seg_rotvec)
            )
        return self._device_tables[key]

    def pose(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Object pose ``(B, 3), (B, 4)`` at relative times ``t (B,)`` (clamped to the
        path's ends); numpy, or torch tensors on ``t``'s device."""
        xp = namespace(t)
        times, pos_, seg_quat, seg_rotvec = self._tables(t)
        t = xp.clip(t, 0.0, self.duration)
        i = xp.clip(xp.searchsorted(times, t, side="right") - 1, 0, len(self.t) - 2)
        t0, t1 = times[i], times[i + 1]
        s = xp.clip((t - t0) / xp.clip(t1 - t0, min=1e-9), 0.0, 1.0)[:, None]
        pos = pos_[i] + s * (pos_[i + 1] - pos_[i])
        quat = quat_normalize(quat_mul(seg_quat[i], rotvec_to_quat(s * seg_rotvec[i])))
        return pos, quat

    def nearest_time(
        self, obj_pos: np.ndarray, obj_quat: np.ndarray, keypoints_obj: np.ndarray
    ) -> float:
        """The waypoint time (s) whose pose is nearest to one object pose ``(3,), (4,)``
        by :func:`keypoint_distance`: where a goal resumes after a restart (the first
        waypoint's time, 0, for an object still at the demo's start)."""
        m = len(self.t)
        d = keypoint_distance(
            np.tile(obj_pos, (m, 1)), np.tile(obj_quat, (m, 1)), self.pos, self.quat, keypoints_obj
        )
        return float(self.t[int(np.argmin(d))])

    def progress(self, goal_time: np.ndarray) -> np.ndarray:
        """``(B,)`` fraction of the path the goal has covered, in [0, 1]."""
        return namespace(goal_time).clip(goal_time / max(self.duration, 1e-9), 0.0, 1.0)


def object_keypoints(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The three object-frame keypoints ``(3, 3)`` the reward and the goal rule measure
    (the bounding box centre moved by each half-extent along its axis) and that centre
    ``(3,)``, from the mesh's vertices ``(V, 3)`` (m)."""
    v = np.asarray(vertices, dtype=np.float64)
    half = 0.5 * (v.max(axis=0) - v.min(axis=0))
    center = 0.5 * (v.max(axis=0) + v.min(axis=0))
    return center + np.diag(half), center


def keypoint_distance(
    obj_pos: np.ndarray,
    obj_quat: np.ndarray,
    goal_pos: np.ndarray,
    goal_quat: np.ndarray,
    keypoints_obj: np.ndarray,
) -> np.ndarray:
    """Mean distance (m, ``(B,)``) of three object-frame keypoints ``(3, 3)`` between the
    object's pose and the goal pose (positions ``(B, 3)``, wxyz quaternions ``(B, 4)``)."""
    xp = namespace(obj_pos)
    a = obj_pos[:, None] + keypoints_obj @ xp.matrix_transpose(quat_to_matrix(obj_quat))
    b = goal_pos[:, None] + keypoints_obj @ xp.matrix_transpose(quat_to_matrix(goal_quat))
    return xp.mean(xp.linalg.vector_norm(a - b, axis=-1), axis=1)


def advance_goal(
    goal_time: np.ndarray,
    goal_speed: np.ndarray,
    distance_m: np.ndarray,
    dt_s: float,
    pause_m: float,
) -> np.ndarray:
    """Goal times ``(B,)`` one control period ``dt_s`` later: each advances by its speed
    (× demo speed) unless its object is more than ``pause_m`` from the goal
    (``distance_m (B,)``, :func:`keypoint_distance`), where it waits."""
    xp = namespace(goal_time)
    return xp.where(distance_m <= pause_m, goal_time + goal_speed * dt_s, goal_time)


__all__ = [
    "NEXT_GOAL_S",
    "DemoPath",
    "advance_goal",
    "keypoint_distance",
    "object_keypoints",
]
