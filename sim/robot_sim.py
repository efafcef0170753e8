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
from h2s2r.sim.backends.common import keep_divergence
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
    # The camera path: colour and depth rendered from the demo camera's pose
    camera: bool = False
    width: int = 640
    height: int = 480
    focal_px: float = 615.0  # a RealSense D435 colour camera at 640×480
    max_depth_m: float = 3.0  # farther depth is invalid (0), as on a RealSense


class RobotSim:
    """One simulated world, stepped in real time by its node."""

    def __init__(self, task: Task, mesh: ObjectMesh, cfg: RobotSimConfig = RobotSimConfig()):
        self.cfg = cfg
        self.task = task
        self.robot = get_robot(task.robot)
        fovy = float(np.rad2deg(2 * np.arctan(cfg.height / 2 / cfg.focal_px)))
        scene = build_task_scene(
            self.robot,
            mesh.vertices,
            mesh.faces,
            task.table_height_m,
            camera_T_base_cam=task.T_base_cam if cfg.camera else None,
            camera_fovy_deg=fovy,
            object_kinematic=False,
            object_density=cfg.object_density,
            hand_sensors=True,
        )
        # OpenCV intrinsics of that camera (pixel centres at integers).
        self.K = np.array(
            [
                [cfg.focal_px, 0, (cfg.width - 1) / 2],
                [0, cfg.focal_px, (cfg.height - 1) / 2],
                [0, 0, 1.0],
            ]
        )
        self._renderer = None
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

    def render_rgbd(self, color: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
        """Colour ``(H, W, 3)`` uint8 (None unless ``color``) and depth ``(H, W)`` uint16
        millimetres (0 where invalid) from the demo camera, at the current state.

        Shadows and reflections are off: with software OpenGL (no GPU) they made a colour
        frame take 180 ms instead of 52 (depth: 13 ms), measured at 640×480."""
        from h2s2r.core.render import offscreen_renderer

        cfg = self.cfg
        if self._renderer is None:
            self._renderer = offscreen_renderer(self.model, cfg.height, cfg.width)
            for flag in ("SHADOW", "REFLECTION", "SKYBOX", "FOG", "HAZE"):
                self._renderer.scene.flags[getattr(mujoco.mjtRndFlag, f"mjRND_{flag}")] = False
        r = self._renderer
        rgb = None
        if color:
            r.disable_depth_rendering()
            r.update_scene(self.data, camera="demo_cam")
            rgb = r.render().copy()
        r.enable_depth_rendering()
        r.update_scene(self.data, camera="demo_cam")
        depth = r.render()
        depth = np.where((depth > 0) & (depth < cfg.max_depth_m), depth, 0.0)
        return rgb, np.rint(depth * 1000.0).astype(np.uint16)

    def diverged(self) -> bool:
        return not np.all(np.isfinite(self.data.qpos))


__all__ = ["RobotSim", "RobotSimConfig"]
