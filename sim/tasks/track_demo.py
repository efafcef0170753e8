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
import math
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
from h2s2r.core.ranges import check_interval, check_number
from h2s2r.core.robots import RobotModelInfo, get_robot
from h2s2r.core.xp import Random, is_torch, namespace
from h2s2r.sim.backends import interpolate_targets, keep_divergence, make_sim
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

    def __post_init__(self) -> None:
        for key in ("friction", "object_mass_scale", "gain_scale"):
            check_interval(key, getattr(self, key), 0.0, lo_open=True, hint="× the model's")
        check_number("obs_pos_noise_m", self.obs_pos_noise_m, 0.0, 0.1, unit="m")
        check_number("obs_rot_noise_rad", self.obs_rot_noise_rad, 0.0, math.pi, unit="rad")
        check_number("action_noise", self.action_noise, 0.0, 1.0, hint="σ on actions in [-1, 1]")
        check_interval(
            "action_latency_steps", self.action_latency_steps, 0, 15, integer=True,
            unit="policy steps",
        )  # fmt: skip
        check_number("reset_pos_noise_m", self.reset_pos_noise_m, 0.0, 0.2, unit="m")
        check_number("reset_yaw_noise_rad", self.reset_yaw_noise_rad, 0.0, math.pi, unit="rad")
        check_number("reset_joint_noise_rad", self.reset_joint_noise_rad, 0.0, 1.0, unit="rad")


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

    def __post_init__(self) -> None:
        for key in ("keypoint_tracking", "keypoint_precision", "fingertip_reach"):
            check_number(key, getattr(self, key), 0.0, hint="a reward: 0 turns the term off")
        check_number(
            "action_rate", self.action_rate, hi=0.0,
            hint="a penalty on jerky actions: a positive weight rewards them",
        )  # fmt: skip


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
    # Start states drawn (and checked for the hand inside the object) when the env is
    # built; each reset picks one at random. Building 4096 takes well under a second;
    # a 20-minute CPU run starts about 30k episodes, so each start recurs a few times
    # (each with its own goal speed, latency and physics variant).
    start_states: int = 4096
    object_density: float = 500.0  # kg/m³

    def __post_init__(self) -> None:
        """Every option checked against its range (``ValueError`` naming the key, the value
        and the range; :func:`h2s2r.sim.tasks.task_config` prefixes where it came from)."""
        if self.randomization not in DR_PRESETS:
            raise ValueError(f"randomization {self.randomization!r}: one of {list(DR_PRESETS)}")
        check_number(
            "physics_dt_s", self.physics_dt_s, 0.0, 0.02, lo_open=True, unit="s",
            hint="the physics step: 1/120 by default; seconds, not Hz",
        )  # fmt: skip
        check_number(
            "ctrl_dt_s", self.ctrl_dt_s, self.physics_dt_s, 1.0, unit="s",
            hint="the policy period, a multiple of physics_dt_s; seconds, not Hz",
        )  # fmt: skip
        steps = self.ctrl_dt_s / self.physics_dt_s
        if abs(steps - round(steps)) > 1e-6:
            # The two nearest whole numbers of steps (>= 1: ctrl_dt_s >= physics_dt_s),
            # written with enough digits to pass this check (0.0667 would not: 8.004 steps).
            near = []
            for n in sorted({max(1, math.floor(steps)), math.ceil(steps)}):
                dt = round(n * self.physics_dt_s, 12)
                near.append(f"{dt!r} ({n} step{'s' if n > 1 else ''}, {1 / dt:.3g} Hz)")
            raise ValueError(
                f"ctrl_dt_s: {self.ctrl_dt_s:g} is not a multiple of physics_dt_s "
                f"{self.physics_dt_s:g} (the policy acts every whole number of physics steps, "
                f"here {steps:.6g}) — use the nearest: {' or '.join(near)}"
            )
        check_interval(
            "goal_speed", self.goal_speed, 0.0, 10.0, lo_open=True, unit="× demo speed",
            hint="drawn per episode",
        )  # fmt: skip
        for key, hi, what in (
            ("pause_distance_m", 1.0, "the goal pauses beyond this keypoint distance"),
            ("gate_distance_m", 2.0, "no tracking reward while the fingertips are this far"),
            ("far_hand_m", 2.0, "an episode ends when the palm is this far from the object"),
            ("success_pos_m", 0.5, "final position error counted a success"),
        ):
            check_number(
                key, getattr(self, key), 0.0, hi, lo_open=True, unit="m",
                hint=f"{what}; metres: centimetres? 3 cm = 0.03",
            )  # fmt: skip
        check_number("episode_slack_s", self.episode_slack_s, 0.0, 600.0, unit="s")
        check_number(
            "success_rot_deg", self.success_rot_deg, 0.0, 180.0, lo_open=True, unit="°",
            hint="final orientation error counted a success, in degrees",
        )  # fmt: skip
        check_number("model_variants", self.model_variants, 1, 1024, integer=True)
        check_number("start_states", self.start_states, 1, 1_000_000, integer=True)
        check_number(
            "object_density", self.object_density, 10.0, 25_000.0, unit="kg/m³",
            hint="water is 1000, wood about 500, steel 7850; g/cm³? multiply by 1000",
        )  # fmt: skip

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
# Pure functions of arrays (numpy on the CPU backend, torch on the GPU backend).
def keypoint_tracking(
    d: np.ndarray, tips_to_object_m: np.ndarray, gate_m: float, pause_m: float
) -> np.ndarray:
    """``exp(-10 d)``, zero while the fingertips' mean distance to the object is
    ≥ ``gate_m``, × 0.1 while ``d > pause_m``. Unitless, ``(B,)``."""
    return _gated(namespace(d).exp(-10.0 * d), d, tips_to_object_m, gate_m, pause_m)


