"""The Human2Sim2Robot task: make the object follow the demo's path, batched over worlds.

One file (STYLE 5): config factory, reward terms, randomization presets, reset, step,
observations and terminations. Shapes: ``B`` worlds.

- **Physics** 120 Hz, **policy** 15 Hz (8 substeps; joint targets interpolated across
  them). Actions: :mod:`h2s2r.core.control` (palm delta + synergies through differential
  IK, or joint deltas).
- **Reward** (the method's): ``exp(-10·d)`` with ``d`` the mean distance of three object
  keypoints from the same keypoints at the current goal pose; zero while the fingertips
  are ≥ 0.3 m from the object; × 0.1 while ``d > 0.2`` m. The goal advances along the
  demo at 0.5–1× its speed and pauses only while ``d > 0.2`` m (the official rule; a goal
  that pauses at small errors pays the policy for not moving the object). Added terms:
  keypoint precision ``exp(-d / 1 cm)`` (same gates), action rate, fingertip reach.
- **Observations**: ``policy`` is what the robot measures (joints, previous action,
  fingertips and palm, the noisy object pose, current and next goal, progress), built by
  :func:`h2s2r.core.observation.policy_observation` as on the robot;
  ``critic`` adds privileged state: the true object pose and velocity, contact forces on
  the palm and fingertips (``log1p`` of N) and the randomized parameters.
- **Reset**: object at the demo's first pose and robot at the retargeted
  pre-manipulation configuration, both with noise (redrawn where a finger would start
  inside the object). **Terminations**: object off the table,
  hand far from the object, the end of the demo plus slack.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import mujoco
import numpy as np

from h2s2r.core.artifacts import ObjectMesh, Task
from h2s2r.core.control import Controller, ControllerConfig
from h2s2r.core.geometry import quat_angle_between, quat_mul, quat_to_matrix, rotvec_to_quat
from h2s2r.core.goal import (
    NEXT_GOAL_S,
    DemoPath,
    advance_goal,
    keypoint_distance,
    object_keypoints,
)
from h2s2r.core.observation import (
    PolicyInputs,
    policy_observation,
    robot_policy_layout,
    rot6d,
)
from h2s2r.core.robots import RobotModelInfo, get_robot
from h2s2r.sim.backends.mujoco_cpu import BatchedSim, interpolate_targets
from h2s2r.sim.scene import build_task_scene


# ----------------------------------------------------------------------------- config
@dataclass(frozen=True)
class Randomization:
    """Domain randomization ranges (scales are multiplicative, around 1)."""

    friction: tuple[float, float] = (1.0, 1.0)  # object and fingertip sliding friction
    object_mass_scale: tuple[float, float] = (1.0, 1.0)
    gain_scale: tuple[float, float] = (1.0, 1.0)  # actuator stiffness
    obs_pos_noise_m: float = 0.0  # object position observation noise (σ)
    obs_rot_noise_rad: float = 0.0  # object orientation observation noise (σ)
    action_noise: float = 0.0  # σ added to actions
    # Policy steps between an action and its effect, drawn per world and episode from this
    # inclusive range (a policy trained at one fixed latency fails at another).
    action_latency_steps: tuple[int, int] = (0, 0)
    reset_pos_noise_m: float = 0.01  # object start position noise (uniform ±)
    reset_yaw_noise_rad: float = 0.05
    reset_joint_noise_rad: float = 0.02


DR_PRESETS: dict[str, Randomization] = {
    "none": Randomization(
        reset_pos_noise_m=0.0, reset_yaw_noise_rad=0.0, reset_joint_noise_rad=0.0
    ),
    "small": Randomization(
        friction=(0.8, 1.2),
        object_mass_scale=(0.8, 1.2),
        gain_scale=(0.9, 1.1),
        obs_pos_noise_m=0.002,
        obs_rot_noise_rad=0.02,
        action_noise=0.02,
        action_latency_steps=(0, 1),
    ),
    "medium": Randomization(
        friction=(0.6, 1.4),
        object_mass_scale=(0.6, 1.5),
        gain_scale=(0.8, 1.2),
        obs_pos_noise_m=0.005,
        obs_rot_noise_rad=0.05,
        action_noise=0.05,
        action_latency_steps=(0, 1),
        reset_pos_noise_m=0.02,
        reset_yaw_noise_rad=0.1,
    ),
    "large": Randomization(
        friction=(0.4, 1.6),
        object_mass_scale=(0.4, 2.0),
        gain_scale=(0.7, 1.3),
        obs_pos_noise_m=0.01,
        obs_rot_noise_rad=0.1,
        action_noise=0.1,
        action_latency_steps=(0, 2),
        reset_pos_noise_m=0.03,
        reset_yaw_noise_rad=0.17,
    ),
}


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the named reward terms (each logged as ``reward/<name>``)."""

    keypoint_tracking: float = 1.0
    keypoint_precision: float = 0.5
    action_rate: float = -0.01
    fingertip_reach: float = 0.1


