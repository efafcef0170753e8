"""Robot registry entries and the MuJoCo model builder.

A robot is an arm and a hand from MuJoCo Menagerie, joined with ``MjSpec.attach`` at the
arm's attachment site, plus what the pipeline needs to know about it: joint order, limits,
gains, the palm frame, fingertip sites and the human→robot finger mapping. Adding a robot
means adding a :class:`RobotSpec`; task code only reads these fields.

Frames added to every robot model (as sites):

- ``palm``: origin at the centre of the palm's inner surface; x out of the palm (the side
  fingers flex toward), y toward the thumb/index side, z toward the fingers. The same
  convention as the human palm frame (dex-retargeting's MediaPipe wrist frame).
- ``<finger>_tip`` for each robot finger (e.g. ``ff_tip``): the centre of the fingertip pad.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np

from h2s2r.core.errors import H2S2RError


@dataclass(frozen=True)
class MenagerieModel:
    """A model file of MuJoCo Menagerie, by robot name and entry (``mujoco-menagerie``)."""

    robot: str
    entry: str


@dataclass(frozen=True)
class SiteSpec:
    """A site on a body of the hand, at ``pos`` or at the centre of geom ``geom``."""

    body: str
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    quat_wxyz: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    geom: str | None = None


@dataclass(frozen=True)
class JointGroupGains:
    """PD gains and limits for a group of joints (position actuators)."""

    kp: float  # N·m/rad
    kd: float  # N·m·s/rad
    armature: float = 0.0  # kg·m², reflected rotor inertia
    force_limit: float | None = None  # N·m, |actuator torque| incl. gravity compensation
    velocity_limit: float | None = None  # rad/s, for command rate limiting in deploy
    acceleration_limit: float | None = None  # rad/s², for command limiting in deploy


@dataclass(frozen=True)
class PhysicsOptions:
    """Physics options set explicitly on every model (MuJoCo keeps the arm's otherwise).

    Friction cones are pyramidal (MuJoCo's default), with the menagerie Allegro's
    ``impratio`` 10 (stiff friction, little creep). The menagerie models choose elliptic
    cones; on this task the constraint solver then dominates the step once fingers press
    on the object (can_lift: 68 % of the step, half the speed of pyramidal; box_push in
    mid-training: 56 %, 0.66×). box_push policies trained on either cone succeed in
    98–100 % of episodes on the other (README, "Contact model and throughput").
    """

    timestep_s: float = 1.0 / 120.0
    integrator: str = "implicitfast"
    cone: str = "pyramidal"  # or "elliptic"
    impratio: float = 10.0
    iterations: int = 50
    ls_iterations: int = 20


@dataclass(frozen=True)
class RobotSpec:
    """One registry entry: everything the pipeline knows about a robot."""

    name: str
    arm: MenagerieModel
    hand: MenagerieModel
    # Joint order of actions, observations and commands (names in the compiled model);
    # position limits come from the Menagerie MJCF, see RobotModelInfo.joint_range.
    joint_names: tuple[str, ...]
    handedness: str
    attach_site: str
    hand_root_body: str
    # Pose of the hand's root body in the arm's attachment-site frame.
    mount_pos: tuple[float, float, float]
    mount_quat_wxyz: tuple[float, float, float, float]
    palm: SiteSpec
    fingertips: dict[str, SiteSpec]  # robot finger name -> fingertip site
    # Human finger (MediaPipe names) -> robot finger; unmapped human fingers are ignored.
    finger_map: dict[str, str]
    arm_gains: tuple[JointGroupGains, ...]  # one per arm joint
    hand_gains: JointGroupGains
    home_qpos: tuple[float, ...]  # a collision-free posture in joint order
    hand_prefix: str = "hand/"
    # Human → robot hand size (palm to fingertip), for fingertip retargeting targets.
    retarget_scale: float = 1.0
    physics: PhysicsOptions = field(default_factory=PhysicsOptions)
    # Contacts to exclude: (arm body, hand body) pairs whose collision shapes overlap.
    exclude_contacts: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.physics.integrator not in _INTEGRATORS or self.physics.cone not in _CONES:
            raise ValueError(
                f"{self.name}: integrator must be one of {sorted(_INTEGRATORS)}, "
                f"cone one of {sorted(_CONES)}"
            )
        if self.handedness not in ("right", "left"):
            raise ValueError(f"{self.name}: handedness must be 'right' or 'left'")
        unknown = set(self.finger_map.values()) - set(self.fingertips)
        if unknown:
            raise ValueError(f"{self.name}: finger_map names fingers without tips: {unknown}")
        if len(self.home_qpos) != len(self.joint_names):
            raise ValueError(
                f"{self.name}: home_qpos has {len(self.home_qpos)} values for "
                f"{len(self.joint_names)} joints"
            )

    def gains_of(self, joint_name: str) -> JointGroupGains:
        """Gains and limits of a joint (arm joints in order, then the hand's)."""
        arm = [n for n in self.joint_names if not n.startswith(self.hand_prefix)]
        if joint_name in arm:
            return self.arm_gains[arm.index(joint_name)]
        if joint_name in self.joint_names:
            return self.hand_gains
        raise KeyError(f"{self.name} has no joint {joint_name!r}")


def menagerie_root() -> Path | None:
    root = os.environ.get("MENAGERIE_ROOT")
    return Path(root) if root else None


def _load_spec(ref: MenagerieModel) -> mujoco.MjSpec:
    import mujoco_menagerie as mm

    try:
        return mm.get(ref.robot).spec(ref.entry)
    except Exception as e:  # the package downloads from GitHub when the models are absent
        root = menagerie_root()
        hint = (
            f"MENAGERIE_ROOT={root} does not hold {ref.robot}/: point MENAGERIE_ROOT at a "
            "mujoco_menagerie checkout (the folder holding kuka_iiwa_14/, wonik_allegro/ …)"
            if root
            else "set MENAGERIE_ROOT to a local mujoco_menagerie checkout (offline machines)"
        )
        raise H2S2RError(
            f"cannot load MuJoCo Menagerie model {ref.robot}:{ref.entry} ({e}) — {hint}"
        ) from e


def _absolute_asset_paths(spec: mujoco.MjSpec) -> mujoco.MjSpec:
    """Mesh and texture files as absolute paths: after ``attach`` the parts' asset
    folders are gone, and an exported MJCF (``spec.to_xml()``, e.g. for the Isaac Lab
    backend's USD conversion) must find them from anywhere."""
    for assets, sub in ((spec.meshes, spec.meshdir), (spec.textures, spec.texturedir)):
        for a in assets:
            if a.file and not os.path.isabs(a.file):
                a.file = os.path.join(spec.modelfiledir, sub or "", a.file)
    return spec


_INTEGRATORS = {
    "euler": mujoco.mjtIntegrator.mjINT_EULER,
    "rk4": mujoco.mjtIntegrator.mjINT_RK4,
    "implicit": mujoco.mjtIntegrator.mjINT_IMPLICIT,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
}
_CONES = {"pyramidal": mujoco.mjtCone.mjCONE_PYRAMIDAL, "elliptic": mujoco.mjtCone.mjCONE_ELLIPTIC}


def _site_pos_from_geom(hand_model: mujoco.MjModel, body: str, geom: str) -> np.ndarray:
    """Position of a geom's centre in its body's frame (after mesh re-centring)."""
    gid = hand_model.geom(geom).id
    if hand_model.body(hand_model.geom_bodyid[gid]).name != body:
        raise ValueError(f"geom {geom} is not on body {body}")
    return hand_model.geom_pos[gid].copy()


def build_robot_spec(robot: RobotSpec, physics: PhysicsOptions | None = None) -> mujoco.MjSpec:
    """Arm + hand as one ``MjSpec``, with sites, gains, gravity compensation and options."""
    physics = physics or robot.physics
    arm = _absolute_asset_paths(_load_spec(robot.arm))
    hand = _absolute_asset_paths(_load_spec(robot.hand))
    hand_model = hand.compile()

    root = hand.body(robot.hand_root_body)
    root.pos = list(robot.mount_pos)
    root.quat = list(robot.mount_quat_wxyz)

    def add_site(name: str, s: SiteSpec) -> None:
        pos = _site_pos_from_geom(hand_model, s.body, s.geom) if s.geom else s.pos
        site = hand.body(s.body).add_site(name=name, pos=list(pos), quat=list(s.quat_wxyz))
        site.size = [0.004, 0.004, 0.004]
        site.group = 4

    add_site("palm", robot.palm)
    for finger, s in robot.fingertips.items():
        add_site(f"{finger}_tip", s)

    # Gravity compensation through the actuators: the real arm and hand controllers
    # compensate gravity; here it counts against the actuators' torque limits.
    for spec in (arm, hand):
        for body in spec.bodies:
            body.gravcomp = 1.0

    # attach() keeps the parent's options and warns where the child's differ; align them
    # first (the robot's own physics options are set explicitly below).
    arm.option.cone = hand.option.cone
    arm.option.impratio = hand.option.impratio
    arm.attach(hand, prefix=robot.hand_prefix, site=arm.site(robot.attach_site))

    model_joints = [j.name for j in arm.joints]
    if model_joints != list(robot.joint_names):
        raise ValueError(
            f"{robot.name}: the Menagerie models give joints {model_joints}, the "
            f"registry expects {list(robot.joint_names)}; update the registry"
        )
    for j in arm.joints:
        g = robot.gains_of(j.name)
        j.actgravcomp = 1
        j.armature = g.armature
        if g.force_limit is not None:
            j.actfrclimited = 1
            j.actfrcrange = [-g.force_limit, g.force_limit]
    for act in arm.actuators:
        g = robot.gains_of(act.target)
        act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
        act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        act.gainprm[0] = g.kp
        act.biasprm[0] = 0.0
        act.biasprm[1] = -g.kp
        act.biasprm[2] = -g.kd

    for arm_body, hand_body in robot.exclude_contacts:
        arm.add_exclude(bodyname1=arm_body, bodyname2=robot.hand_prefix + hand_body)

    opt = arm.option
    opt.timestep = physics.timestep_s
    opt.integrator = _INTEGRATORS[physics.integrator]
    opt.cone = _CONES[physics.cone]
    opt.impratio = physics.impratio
    opt.iterations = physics.iterations
    opt.ls_iterations = physics.ls_iterations
    arm.modelname = robot.name
    # Keyframes of the parts refer to their own joints only; the robot's home replaces them.
    for key in list(arm.keys):
        arm.delete(key)
    arm.add_key(name="home", qpos=list(robot.home_qpos), ctrl=list(robot.home_qpos))
    return arm


def build_robot_model(
    robot: RobotSpec, physics: PhysicsOptions | None = None
) -> tuple[mujoco.MjModel, RobotModelInfo]:
    """Compile the robot alone; returns the model and the indices the pipeline needs."""
    spec = build_robot_spec(robot, physics)
    model = spec.compile()
    return model, RobotModelInfo.of(model, robot)


@dataclass(frozen=True)
class RobotModelInfo:
    """Indices and limits of the robot inside a compiled model (alone or in a scene).

    Arrays are in the registry's joint order.
    """

    joint_names: tuple[str, ...]
    qpos_adr: np.ndarray  # (n_joints,)
    dof_adr: np.ndarray  # (n_joints,)
    actuator_ids: np.ndarray  # (n_joints,)
    joint_range: np.ndarray  # (n_joints, 2) rad, from the MJCF
    velocity_limit: np.ndarray  # (n_joints,) rad/s, from the registry (inf if unknown)
    acceleration_limit: np.ndarray  # (n_joints,) rad/s², from the registry (inf if unknown)
    force_limit: np.ndarray  # (n_joints,) N·m, from the registry (inf if unknown)
    palm_site: int
    fingertip_sites: dict[str, int]

    @staticmethod
    def of(model: mujoco.MjModel, robot: RobotSpec, prefix: str = "") -> RobotModelInfo:
        """Look the robot up in ``model``; ``prefix`` is the one it was attached with."""
        jids = []
        for name in robot.joint_names:
            jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, prefix + name)
            if jid < 0:
                raise ValueError(f"{robot.name}: joint {prefix + name!r} is not in the model")
            jids.append(jid)
        by_joint = {
            int(model.actuator_trnid[a, 0]): a
            for a in range(model.nu)
            if model.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT
        }
        missing = [model.joint(j).name for j in jids if j not in by_joint]
        if missing:
            raise ValueError(f"{robot.name}: joints without actuators: {missing}")
        gains = [robot.gains_of(n) for n in robot.joint_names]
        inf = float("inf")
        return RobotModelInfo(
            joint_names=robot.joint_names,
            qpos_adr=np.array([model.jnt_qposadr[j] for j in jids]),
            dof_adr=np.array([model.jnt_dofadr[j] for j in jids]),
            actuator_ids=np.array([by_joint[j] for j in jids]),
            joint_range=np.array([model.jnt_range[j] for j in jids]),
            velocity_limit=np.array([g.velocity_limit or inf for g in gains]),
            acceleration_limit=np.array([g.acceleration_limit or inf for g in gains]),
            force_limit=np.array([g.force_limit or inf for g in gains]),
            palm_site=model.site(prefix + robot.hand_prefix + "palm").id,
            fingertip_sites={
                f: model.site(prefix + robot.hand_prefix + f"{f}_tip").id for f in robot.fingertips
            },
        )