def keypoint_precision(
    d: np.ndarray, tips_to_object_m: np.ndarray, gate_m: float, pause_m: float
) -> np.ndarray:
    """``exp(-d / 1 cm)``, gated like :func:`keypoint_tracking`: a fine kernel that still
    pays for the last centimetres, where ``exp(-10 d)`` is nearly flat (0.90 at 1 cm,
    0.74 at 3 cm; here 0.37 and 0.05). Unitless, ``(B,)``."""
    return _gated(namespace(d).exp(-d / 0.01), d, tips_to_object_m, gate_m, pause_m)


def _gated(r, d, tips_to_object_m, gate_m, pause_m):
    """The method's gates on a tracking kernel ``r``: zero while the fingertips are
    ``gate_m`` or more from the object, × 0.1 while ``d > pause_m``."""
    xp = namespace(r)
    r = xp.where(tips_to_object_m >= gate_m, 0.0, r)
    return xp.where(d > pause_m, 0.1 * r, r)


def action_rate(action: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Squared change of the action between policy steps, ``(B,)`` (weight negative)."""
    return namespace(action).sum((action - previous) ** 2, axis=1)


def fingertip_reach(tips_to_object_m: np.ndarray) -> np.ndarray:
    """``exp(-10·m)`` of the fingertips' mean distance to the object centre, ``(B,)``:
    a small shaping term that keeps the hand at the object."""
    return namespace(tips_to_object_m).exp(-10.0 * tips_to_object_m)


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
    """Batched environment over ``num_envs`` worlds; it follows
    :class:`h2s2r.core.env.BatchedEnv`.

    One implementation for every backend (:mod:`h2s2r.sim.backends`): the state lives in
    the backend (numpy for ``mujoco``, torch tensors sharing memory with Warp arrays for
    ``warp``) and everything here is written against its array namespace ``xp``, so
    actions, observations, rewards, resets and randomization stay on the device. Host
    numpy is used only at construction (the scene, the randomized models, the bank of
    start states).
    """

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
        backend: str = "mujoco",
        device: str | None = None,
    ):
        self.cfg = cfg or make_task_cfg()
        self.task, self.num_envs = task, num_envs
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
        # Keep a diverged world's NaN (the randomized copies inherit the flag).
        keep_divergence(base)
        jid = base.joint("object").id
        self.obj_qpos = int(base.jnt_qposadr[jid])
        self.obj_qvel = int(base.jnt_dofadr[jid])
        self.obj_body = int(base.body("object").id)
        self.physics_seed = seed if physics_seed is None else physics_seed
        variants, variant_params = self._make_variants(base, self.physics_seed)
        self.variants = variants  # host MjModels (the backend holds them per world)
        self.sim = make_sim(
            backend, base, variants, num_envs, nthread=nthread, device=device, scene=scene
        )
        self.arrays = a = self.sim.arrays
        self.xp = a.xp
        self.rng = Random(a, seed)
        self.variant_params = a.asarray(variant_params)
        # The demo path (the moving goal) and keypoints on the object (its bounding box
        # half-axes) that the reward and the goal rule measure.
        self.path = DemoPath(task.t, task.object_pos_base, task.object_quat_wxyz_base)
        self.demo_pos, self.demo_quat = self.path.pos, self.path.quat
        # Start states: drawn on the host once, checked for the hand inside the object.
        obj_geoms = np.zeros(base.ngeom, dtype=bool)
        obj_geoms[list(scene.object_collision_geoms)] = True
        self._object_geom = obj_geoms
        self._robot_geom = ~obj_geoms & (base.geom_bodyid != 0)
        self.start_bank = a.asarray(self._start_bank(np.random.default_rng((0x57A7, seed))))

        self._final_pos = a.asarray(self.demo_pos[-1])
        self._final_quat = a.asarray(self.demo_quat[-1])
        self._goals: tuple = ()  # current and next goals at ``_goals_at`` (see ``goals``)
        self._goals_at: np.ndarray | None = None
        keypoints, center = object_keypoints(mesh.vertices)
        self.keypoints_obj, self.obj_center = a.asarray(keypoints), a.asarray(center)
        self.duration = self.path.duration
        self.max_steps = int(
            np.ceil(
                (self.duration / self.cfg.goal_speed[0] + self.cfg.episode_slack_s)
                / self.cfg.ctrl_dt_s
            )
        )
        nh = len(self.robot.joint_names) - self.controller.n_arm
        self.q_hand_ref = a.asarray(np.tile(task.pre_manip_qpos[-nh:], (num_envs, 1)))
        self.action_dim = self.controller.action_dim
        self.policy_layout = robot_policy_layout(self.robot, self.action_dim)
        self._robot_qpos = a.asarray(self.info.qpos_adr, dtype=a.int)
        self._robot_dofs = a.asarray(self.info.dof_adr, dtype=a.int)
        self._actuators = a.asarray(self.info.actuator_ids, dtype=a.int)
        self._hand_pos_cols = a.asarray(scene.hand_pos_cols, dtype=a.int)
        self._touch_cols = a.asarray(scene.touch_cols, dtype=a.int)
        self._table_center = a.asarray(scene.table_center_xy)
        self._table_half = a.asarray(scene.table_half_xy)
        B = num_envs
        self.prev_action = a.zeros((B, self.action_dim))
        # Latency queue: the last ``max latency`` applied actions, oldest first.
        self.pending = a.zeros((B, self.dr.action_latency_steps[1], self.action_dim))
        self.latency = a.zeros(B, dtype=a.int)
        self.prev_target = a.asarray(np.tile(task.pre_manip_qpos, (B, 1)))
        self.goal_time = a.zeros(B)
        self.goal_speed = a.ones(B)
        self.steps = a.zeros(B, dtype=a.int)
        self.off_table = a.zeros(B, dtype=a.bool)
        self.world_variant = a.zeros(B, dtype=a.int)
        self.reset(a.ones(B, dtype=a.bool))

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

    # ------------------------------------------------------------------ start states
    def _start_bank(self, rng: np.random.Generator) -> np.ndarray:
        """``(K, nq)`` start states that resets draw from: the robot at the retargeted
        pre-manipulation configuration and the object at the demo's first pose, each with
        the preset's noise (``K = cfg.start_states``; one without noise).

        Start-pose noise can put the fingers inside the object (under `medium`, 17 % of
        draws by more than 5 mm, up to 1.9 cm), which throws it on the first step: those
        are redrawn, and the last few start without noise (the demo's own start is clear
        of the hand). Checking a start needs MuJoCo's collision detection, so the bank is
        made once, on the host, and a reset on any backend only picks rows of it."""
        noisy = self.cfg.randomization != "none" or self._has_reset_noise()
        k = self.cfg.start_states if noisy else 1
        qpos = self._start_qpos(rng, k, noise=noisy)
        bad = self._penetrating(qpos)
        for _ in range(5):
            if not bad.any():
                break
            qpos[bad] = self._start_qpos(rng, int(bad.sum()))
            bad[bad] = self._penetrating(qpos[bad])
        if bad.any():
            qpos[bad] = self._start_qpos(rng, int(bad.sum()), noise=False)
        return qpos

    def _has_reset_noise(self) -> bool:
        dr = self.dr
        return bool(dr.reset_joint_noise_rad or dr.reset_pos_noise_m or dr.reset_yaw_noise_rad)

    def _start_qpos(self, rng: np.random.Generator, n: int, noise: bool = True) -> np.ndarray:
        """``(n, nq)`` host start positions with (or without) the preset's noise."""
        dr = self.dr
        k = 1.0 if noise else 0.0
        qpos = np.tile(self.sim.template_qpos, (n, 1))
        q = (
            self.task.pre_manip_qpos
            + k * rng.uniform(-1, 1, (n, len(self.info.qpos_adr))) * dr.reset_joint_noise_rad
        )
        qpos[:, self.info.qpos_adr] = np.clip(q, self.controller.lo, self.controller.hi)
        pos = (
            self.demo_pos[0]
            + k * np.c_[rng.uniform(-1, 1, (n, 2)) * dr.reset_pos_noise_m, np.zeros(n)]
        )
        yaw = k * rng.uniform(-1, 1, n) * dr.reset_yaw_noise_rad
        quat = quat_mul(rotvec_to_quat(np.c_[np.zeros((n, 2)), yaw]), self.demo_quat[0])
        qpos[:, self.obj_qpos : self.obj_qpos + 3] = pos
        qpos[:, self.obj_qpos + 3 : self.obj_qpos + 7] = quat
        return qpos

    def _penetrating(self, qpos: np.ndarray, depth_m: float = 0.002) -> np.ndarray:
        """``(n,)`` whether the robot penetrates the object by more than ``depth_m``."""
        m = self.sim.model
        d = mujoco.MjData(m)
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

    # ------------------------------------------------------------------ goal path
    def goals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Current goal ``(B, 3), (B, 4)`` and the goal ``NEXT_GOAL_S`` later, at the
        worlds' ``goal_time`` (observing a step and rewarding the next one use the same
        goals). Kept on the CPU backend until ``goal_time`` changes (in place too);
        recomputed on a device, where comparing would cost a host sync."""
        t, n = self.goal_time, self.num_envs
        if self.arrays.torch or self._goals_at is None or not np.array_equal(self._goals_at, t):
            pos, quat = self.path.pose(self.xp.concat([t, t + NEXT_GOAL_S]))
            self._goals = (pos[:n], quat[:n], pos[n:], quat[n:])
            self._goals_at = None if self.arrays.torch else t.copy()
        return self._goals

    # ------------------------------------------------------------------ reset / state
    @property
    def model(self) -> mujoco.MjModel:
        """The unrandomized model (worlds step randomized copies of it)."""
        return self.sim.model

    def seed(self, seed: int) -> None:
        """Restart episode randomness (start poses, noise, latencies, variant choice)."""
        self.rng = Random(self.arrays, seed)

    def reset(self, ids) -> None:
        """Start new episodes in worlds ``ids`` (indices or a ``(B,)`` bool mask). New
        values are drawn for every world and kept where the mask is set: no host sync,
        the same code on every backend."""
        xp, a, B = self.xp, self.arrays, self.num_envs
        mask = a.mask(ids, B)
        if not a.torch and not mask.any():  # a free check on the host; a sync on a device
            return
        m1 = mask[:, None]
        dr = self.dr
        start = self.start_bank[self.rng.integers(0, self.start_bank.shape[0], B)]
        variant = self.rng.integers(0, self.variant_params.shape[0], B)
        self.world_variant = xp.where(mask, variant, self.world_variant)
        self.sim.assign_variants(mask, self.world_variant)
        self.sim.reset(mask, start)  # after the variants: it computes their sensors
        self.prev_target = xp.where(m1, start[:, self._robot_qpos], self.prev_target)
        self.prev_action = xp.where(m1, 0.0, self.prev_action)
        self.pending = xp.where(mask[:, None, None], 0.0, self.pending)
        lo, hi = dr.action_latency_steps
        self.latency = xp.where(mask, self.rng.integers(lo, hi + 1, B), self.latency)
        self.goal_time = xp.where(mask, 0.0, self.goal_time)
        speed = self.rng.uniform(*self.cfg.goal_speed, B)
        self.goal_speed = xp.where(mask, a.asarray(speed), self.goal_speed)
        self.steps = xp.where(mask, 0, self.steps)
        self.off_table = xp.where(mask, False, self.off_table)

    def robot_q(self) -> np.ndarray:
        return self.sim.qpos()[:, self._robot_qpos]

    def qpos(self) -> np.ndarray:
        """``(B, nq)`` model positions (a host numpy copy, for rendering)."""
        return self.arrays.numpy(self.sim.qpos()).copy()

    def object_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Object positions ``(B, 3)`` and wxyz orientations ``(B, 4)`` (backend arrays)."""
        qp = self.sim.qpos()
        o = self.obj_qpos
        return qp[:, o : o + 3] + 0.0, qp[:, o + 3 : o + 7] + 0.0

    # ------------------------------------------------------------------ step
    def step(self, action: np.ndarray, observe: bool = True):
        """Apply ``action (B, A)``; returns ``(obs, reward, terminated, truncated, info)``
        (``obs`` is None with ``observe=False``: for a caller that resets the finished
        worlds, ``terminated | truncated``, and then observes all of them once; a world
        whose physics diverged is terminated and left for that reset)."""
        action, plan = self.begin_step(action)
        self.sim.step(plan)
        return self.finish_step(action, observe)

    def begin_step(self, action: np.ndarray):
        """The first phase of :meth:`step`: the clipped ``action`` and the physics
        substeps' joint targets ``(B, S, nu)`` (noise, latency and the controller
        applied). A simulator that steps itself (Isaac Lab's ``DirectRLEnv``) applies the
        targets, then calls :meth:`finish_step`."""
        xp, dr = self.xp, self.dr
        action = xp.clip(self._array(action), -1.0, 1.0)
        applied = (
            action + self.rng.normal(dr.action_noise, action.shape) if dr.action_noise else action
        )
        if dr.action_latency_steps[1]:
            queue = xp.concat([self.pending, applied[:, None]], axis=1)
            last = queue.shape[1] - 1
            applied = queue[self.arrays.arange(self.num_envs), last - self.latency]
            self.pending = queue[:, 1:]
        target = self.controller(self.robot_q(), applied, self.q_hand_ref)
        return action, self._plan(target)

    def _array(self, x) -> np.ndarray:
        """An action or target from a caller (numpy or backend arrays) as a backend array."""
        a = self.arrays
        if a.torch and is_torch(x):
            return x.to(dtype=a.float)
        return a.asarray(a.numpy(x))

    def _plan(self, target) -> np.ndarray:
        """Joint targets ``(B, n)`` → actuator controls ``(B, S, nu)`` ramped from the last
        policy step's targets across the substeps."""
        a, cfg = self.arrays, self.cfg
        plan = a.zeros((self.num_envs, cfg.substeps, self.sim.model.nu))
        plan[:, :, self._actuators] = interpolate_targets(self.prev_target, target, cfg.substeps)
        self.prev_target = target
        return plan

    def step_targets(
        self, target: np.ndarray, action: np.ndarray | None = None, observe: bool = True
    ):
        """Advance one policy step toward joint targets ``(B, n)`` (the controller's output,
        or a replay's); ``action`` only feeds the action-rate term and observations."""
        action = self.prev_action if action is None else self._array(action)
        self.sim.step(self._plan(self._array(target)))
        return self.finish_step(action, observe)

    def finish_step(self, action, observe: bool = True):
        """The second phase of :meth:`step`, after the physics: resets of diverged worlds,
        reward terms, goal advance, terminations, success and observations."""
        xp, cfg = self.xp, self.cfg
        self.steps = self.steps + 1
        # A diverged world (NaN, absurd speeds) is terminated with zero reward terms. It is
        # reset here if observed, else by the caller's reset of the finished worlds: one
        # reset per step (on a device a reset runs forward on every world).
        unstable = ~self.sim.finite() | (xp.max(xp.abs(self.sim.qvel()), axis=1) > 1e3)
        if observe:
            self.reset(unstable)
        self.steps = xp.where(unstable, self.max_steps, self.steps)

        obj_pos, obj_quat = self.object_pose()
        goal_pos, goal_quat = self.goals()[:2]
        d = keypoint_distance(obj_pos, obj_quat, goal_pos, goal_quat, self.keypoints_obj)
        d = xp.where(unstable, 0.0, d)  # (NaN until the reset)
        tips, palm = self._hand_points()
        obj_c = obj_pos + quat_to_matrix(obj_quat) @ self.obj_center
        tip_dist = xp.mean(xp.linalg.vector_norm(tips - obj_c[:, None], axis=-1), axis=1)
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
        terms = {k: xp.where(unstable, 0.0, v) for k, v in terms.items()}
        w = cfg.rewards
        reward = sum(getattr(w, k) * v for k, v in terms.items())
        # Advance the goal unless the object is far behind it (the official rule).
        self.goal_time = advance_goal(
            self.goal_time, self.goal_speed, d, cfg.ctrl_dt_s, cfg.pause_distance_m
        )
        self.prev_action = action

        outside = xp.abs(obj_pos[:, :2] - self._table_center) > self._table_half
        off = (obj_pos[:, 2] < self.scene.table_height_m - 0.05) | xp.any(outside, axis=1)
        self.off_table = self.off_table | off
        far = xp.linalg.vector_norm(palm - obj_c, axis=1) > cfg.far_hand_m
        terminated = off | far | unstable
        truncated = self.steps >= self.max_steps
        success = (
            (xp.linalg.vector_norm(obj_pos - self._final_pos, axis=1) < cfg.success_pos_m)
            & (quat_angle_between(obj_quat, self._final_quat) < np.radians(cfg.success_rot_deg))
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
        p = self.sim.sensordata[:, self._hand_pos_cols]  # (B, 1 + n_tip, 3)
        return p[:, 1:], p[:, 0]

    def contact_forces(self) -> np.ndarray:
        """``(B, 1 + n_tip)`` normal contact force (N) on the palm and each fingertip."""
        return self.sim.sensordata[:, self._touch_cols]

    def observe(self, obj_pos=None, obj_quat=None, tips=None, palm=None) -> dict[str, np.ndarray]:
        """``{"policy": (B, P), "critic": (B, C)}`` float32 observations."""
        xp, a = self.xp, self.arrays
        if obj_pos is None:
            obj_pos, obj_quat = self.object_pose()
            tips, palm = self._hand_points()
        dr = self.dr
        n = self.num_envs
        noisy_pos = (
            obj_pos + self.rng.normal(dr.obs_pos_noise_m, (n, 3)) if dr.obs_pos_noise_m else obj_pos
        )
        noisy_quat = (
            quat_mul(rotvec_to_quat(self.rng.normal(dr.obs_rot_noise_rad, (n, 3))), obj_quat)
            if dr.obs_rot_noise_rad
            else obj_quat
        )
        g_pos, g_quat, n_pos, n_quat = self.goals()
        policy = policy_observation(
            PolicyInputs(
                joint_pos=self.robot_q(),
                joint_vel=self.sim.qvel()[:, self._robot_dofs],
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
        o = self.obj_qvel
        privileged = xp.concat(
            [
                obj_pos,
                rot6d(obj_quat),
                self.sim.qvel()[:, o : o + 6],
                xp.log1p(self.contact_forces()),
                self.variant_params[self.world_variant],
                xp.astype(self.latency[:, None], a.float),
            ],
            axis=1,
        )
        critic = xp.concat([policy, xp.astype(privileged, xp.float32)], axis=1)
        return {"policy": policy, "critic": critic}

    def close(self) -> None:
        self.sim.close()