@dataclass(frozen=True)
class TaskConfig:
    physics_dt_s: float = 1.0 / 120.0
    ctrl_dt_s: float = 1.0 / 15.0
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    rewards: RewardWeights = field(default_factory=RewardWeights)
    randomization: str = "none"  # none | small | medium | large
    goal_speed: tuple[float, float] = (0.5, 1.0)  # × demo speed
    pause_distance_m: float = 0.2  # the goal pauses (and reward is × 0.1) beyond this
    gate_distance_m: float = 0.3  # no tracking reward while fingertips are this far
    far_hand_m: float = 0.4  # terminate when the palm is this far from the object
    episode_slack_s: float = 2.0  # after the demo's end
    success_pos_m: float = 0.03
    success_rot_deg: float = 20.0
    # Randomized MjModel copies shared among worlds (about 17 MB each for iiwa + Allegro),
    # drawn from the env's ``physics_seed`` and stratified over each parameter's range.
    model_variants: int = 16
    object_density: float = 500.0  # kg/m³

    def __post_init__(self) -> None:
        if self.randomization not in DR_PRESETS:
            raise ValueError(f"randomization {self.randomization!r}: one of {list(DR_PRESETS)}")
        steps = self.ctrl_dt_s / self.physics_dt_s
        if abs(steps - round(steps)) > 1e-6:
            raise ValueError("ctrl_dt_s must be a multiple of physics_dt_s")

    @property
    def substeps(self) -> int:
        return round(self.ctrl_dt_s / self.physics_dt_s)


def make_task_cfg(
    randomization: str = "none",
    action_mode: str = "palm_synergy",
    synergy_scale: float | None = None,
    **overrides,
) -> TaskConfig:
    """The default task config with a randomization preset, an action mode and (optionally)
    the synergy span."""
    ctrl = ControllerConfig(mode=action_mode)
    if synergy_scale is not None:
        ctrl = replace(ctrl, synergy_scale=synergy_scale)
    return replace(TaskConfig(randomization=randomization, controller=ctrl), **overrides)


# ----------------------------------------------------------------------------- rewards
def keypoint_tracking(
    d: np.ndarray, tips_to_object_m: np.ndarray, gate_m: float, pause_m: float
) -> np.ndarray:
    """``exp(-10 d)``, zero while the fingertips' mean distance to the object is
    ≥ ``gate_m``, × 0.1 while ``d > pause_m``. Unitless, ``(B,)``."""
    return _gated(np.exp(-10.0 * d), d, tips_to_object_m, gate_m, pause_m)


