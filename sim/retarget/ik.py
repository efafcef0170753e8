"""Arm + hand inverse kinematics with mink on the simulator's own MuJoCo model.

Tasks: the robot palm frame to the human palm frame (position and orientation), each
mapped robot fingertip to the human fingertip (scaled about the palm by the registry's
``retarget_scale``), and a light posture regularization toward the robot's home. Limits:
joint limits, and collision avoidance between the robot's collision geoms and the table
and the object (kept ``min_clearance_m`` apart). Differential IK iterations (QP, daqp)
run until the joint update stalls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import mink
import mujoco
import numpy as np

from h2s2r.core.geometry import matrix_to_quat, rotation_angle_between
from h2s2r.core.robots import RobotSpec
from h2s2r.sim.scene import TaskScene


@dataclass(frozen=True)
class IkConfig:
    """Weights and limits of the retargeting IK."""

    palm_position_cost: float = 0.3  # per metre (low: a bigger robot hand must back off)
    palm_orientation_cost: float = 0.3  # per radian
    fingertip_cost: float = 1.0  # per metre, each mapped finger
    posture_cost: float = 0.01  # per radian
    min_clearance_m: float = 0.005  # robot geoms keep this far from table and object
    max_iterations: int = 60
    step_s: float = 0.1  # integration step of the differential IK
    max_joint_step_rad: float = 0.08  # largest joint change per iteration
    stall_rad: float = 2e-4  # stop when no joint moves more than this in an iteration


@dataclass(frozen=True)
class IkResult:
    qpos: np.ndarray  # (n_joints,) robot joint order
    palm_pos_err_m: float
    palm_rot_err_rad: float
    fingertip_err_m: dict[str, float]
    min_distance_m: float  # closest robot geom to table / object (negative: penetration)
    iterations: int
    time_s: float


class RetargetIK:
    def __init__(
        self,
        scene: TaskScene,
        robot: RobotSpec,
        cfg: IkConfig = IkConfig(),
        avoid_object: bool = True,
    ):
        self.scene, self.robot, self.cfg = scene, robot, cfg
        model = scene.model
        self.configuration = mink.Configuration(model)
        p = robot.hand_prefix
        self.palm_task = mink.FrameTask(
            f"{p}palm", "site", cfg.palm_position_cost, cfg.palm_orientation_cost, lm_damping=1.0
        )
        self.tip_tasks = {
            f: mink.FrameTask(f"{p}{f}_tip", "site", cfg.fingertip_cost, 0.0, lm_damping=1.0)
            for f in sorted(set(robot.finger_map.values()))
        }
        self.posture = mink.PostureTask(model, cost=cfg.posture_cost)
        home = np.zeros(model.nq)
        home[scene.robot.qpos_adr] = robot.home_qpos
        self.posture.set_target(home)
        obstacles = [scene.table_geom, *(scene.object_collision_geoms if avoid_object else ())]
        self.obstacles = obstacles
        # A speed limit keeps each step small, so the collision limit sees every approach
        # (it only acts within its detection distance).
        speed = {
            model.joint(j).name: cfg.max_joint_step_rad / cfg.step_s
            for j in range(model.njnt)
            if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE
        }
        self.limits = [
            mink.ConfigurationLimit(model),
            mink.VelocityLimit(model, speed),
            mink.CollisionAvoidanceLimit(
                model,
                geom_pairs=[(list(scene.robot_collision_geoms), obstacles)],
                gain=0.5,
                minimum_distance_from_collisions=cfg.min_clearance_m,
                collision_detection_distance=0.1,
            ),
        ]

    def set_object_pose(self, T_base_obj: np.ndarray) -> None:
        data = self.configuration.data
        data.mocap_pos[self.scene.object_mocap] = T_base_obj[:3, 3]
        data.mocap_quat[self.scene.object_mocap] = matrix_to_quat(T_base_obj[:3, :3])

    def solve(
        self,
        T_base_palm: np.ndarray,
        tips_base: dict[str, np.ndarray],
        q_init: np.ndarray,
        palm_only: bool = False,
    ) -> IkResult:
        """Joint configuration reaching the palm pose and fingertip positions.

        ``palm_only`` solves the palm pose alone, with only joint limits: whether the arm can
        reach the palm target at all (and a cheap starting point).
        """
        t0 = time.perf_counter()
        cfg = self.cfg
        info = self.scene.robot
        q = self.configuration.q.copy()
        q[info.qpos_adr] = q_init
        self.configuration.update(q)
        self.palm_task.set_target(mink.SE3.from_matrix(T_base_palm))
        tasks = [self.palm_task, self.posture]
        for f, target in ({} if palm_only else tips_base).items():
            self.tip_tasks[f].set_target(mink.SE3.from_translation(target))
            tasks.append(self.tip_tasks[f])
        # Palm only: joint limits alone (no obstacles, so no need to creep at limited speed).
        limits = self.limits[:1] if palm_only else self.limits
        iterations = 0
        while iterations < cfg.max_iterations:
            iterations += 1
            vel = mink.solve_ik(
                self.configuration, tasks, cfg.step_s, "daqp", damping=1e-3, limits=limits
            )
            self.configuration.integrate_inplace(vel, cfg.step_s)
            if np.max(np.abs(vel)) * cfg.step_s < cfg.stall_rad:
                break
        return self._result(T_base_palm, tips_base, iterations, time.perf_counter() - t0)

    def _result(self, T_base_palm, tips_base, iterations, dt) -> IkResult:
        data, model, info = self.configuration.data, self.scene.model, self.scene.robot
        mujoco.mj_forward(model, data)
        R = data.site_xmat[info.palm_site].reshape(3, 3)
        p = data.site_xpos[info.palm_site]
        tips = {
            f: float(np.linalg.norm(data.site_xpos[info.fingertip_sites[f]] - t))
            for f, t in tips_base.items()
        }
        return IkResult(
            qpos=data.qpos[info.qpos_adr].copy(),
            palm_pos_err_m=float(np.linalg.norm(p - T_base_palm[:3, 3])),
            palm_rot_err_rad=float(rotation_angle_between(R, T_base_palm[:3, :3])),
            fingertip_err_m=tips,
            min_distance_m=self.min_distance(),
            iterations=iterations,
            time_s=dt,
        )

    def min_distance(self) -> float:
        """Smallest signed distance between robot collision geoms and the obstacles."""
        model, data = self.scene.model, self.configuration.data
        best = np.inf
        fromto = np.zeros(6)
        for g in self.scene.robot_collision_geoms:
            for o in self.obstacles:
                d = mujoco.mj_geomDistance(model, data, g, o, 0.05, fromto)
                best = min(best, d)
        return float(best)
