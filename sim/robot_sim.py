"""A simulated robot for deployment: MuJoCo robot, table and object behind ROS topics.

The same scene the task trains in (robot, table at the task's height, the demo's object as
a free body, same physics options), started where an episode starts (the retargeted
pre-manipulation configuration, the object at the demo's first pose), driven by joint
position commands as they arrive (the latest one is the actuators' target) and advanced
in real time by :meth:`RobotSim.advance_to`. It reports what a real robot's drivers and a
pose tracker would: joint positions and velocities, and the object's pose with
observation noise (or rendered colour and depth images, for the camera path).

Shapes: ``n`` robot joints in registry order; poses in the robot base frame, wxyz.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from h2s2r.core.artifacts import ObjectMesh, Task
from h2s2r.core.geometry import quat_mul, quat_normalize, rotvec_to_quat
from h2s2r.core.robots import get_robot
from h2s2r.sim.backends.mujoco_cpu import keep_divergence
from h2s2r.sim.scene import build_task_scene


@dataclass(frozen=True)
class RobotSimConfig:
    """Options of the simulated robot node."""

    pose_noise_m: float = 0.002  # σ of the reported object position
    pose_noise_rad: float = 0.02  # σ of the reported object orientation (rotation vector)
    object_density: float = 500.0  # kg/m³, as in training
    object_friction: float = 0.8  # as in training
    start_pos_noise_m: float = 0.0  # uniform ± on the object's start position (x, y)
    seed: int = 0


class RobotSim:
    """One simulated world, stepped in real time by its node."""

    def __init__(self, task: Task, mesh: ObjectMesh, cfg: RobotSimConfig = RobotSimConfig()):
        self.cfg = cfg
        self.task = task
        self.robot = get_robot(task.robot)
        scene = build_task_scene(
            self.robot,
            mesh.vertices,
            mesh.faces,
            task.table_height_m,
            object_kinematic=False,
            object_density=cfg.object_density,
            hand_sensors=True,
        )
        self.scene = scene
        m = scene.model
        m.geom_friction[list(scene.object_collision_geoms), 0] = cfg.object_friction
        keep_divergence(m)
        self.model = m
        self.data = mujoco.MjData(m)
        self.info = scene.robot
        jid = m.joint("object").id
        self.obj_qpos = int(m.jnt_qposadr[jid])
        self.rng = np.random.default_rng(cfg.seed)
        self.reset()

    @property
    def joint_names(self) -> tuple[str, ...]:
        return self.robot.joint_names

    def reset(self) -> None:
        """The start of an episode: robot at the pre-manipulation joints, object at the
        demo's first pose, at rest; commands hold the start joints."""
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        if m.nkey:
            mujoco.mj_resetDataKeyframe(m, d, 0)
        q0 = np.asarray(self.task.pre_manip_qpos, dtype=np.float64)
        d.qpos[self.info.qpos_adr] = q0
        pos = self.task.object_pos_base[0].copy()
        pos[:2] += self.rng.uniform(-1, 1, 2) * self.cfg.start_pos_noise_m
        d.qpos[self.obj_qpos : self.obj_qpos + 3] = pos
        d.qpos[self.obj_qpos + 3 : self.obj_qpos + 7] = self.task.object_quat_wxyz_base[0]
        d.qvel[:] = 0.0
        d.ctrl[self.info.actuator_ids] = q0
        mujoco.mj_forward(m, d)
        self.time_s = 0.0

    def command(self, q_target: np.ndarray) -> None:
        """Joint position targets ``(n,)`` for the actuators, from now on."""
        self.data.ctrl[self.info.actuator_ids] = q_target

    def advance_to(self, t_s: float) -> int:
        """Step the physics until its time reaches ``t_s`` (s since reset); the number of
        steps taken."""
        n = 0
        dt = self.model.opt.timestep
        while self.data.time + 0.5 * dt <= t_s:
            mujoco.mj_step(self.model, self.data)
            n += 1
        return n

    def joints(self) -> tuple[np.ndarray, np.ndarray]:
        """Joint positions and velocities ``(n,)``."""
        return (
            self.data.qpos[self.info.qpos_adr].copy(),
            self.data.qvel[self.info.dof_adr].copy(),
        )

    def object_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The true object pose: position ``(3,)``, wxyz ``(4,)``."""
        qp = self.data.qpos
        return qp[self.obj_qpos : self.obj_qpos + 3].copy(), qp[
            self.obj_qpos + 3 : self.obj_qpos + 7
        ].copy()

    def observed_object_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The object pose as a tracker would report it: with the configured noise."""
        pos, quat = self.object_pose()
        pos = pos + self.rng.normal(0, self.cfg.pose_noise_m, 3)
        rot = self.rng.normal(0, self.cfg.pose_noise_rad, 3)
        return pos, quat_normalize(quat_mul(rotvec_to_quat(rot), quat))

    def diverged(self) -> bool:
        return not np.all(np.isfinite(self.data.qpos))


__all__ = ["RobotSim", "RobotSimConfig"]