def keypoint_precision(
    d: np.ndarray, tips_to_object_m: np.ndarray, gate_m: float, pause_m: float
) -> np.ndarray:
    """``exp(-d / 1 cm)``, gated like :func:`keypoint_tracking`: a fine kernel that still
    pays for the last centimetres, where ``exp(-10 d)`` is nearly flat (0.90 at 1 cm,
    0.74 at 3 cm; here 0.37 and 0.05). Unitless, ``(B,)``."""
    return _gated(np.exp(-d / 0.01), d, tips_to_object_m, gate_m, pause_m)


def _gated(r, d, tips_to_object_m, gate_m, pause_m):
    """The method's gates on a tracking kernel ``r``: zero while the fingertips are
    ``gate_m`` or more from the object, × 0.1 while ``d > pause_m``."""
    r = np.where(tips_to_object_m >= gate_m, 0.0, r)
    return np.where(d > pause_m, 0.1 * r, r)


def action_rate(action: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Squared change of the action between policy steps, ``(B,)`` (weight negative)."""
    return np.sum((action - previous) ** 2, axis=1)


def fingertip_reach(tips_to_object_m: np.ndarray) -> np.ndarray:
    """``exp(-10·m)`` of the fingertips' mean distance to the object centre, ``(B,)``:
    a small shaping term that keeps the hand at the object."""
    return np.exp(-10.0 * tips_to_object_m)


# ----------------------------------------------------------------------------- env
def latin_hypercube(rng: np.random.Generator, ranges, n: int) -> np.ndarray:
    """``(n, len(ranges))`` samples, one column per ``(lo, hi)`` range: each range is cut
    into ``n`` equal strata and each stratum holds exactly one sample (in random order and
    at a random place within it)."""
    cols = []
    for lo, hi in ranges:
        u = (rng.permutation(n) + rng.uniform(0.0, 1.0, n)) / n
        cols.append(lo + u * (hi - lo))
    return np.stack(cols, axis=1)


class TrackDemoEnv:
    """Batched environment over ``num_envs`` worlds (numpy in, numpy out); it follows
    :class:`h2s2r.core.env.BatchedEnv`."""

    name = "track_demo"

    def __init__(
        self,
        task: Task,
        mesh: ObjectMesh,
        cfg: TaskConfig | None = None,
        num_envs: int = 64,
        nthread: int | None = None,
        seed: int = 0,
        physics_seed: int | None = None,
    ):
        self.cfg = cfg or make_task_cfg()
        self.task, self.num_envs = task, num_envs
        self.rng = np.random.default_rng(seed)
        self.dr = DR_PRESETS[self.cfg.randomization]
        self.robot = get_robot(task.robot)
        self.controller = Controller(self.robot, self.cfg.controller)
        scene = build_task_scene(
            self.robot,
            mesh.vertices,
            mesh.faces,
            task.table_height_m,
            object_kinematic=False,
            object_density=self.cfg.object_density,
            hand_sensors=True,
        )
        self.scene = scene
        self.info: RobotModelInfo = scene.robot
        base = scene.model
        base.opt.timestep = self.cfg.physics_dt_s
        base.geom_friction[list(scene.object_collision_geoms), 0] = 0.8
        jid = base.joint("object").id
        self.obj_qpos = int(base.jnt_qposadr[jid])
        self.obj_qvel = int(base.jnt_dofadr[jid])
        self.obj_body = int(base.body("object").id)
        # The backend first: it sets the simulation flags (keep diverged worlds' NaN) on
        # ``base``, which the randomized copies then inherit.
        self.sim = BatchedSim(base, num_envs, nthread=nthread)
        self.physics_seed = seed if physics_seed is None else physics_seed
        self.variants, self.variant_params = self._make_variants(base, self.physics_seed)
        # Start poses are checked for the hand inside the object (see ``reset``).
        self._probe = mujoco.MjData(base)
        obj_geoms = np.zeros(base.ngeom, dtype=bool)
        obj_geoms[list(scene.object_collision_geoms)] = True
        self._object_geom = obj_geoms
        self._robot_geom = ~obj_geoms & (base.geom_bodyid != 0)
        self.world_variant = self.rng.integers(0, len(self.variants), num_envs)
        self.sim.models = [self.variants[k] for k in self.world_variant]

        # The demo path (the moving goal) and keypoints on the object (its bounding box
        # half-axes) that the reward and the goal rule measure.
        self.path = DemoPath(task.t, task.object_pos_base, task.object_quat_wxyz_base)
        self.demo_pos, self.demo_quat = self.path.pos, self.path.quat
        # The current and next goal poses at ``_goals_at`` (see ``goals``).
        self._goals_at: np.ndarray | None = None
        self._goals: tuple[np.ndarray, ...] = ()
        self.keypoints_obj, self.obj_center = object_keypoints(mesh.vertices)
        self.duration = self.path.duration
        self.max_steps = int(
            np.ceil(
                (self.duration / self.cfg.goal_speed[0] + self.cfg.episode_slack_s)
                / self.cfg.ctrl_dt_s
            )
        )
        nh = len(self.robot.joint_names) - self.controller.n_arm
        self.q_hand_ref = np.tile(task.pre_manip_qpos[-nh:], (num_envs, 1))
        self.action_dim = self.controller.action_dim
        self.policy_layout = robot_policy_layout(self.robot, self.action_dim)
        self.prev_action = np.zeros((num_envs, self.action_dim))
        # Latency queue: the last ``max latency`` applied actions, oldest first.
        self.pending = np.zeros((num_envs, self.dr.action_latency_steps[1], self.action_dim))
        self.latency = np.zeros(num_envs, dtype=np.int64)
        self.prev_target = np.tile(task.pre_manip_qpos, (num_envs, 1))
        self.goal_time = np.zeros(num_envs)
        self.goal_speed = np.ones(num_envs)
        self.steps = np.zeros(num_envs, dtype=np.int64)
        self.off_table = np.zeros(num_envs, dtype=bool)
        self.reset(np.arange(num_envs))

    # ------------------------------------------------------------------ randomization
    def _make_variants(self, base: mujoco.MjModel, physics_seed: int):
        """``model_variants`` copies of ``base`` with friction, object mass and actuator gain
        scales drawn by Latin hypercube sampling: each parameter's range is cut into as
        many strata as variants and every stratum is used once, so a few variants still
        reach both ends of every range (8 independent draws covered object mass only
        ×0.69–1.23 of ``medium``'s ×0.6–1.5). The draws depend on ``physics_seed`` alone:
        training, validation and ``eval`` pass different seeds, so ``eval`` meets physics
        parameters the policy never trained on."""
        dr = self.dr
        n = self.cfg.model_variants if self.cfg.randomization != "none" else 1
        params = latin_hypercube(
            np.random.default_rng((0x5EED, physics_seed)),
            [dr.friction, dr.object_mass_scale, dr.gain_scale],
            n,
        )
        tip_geoms = list(self.scene.hand_collision_geoms)
        act = self.info.actuator_ids
        variants = []
        for fr, ms, gs in params:
            m = copy.copy(base)
            m.geom_friction[[*self.scene.object_collision_geoms, *tip_geoms], 0] *= fr
            m.body_mass[self.obj_body] *= ms
            m.body_inertia[self.obj_body] *= ms
            m.actuator_gainprm[act, 0] *= gs
            m.actuator_biasprm[act, 1] *= gs
            # Quantities MuJoCo derives from masses at compile time (e.g. the inverse
            # weights that scale contact softness) must follow, or a rescaled object makes
            # the simulation diverge at first contact: with ×0.6 or ×1.45 object mass, 2 in
            # 3 worlds did within a second (none at ×1.0).
            mujoco.mj_setConst(m, mujoco.MjData(m))
            variants.append(m)
        return variants, params

    # ------------------------------------------------------------------ goal path
    def goals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Current goal ``(B, 3), (B, 4)`` and the goal ``NEXT_GOAL_S`` later, at the
        worlds' ``goal_time``; kept until ``goal_time`` changes (observing a step and
        rewarding the next one use the same goals)."""
        t = self.goal_time
        if self._goals_at is None or not np.array_equal(self._goals_at, t):
            n = len(t)
            pos, quat = self.path.pose(np.concatenate([t, t + NEXT_GOAL_S]))
            self._goals = (pos[:n], quat[:n], pos[n:], quat[n:])
            self._goals_at = t.copy()
        return self._goals

    # ------------------------------------------------------------------ reset / state
    @property
    def model(self) -> mujoco.MjModel:
        """The unrandomized model (worlds step randomized copies of it)."""
        return self.sim.model

    def seed(self, seed: int) -> None:
        """Restart episode randomness (start poses, noise, latencies, variant choice)."""
        self.rng = np.random.default_rng(seed)

    def reset(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids)
        if len(ids) == 0:
            return
        dr, n = self.dr, len(ids)
        qpos = self._start_qpos(n)
        # Start-pose noise can put the fingers inside the object (under `medium`, 17 % of
        # draws by more than 5 mm, up to 1.9 cm), which throws it on the first step:
        # redraw those, and start the last few without noise (the demo's own start is
        # clear of the hand).
        bad = self._penetrating(qpos)
        for _ in range(5):
            if not bad.any():
                break
            qpos[bad] = self._start_qpos(int(bad.sum()))
            bad[bad] = self._penetrating(qpos[bad])
        if bad.any():
            qpos[bad] = self._start_qpos(int(bad.sum()), noise=False)
        q = qpos[:, self.info.qpos_adr]
        self.world_variant[ids] = self.rng.integers(0, len(self.variants), n)
        self.sim.models = [self.variants[k] for k in self.world_variant]
        self.sim.reset(ids, qpos=qpos)  # after the models: it computes their sensors
        self.prev_target[ids] = q
        self.prev_action[ids] = 0.0
        self.pending[ids] = 0.0
        lo, hi = dr.action_latency_steps
        self.latency[ids] = self.rng.integers(lo, hi + 1, n)
        self.goal_time[ids] = 0.0
        self.goal_speed[ids] = self.rng.uniform(*self.cfg.goal_speed, n)
        self.steps[ids] = 0
        self.off_table[ids] = False

    def _start_qpos(self, n: int, noise: bool = True) -> np.ndarray:
        """``(n, nq)`` start positions: the robot at the retargeted pre-manipulation
        configuration and the object at the demo's first pose, each with the preset's
        noise."""
        dr = self.dr
        k = 1.0 if noise else 0.0
        qpos = np.tile(self.sim.template_qpos, (n, 1))
        q = (
            self.task.pre_manip_qpos
            + k * self.rng.uniform(-1, 1, (n, len(self.info.qpos_adr))) * dr.reset_joint_noise_rad
        )
        qpos[:, self.info.qpos_adr] = np.clip(q, self.controller.lo, self.controller.hi)
        pos = (
            self.demo_pos[0]
            + k * np.c_[self.rng.uniform(-1, 1, (n, 2)) * dr.reset_pos_noise_m, np.zeros(n)]
        )
        yaw = k * self.rng.uniform(-1, 1, n) * dr.reset_yaw_noise_rad
        quat = quat_mul(rotvec_to_quat(np.c_[np.zeros((n, 2)), yaw]), self.demo_quat[0])
        qpos[:, self.obj_qpos : self.obj_qpos + 3] = pos
        qpos[:, self.obj_qpos + 3 : self.obj_qpos + 7] = quat
        return qpos

    def _penetrating(self, qpos: np.ndarray, depth_m: float = 0.002) -> np.ndarray:
        """``(n,)`` whether the robot penetrates the object by more than ``depth_m``."""
        m, d = self.sim.model, self._probe
        out = np.zeros(len(qpos), dtype=bool)
        for i, row in enumerate(qpos):
            d.qpos[:] = row
            mujoco.mj_kinematics(m, d)
            mujoco.mj_collision(m, d)
            c = d.contact[: d.ncon]
            g1, g2 = np.asarray(c.geom1), np.asarray(c.geom2)
            pair = (self._object_geom[g1] & self._robot_geom[g2]) | (
                self._object_geom[g2] & self._robot_geom[g1]
            )
            out[i] = bool(np.any(np.asarray(c.dist)[pair] < -depth_m))
        return out

    def robot_q(self) -> np.ndarray:
        return self.sim.qpos()[:, self.info.qpos_adr]

    def qpos(self) -> np.ndarray:
        """``(B, nq)`` model positions (a copy)."""
        return self.sim.qpos().copy()

    def object_pose(self) -> tuple[np.ndarray, np.ndarray]:
        qp = self.sim.qpos()
        return qp[:, self.obj_qpos : self.obj_qpos + 3].copy(), qp[
            :, self.obj_qpos + 3 : self.obj_qpos + 7
        ].copy()

    # ------------------------------------------------------------------ step
    def step(self, action: np.ndarray, observe: bool = True):
        """Apply ``action (B, A)``; returns ``(obs, reward, terminated, truncated, info)``
        (``obs`` is None with ``observe=False``: for a caller that resets some worlds and
        then observes all of them once)."""
        dr = self.dr
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        applied = (
            action + self.rng.normal(0, dr.action_noise, action.shape)
            if dr.action_noise
            else action
        )
        if dr.action_latency_steps[1]:
            queue = np.concatenate([self.pending, applied[:, None]], axis=1)
            applied = queue[np.arange(self.num_envs), -1 - self.latency]
            self.pending = queue[:, 1:]
        target = self.controller(self.robot_q(), applied, self.q_hand_ref)
        return self.step_targets(target, action, observe)

    def step_targets(
        self, target: np.ndarray, action: np.ndarray | None = None, observe: bool = True
    ):
        """Advance one policy step toward joint targets ``(B, n)`` (the controller's output,
        or a replay's); ``action`` only feeds the action-rate term and observations."""
        cfg = self.cfg
        if action is None:
            action = self.prev_action
        plan = np.zeros((self.num_envs, cfg.substeps, self.sim.model.nu))
        plan[:, :, self.info.actuator_ids] = interpolate_targets(
            self.prev_target, target, cfg.substeps
        )
        self.prev_target = target
        self.sim.step(plan)
        self.steps += 1
        # A world whose physics diverged (NaN, absurd speeds) is reset at once and ends its
        # episode as terminated, so no NaN reaches the learner.
        unstable = ~np.isfinite(self.sim.state).all(axis=1) | (
            np.abs(np.nan_to_num(self.sim.qvel(), nan=1e9)).max(axis=1) > 1e3
        )
        if unstable.any():
            bad = np.nonzero(unstable)[0]
            self.reset(bad)
            self.steps[bad] = self.max_steps

        obj_pos, obj_quat = self.object_pose()
        goal_pos, goal_quat = self.goals()[:2]
        d = keypoint_distance(obj_pos, obj_quat, goal_pos, goal_quat, self.keypoints_obj)
        tips, palm = self._hand_points()
        obj_c = obj_pos + np.einsum("bij,j->bi", quat_to_matrix(obj_quat), self.obj_center)
        tip_dist = np.linalg.norm(tips - obj_c[:, None], axis=-1).mean(axis=1)
        terms = {
            "keypoint_tracking": keypoint_tracking(
                d, tip_dist, cfg.gate_distance_m, cfg.pause_distance_m
            ),
            "keypoint_precision": keypoint_precision(
                d, tip_dist, cfg.gate_distance_m, cfg.pause_distance_m
            ),
            "action_rate": action_rate(action, self.prev_action),
            "fingertip_reach": fingertip_reach(tip_dist),
        }
        w = cfg.rewards
        reward = sum(getattr(w, k) * v for k, v in terms.items())
        # Advance the goal unless the object is far behind it (the official rule).
        self.goal_time = advance_goal(
            self.goal_time, self.goal_speed, d, cfg.ctrl_dt_s, cfg.pause_distance_m
        )
        self.prev_action = action

        scene = self.scene
        table_xy = np.abs(obj_pos[:, :2] - np.array(scene.table_center_xy)) > np.array(
            scene.table_half_xy
        )
        off = (obj_pos[:, 2] < scene.table_height_m - 0.05) | table_xy.any(axis=1)
        self.off_table |= off
        far = np.linalg.norm(palm - obj_c, axis=1) > cfg.far_hand_m
        terminated = off | far | unstable
        reward = np.where(unstable, 0.0, reward)
        truncated = self.steps >= self.max_steps
        final_pos, final_quat = self.demo_pos[-1], self.demo_quat[-1]
        success = (
            (np.linalg.norm(obj_pos - final_pos, axis=1) < cfg.success_pos_m)
            & (np.degrees(quat_angle_between(obj_quat, final_quat)) < cfg.success_rot_deg)
            & ~self.off_table
        )
        info = {
            "reward_terms": terms,
            "keypoint_distance": d,
            "success": success,
            "unstable": unstable,
            "goal_progress": self.path.progress(self.goal_time),
        }
        obs = self.observe(obj_pos, obj_quat, tips, palm) if observe else None
        return obs, reward, terminated, truncated, info

    def _hand_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Fingertip ``(B, 4, 3)`` and palm ``(B, 3)`` positions (base frame), from the
        sensors the scene carries after the last substep."""
        p = self.sim.sensordata[:, self.scene.hand_pos_cols]  # (B, 1 + n_tip, 3)
        return p[:, 1:], p[:, 0]

    def contact_forces(self) -> np.ndarray:
        """``(B, 1 + n_tip)`` normal contact force (N) on the palm and each fingertip."""
        return self.sim.sensordata[:, self.scene.touch_cols]

    def observe(self, obj_pos=None, obj_quat=None, tips=None, palm=None) -> dict[str, np.ndarray]:
        """``{"policy": (B, P), "critic": (B, C)}`` observations."""
        if obj_pos is None:
            obj_pos, obj_quat = self.object_pose()
            tips, palm = self._hand_points()
        dr = self.dr
        n = self.num_envs
        noisy_pos = (
            obj_pos + self.rng.normal(0, dr.obs_pos_noise_m, (n, 3))
            if dr.obs_pos_noise_m
            else obj_pos
        )
        noisy_quat = (
            quat_mul(rotvec_to_quat(self.rng.normal(0, dr.obs_rot_noise_rad, (n, 3))), obj_quat)
            if dr.obs_rot_noise_rad
            else obj_quat
        )
        g_pos, g_quat, n_pos, n_quat = self.goals()
        policy = policy_observation(
            PolicyInputs(
                joint_pos=self.robot_q(),
                joint_vel=self.sim.qvel()[:, self.info.dof_adr],
                previous_action=self.prev_action,
                fingertip_pos=tips,
                palm_pos=palm,
                object_pos=noisy_pos,
                object_quat_wxyz=noisy_quat,
                goal_pos=g_pos,
                goal_quat_wxyz=g_quat,
                next_goal_pos=n_pos,
                next_goal_quat_wxyz=n_quat,
                progress=self.path.progress(self.goal_time),
            )
        )
        vel = self.sim.qvel()[:, self.obj_qvel : self.obj_qvel + 6]
        critic = np.concatenate(
            [
                policy,
                obj_pos,
                rot6d(obj_quat),
                vel,
                np.log1p(self.contact_forces()),
                self.variant_params[self.world_variant],
                self.latency[:, None],
            ],
            axis=1,
        )
        return {"policy": policy, "critic": critic.astype(np.float32)}

    def close(self) -> None:
        self.sim.close()
