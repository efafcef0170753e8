"""A small task made in code (no demo needed): for tests and benchmarks."""

from __future__ import annotations

import numpy as np

from h2s2r.core.artifacts import ObjectMesh, Task
from h2s2r.core.geometry import look_at_T_world_cam, make_T
from h2s2r.core.robots import get_robot
from h2s2r.sim.synth.tasks import box_mesh


def straight_push(robot: str = "iiwa_allegro") -> tuple[Task, ObjectMesh]:
    """A 0.25 m straight push of a 0.20×0.12×0.06 m box in 2 s on a table at z = 0, the
    robot starting at its home posture."""
    n = 61
    t = np.arange(n) / 30.0
    s = 0.5 - 0.5 * np.cos(np.pi * t / t[-1])
    pos = np.c_[np.full(n, 0.62), -0.10 + 0.25 * s, np.full(n, 0.0305)]
    home = np.asarray(get_robot(robot).home_qpos)
    task = Task(
        t=t,
        object_pos_base=pos,
        object_quat_wxyz_base=np.tile([1.0, 0, 0, 0], (n, 1)),
        pre_manip_qpos=home,
        T_obj_palm=make_T(np.eye(3), [0, -0.1, 0.05]),
        start_idx=1,
        replay_qpos=np.tile(home, (n, 1)),
        # Across the table from the robot, looking down at the path (OpenCV frame).
        T_base_cam=look_at_T_world_cam(np.array([1.3, 0.0, 0.6]), np.array([0.62, 0.02, 0.03])),
        table_height_m=0.0,
        robot=robot,
    )
    v, f = box_mesh((0.20, 0.12, 0.06))
    return task, ObjectMesh(vertices=v, faces=f, name="box", symmetry="box")


__all__ = ["straight_push"]
