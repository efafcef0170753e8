"""The task on Isaac Lab 3 (Newton physics, MuJoCo Warp solver), kit-less.

Two ways in, one task implementation (:class:`h2s2r.sim.tasks.track_demo.TrackDemoEnv`):

- **h2s2r's own commands** (``h2s2r train/eval --backend isaaclab``):
  :class:`IsaacLabSim` is a backend like the others (:mod:`h2s2r.sim.backends`): the task
  steps it with joint targets and reads ``qpos()``, ``qvel()`` and ``sensordata`` laid out
  as in the MuJoCo model, so reward, observations, resets, randomization draws and
  terminations are the shared task code, unchanged.
- **Isaac Lab's tools** (:func:`make_isaaclab_env`, gym id ``H2S2R-TrackDemo-Direct-v0``):
  :class:`TrackDemoDirectEnv`, a ``DirectRLEnv`` whose ``_pre_physics_step``,
  ``_apply_action``, ``_get_dones``, ``_get_rewards``, ``_reset_idx`` and
  ``_get_observations`` call the same task's phases (:meth:`TrackDemoEnv.begin_step`,
  :meth:`TrackDemoEnv.finish_step`, ``reset``, ``observe``).

The scene comes from the ``MjSpec`` the MuJoCo backends compile, converted to USD
(:mod:`.usd`): the robot as an articulation welded to each world's origin, the object as a
free rigid body, the table as a static box. What differs from MuJoCo, by construction:

- gravity compensation: the robot's links ignore gravity (MuJoCo: ``gravcomp`` through
  the actuators; the same result for a controller that compensates exactly);
- touch sensors: the net contact force on the palm's and each fingertip's body (MuJoCo:
  normal force inside a sphere around the site); only the critic sees them;
- randomization: friction (object and hand shapes), object mass and actuator gains per
  world as in the MuJoCo variants.

Quaternions: Isaac Lab 3 uses xyzw, the task wxyz; converted here at the boundary.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from h2s2r.core.errors import H2S2RError
from h2s2r.core.xp import Arrays
from h2s2r.sim.backends.isaaclab.usd import export_scene_usd, usd_name

INSTALL_HINT = (
    "the isaaclab backend needs Isaac Lab 3 (Python 3.12, its own environment): run "
    "`make isaaclab-env`, then use .venv-isaaclab/bin/h2s2r"
)
GYM_ID = "H2S2R-TrackDemo-Direct-v0"


def import_isaaclab():
    try:
        import isaaclab  # noqa: F401
        import isaaclab_newton  # noqa: F401
    except ImportError as e:
        raise H2S2RError(f"{INSTALL_HINT} ({e})") from e


def _robot_joints(model: mujoco.MjModel) -> list[int]:
    """The robot's joints (every joint but the object's free joint), each one hinge or
    slide (one position, one velocity)."""
    out = []
    for j in range(model.njnt):
        if model.joint(j).name == "object":
            continue
        if int(model.jnt_type[j]) not in (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE):
            raise H2S2RError(f"isaaclab backend: joint {model.joint(j).name} is not 1-dof")
        out.append(j)
    return out


def _env_cfg(model: mujoco.MjModel, scene, usd, num_envs: int, device: str):
    """The ``DirectRLEnvCfg``: physics from the MuJoCo model's options, the robot's gains
    from its actuators, the table from the scene's numbers."""
    import isaaclab.sim as sim_utils
    from isaaclab.actuators import ImplicitActuatorCfg
    from isaaclab.assets import ArticulationCfg, AssetBaseCfg, RigidObjectCfg
    from isaaclab.envs import DirectRLEnvCfg
    from isaaclab.scene import InteractiveSceneCfg
    from isaaclab.sensors import ContactSensorCfg
    from isaaclab.sim import SimulationCfg
    from isaaclab.utils import configclass
    from isaaclab_newton.physics import MJWarpSolverCfg, NewtonCfg

    opt = model.opt
    kp, kd, limit, armature = {}, {}, {}, {}
    for a in range(model.nu):
        j = int(model.actuator_trnid[a, 0])
        name = usd_name(model.joint(j).name)
        kp[name] = float(model.actuator_gainprm[a, 0])
        kd[name] = float(-model.actuator_biasprm[a, 2])
        if model.jnt_actfrclimited[j]:
            limit[name] = float(model.jnt_actfrcrange[j, 1])
        elif model.actuator_forcelimited[a]:
            limit[name] = float(model.actuator_forcerange[a, 1])
        armature[name] = float(model.dof_armature[model.jnt_dofadr[j]])
    names = list(kp)
    data = mujoco.MjData(model)
    if model.nkey:
        mujoco.mj_resetDataKeyframe(model, data, 0)
    home = {
        usd_name(model.joint(j).name): float(data.qpos[model.jnt_qposadr[j]])
        for j in _robot_joints(model)
    }
    obj_adr = int(model.jnt_qposadr[model.joint("object").id])
    obj_pos = tuple(float(v) for v in data.qpos[obj_adr : obj_adr + 3])
    w, x, y, z = (float(v) for v in data.qpos[obj_adr + 3 : obj_adr + 7])
    half = (*scene.table_half_xy, 0.025)
    cone = "elliptic" if opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC else "pyramidal"
    tips = "|".join(usd_name(model.body(b).name) for b in _site_bodies(model))

    @configclass
    class SceneCfg(InteractiveSceneCfg):
        robot = ArticulationCfg(
            prim_path="{ENV_REGEX_NS}/Robot",
            spawn=sim_utils.UsdFileCfg(
                usd_path=str(usd.robot),
                rigid_props=sim_utils.RigidBodyPropertiesCfg(disable_gravity=True),
            ),
            init_state=ArticulationCfg.InitialStateCfg(joint_pos=home),
            actuators={
                "joints": ImplicitActuatorCfg(
                    joint_names_expr=names,
                    stiffness=kp,
                    damping=kd,
                    joint_effort_limit=limit or None,
                    armature=armature,
                )
            },
        )
        object = RigidObjectCfg(
            prim_path="{ENV_REGEX_NS}/Object",
            spawn=sim_utils.UsdFileCfg(usd_path=str(usd.object)),
            init_state=RigidObjectCfg.InitialStateCfg(pos=obj_pos, rot=(x, y, z, w)),
        )
        table = AssetBaseCfg(
            prim_path="{ENV_REGEX_NS}/Table",
            spawn=sim_utils.CuboidCfg(
                size=tuple(2 * h for h in half),
                collision_props=sim_utils.CollisionPropertiesCfg(),
            ),
            init_state=AssetBaseCfg.InitialStateCfg(
                pos=(*scene.table_center_xy, scene.table_height_m - half[2])
            ),
        )
        contact = ContactSensorCfg(
            prim_path="{ENV_REGEX_NS}/Robot/.*/(" + tips + ")", history_length=1
        )

    @configclass
    class Cfg(DirectRLEnvCfg):
        decimation = 8  # set from the task's substeps when a task attaches
        episode_length_s = 1e6  # the task truncates its episodes itself
        action_space = 1
        observation_space = 1
        state_space = 0
        sim: SimulationCfg = SimulationCfg(
            device=device,
            dt=float(opt.timestep),
            physics=NewtonCfg(
                solver_cfg=MJWarpSolverCfg(
                    njmax=256,
                    nconmax=64,
                    iterations=int(opt.iterations),
                    ls_iterations=max(int(opt.ls_iterations), 20),
                    integrator="implicitfast",
                    cone=cone,
                    impratio=float(opt.impratio),
                ),
                use_cuda_graph=False,
            ),
        )
        scene: SceneCfg = SceneCfg(num_envs=num_envs, env_spacing=2.5)

    return Cfg()


def _site_bodies(model: mujoco.MjModel) -> list[int]:
    """Bodies carrying the palm and fingertip sites the task's sensors read."""
    out = []
    for s in range(model.nsensor):
        if model.sensor_objtype[s] == mujoco.mjtObj.mjOBJ_SITE:
            b = int(model.site_bodyid[model.sensor_objid[s]])
            if b not in out:
                out.append(b)
    return out


def _direct_env_class():
    import torch
    from isaaclab.envs import DirectRLEnv

    class TrackDemoDirectEnv(DirectRLEnv):
        """Isaac Lab's ``DirectRLEnv`` of the Human2Sim2Robot task; every MDP method
        calls the shared task (attached with :meth:`attach`)."""

        task: Any = None

        def attach(self, task) -> None:
            """Drive ``task`` (a :class:`TrackDemoEnv` on this env's
            :class:`IsaacLabSim`) from ``step``: one policy step = ``task.cfg.substeps``
            physics steps with the targets ramped across them, as on MuJoCo."""
            import gymnasium as gym

            self.task = task
            self.cfg.decimation = task.cfg.substeps
            obs = task.observe()
            self.single_observation_space["policy"] = gym.spaces.Box(
                -np.inf, np.inf, (obs["policy"].shape[1],)
            )
            self.single_action_space = gym.spaces.Box(-1.0, 1.0, (task.action_dim,))
            # Isaac Lab's own time-out, one step after the task's (which truncates itself).
            self.cfg.episode_length_s = (task.max_steps + 1) * task.cfg.ctrl_dt_s

        def _pre_physics_step(self, actions: torch.Tensor) -> None:
            self._action, self._plan = self.task.begin_step(actions)
            self._substep = 0

        def _apply_action(self) -> None:
            self.task.sim.apply_targets(self._plan[:, self._substep])
            self._substep += 1

        def _get_dones(self):
            self.task.sim.invalidate()
            _, self._reward, terminated, truncated, self._info = self.task.finish_step(
                self._action, observe=False
            )
            self.extras["success"] = self._info["success"]
            return terminated, truncated

        def _get_rewards(self) -> torch.Tensor:
            return self._reward

        def _reset_idx(self, env_ids) -> None:
            super()._reset_idx(env_ids)
            if self.task is not None:
                mask = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
                mask[env_ids] = True
                self.task.reset(mask)

        def _get_observations(self) -> dict:
            return self.task.observe()

    return TrackDemoDirectEnv


class IsaacLabSim:
    """``B`` worlds of the task scene on Isaac Lab (the ``isaaclab`` backend; the
    interface of :mod:`h2s2r.sim.backends`). The state lives in Isaac Lab's buffers;
    ``qpos()``/``qvel()``/``sensordata`` gather it into the MuJoCo model's layout (torch,
    float32, on ``device``), cached until the next step or reset."""

    def __init__(self, model, num_worlds, variants=None, device=None, scene=None):
        import_isaaclab()
        import torch

        if scene is None or scene.spec is None:
            raise H2S2RError("isaaclab backend: needs the task scene (its MjSpec)")
        self.torch = torch
        self.model = model
        self.num_worlds = num_worlds
        device = device or "cpu"
        self.arrays = Arrays(str(device), "float32")
        self.variants = variants or [model]
        data = mujoco.MjData(model)
        if model.nkey:
            mujoco.mj_resetDataKeyframe(model, data, 0)
        mujoco.mj_forward(model, data)
        self._template_qpos = data.qpos.copy()
        usd = export_scene_usd(scene.spec)
        self.env = _direct_env_class()(_env_cfg(model, scene, usd, num_worlds, str(device)))
        env = self.env
        _quiet_line_search()
        self.robot, self.object = env.scene["robot"], env.scene["object"]
        self.contact = env.scene["contact"]
        self.origins = env.scene.env_origins
        self.dt = float(model.opt.timestep)
        dev = self.arrays.device
        t = lambda x: torch.as_tensor(np.asarray(x), device=dev)  # noqa: E731

        joints = _robot_joints(model)
        jnames = list(self.robot.joint_names)
        self._qadr = t([model.jnt_qposadr[j] for j in joints]).long()
        self._vadr = t([model.jnt_dofadr[j] for j in joints]).long()
        self._jid = t([jnames.index(usd_name(model.joint(j).name)) for j in joints]).long()
        self._act_jid = t(
            [
                jnames.index(usd_name(model.joint(int(model.actuator_trnid[a, 0])).name))
                for a in range(model.nu)
            ]
        ).long()
        jo = model.joint("object").id
        self._oq, self._ov = int(model.jnt_qposadr[jo]), int(model.jnt_dofadr[jo])

        # Sensors: frame positions of sites from body poses, touch from contact forces.
        bnames = list(self.robot.body_names)
        cnames = list(self.contact.sensor_names)
        self._pos_sensors, self._touch_sensors = [], []
        for s in range(model.nsensor):
            adr = int(model.sensor_adr[s])
            kind, objtype = int(model.sensor_type[s]), int(model.sensor_objtype[s])
            if objtype != mujoco.mjtObj.mjOBJ_SITE:
                raise H2S2RError(f"isaaclab backend: sensor {model.sensor(s).name} unsupported")
            site = int(model.sensor_objid[s])
            body = usd_name(model.body(int(model.site_bodyid[site])).name)
            if kind == mujoco.mjtSensor.mjSENS_FRAMEPOS:
                self._pos_sensors.append((adr, bnames.index(body), model.site_pos[site].copy()))
            elif kind == mujoco.mjtSensor.mjSENS_TOUCH:
                self._touch_sensors.append((adr, cnames.index(body)))
            else:
                raise H2S2RError(f"isaaclab backend: sensor {model.sensor(s).name} unsupported")
        self._pos_adr = t([a for a, _, _ in self._pos_sensors]).long()
        self._pos_body = t([b for _, b, _ in self._pos_sensors]).long()
        self._pos_off = t(np.array([o for _, _, o in self._pos_sensors])).float()
        self._touch_adr = t([a for a, _ in self._touch_sensors]).long()
        self._touch_body = t([b for _, b in self._touch_sensors]).long()

        # Randomization tables (per variant): object mass, actuator stiffness and damping.
        ob = model.body("object").id
        self._mass = t([[v.body_mass[ob]] for v in self.variants]).float()
        self._kp = t([v.actuator_gainprm[:, 0] for v in self.variants]).float()
        self._kd = t([-v.actuator_biasprm[:, 2] for v in self.variants]).float()
        self._friction = self._friction_tables(scene)
        self._write_friction(torch.arange(num_worlds, device=dev), None)  # the base model's
        self._cache: dict[str, Any] = {}
        all_worlds = torch.ones(num_worlds, dtype=torch.bool, device=dev)
        self.reset(all_worlds, t(np.tile(self._template_qpos, (num_worlds, 1))).float())

    # ------------------------------------------------------------------ state
    @property
    def template_qpos(self) -> np.ndarray:
        return self._template_qpos

    def invalidate(self) -> None:
        self._cache.clear()

    def qpos(self):
        if "qpos" not in self._cache:
            torch = self.torch
            B = self.num_worlds
            q = torch.zeros((B, self.model.nq), device=self.arrays.device)
            q[:, self._qadr] = self.robot.data.joint_pos.torch[:, self._jid]
            pose = self.object.data.root_link_pose_w.torch
            o = self._oq
            q[:, o : o + 3] = pose[:, :3] - self.origins
            q[:, o + 3] = pose[:, 6]
            q[:, o + 4 : o + 7] = pose[:, 3:6]
            self._cache["qpos"] = q
        return self._cache["qpos"]

    def qvel(self):
        if "qvel" not in self._cache:
            torch = self.torch
            v = torch.zeros((self.num_worlds, self.model.nv), device=self.arrays.device)
            v[:, self._vadr] = self.robot.data.joint_vel.torch[:, self._jid]
            vel = self.object.data.root_link_vel_w.torch
            quat = self.object.data.root_link_pose_w.torch[:, 3:7]
            o = self._ov
            v[:, o : o + 3] = vel[:, :3]
            v[:, o + 3 : o + 6] = _rotate(quat, vel[:, 3:6], inverse=True)  # body frame
            self._cache["qvel"] = v
        return self._cache["qvel"]

    @property
    def sensordata(self):
        if "sensordata" not in self._cache:
            torch = self.torch
            s = torch.zeros((self.num_worlds, self.model.nsensordata), device=self.arrays.device)
            pos = self.robot.data.body_link_pos_w.torch[:, self._pos_body]
            quat = self.robot.data.body_link_quat_w.torch[:, self._pos_body]
            off = self._pos_off.expand(self.num_worlds, -1, -1)
            p = pos + _rotate(quat, off) - self.origins[:, None]
            for k in range(3):
                s[:, self._pos_adr + k] = p[:, :, k]
            if len(self._touch_sensors):
                f = self.contact.data.net_forces_w.torch[:, self._touch_body]
                s[:, self._touch_adr] = torch.linalg.vector_norm(f, dim=-1)
            self._cache["sensordata"] = s
        return self._cache["sensordata"]

    def finite(self):
        torch = self.torch
        return torch.isfinite(self.qpos()).all(dim=1) & torch.isfinite(self.qvel()).all(dim=1)

    # ------------------------------------------------------------------ variants, reset
    def assign_variants(self, mask, variant) -> None:
        """Worlds in ``mask`` take the friction, object mass and actuator gains of
        ``variants[variant[b]]``."""
        if len(self.variants) < 2:
            return
        ids = mask.nonzero()[:, 0]
        if len(ids) == 0:
            return
        v = variant[ids]
        self._write_friction(ids, v)
        self.object.set_masses_index(masses=self._mass[v], env_ids=ids)
        self.robot.write_joint_stiffness_to_sim_index(
            stiffness=self._kp[v], joint_ids=self._act_jid, env_ids=ids
        )
        self.robot.write_joint_damping_to_sim_index(
            damping=self._kd[v], joint_ids=self._act_jid, env_ids=ids
        )

    def _friction_tables(self, scene) -> list[tuple[Any, Any, Any]]:
        """Per-world friction as the MuJoCo variants set it: Newton's ``shape_material_mu``
        of the object's shapes and of the hand bodies' shapes (views into the model, one
        row per world), and each variant's coefficient for them (row ``V``: the base
        model's). The USD scene carries the MjSpec's friction; the task sets the object's
        after compiling (0.8), so the base values are written here too. MuJoCo Warp
        takes the larger coefficient of two touching geoms, as MuJoCo does."""
        import warp as wp

        torch, model = self.torch, self.model
        newton_model = self.env.sim.physics_manager.get_model()
        dev = self.arrays.device
        models = [*self.variants, model]

        def view(asset):
            binding = asset._root_view.get_attribute("shape_material_mu", newton_model)
            return wp.to_torch(binding[:, 0])  # (worlds, shapes of the asset)

        def table(geoms: list[int], n: int):
            """(variants + 1, n): each model's coefficient of ``geoms`` (one value:
            the largest, the one a contact with them takes)."""
            mu = [max(float(m.geom_friction[g, 0]) for g in geoms) for m in models]
            return torch.tensor(mu, device=dev, dtype=torch.float32)[:, None].expand(-1, n)

        obj = view(self.object)
        n = obj.shape[1]
        out = [(obj, torch.arange(n, device=dev), table(list(scene.object_collision_geoms), n))]
        # The hand: each body's shapes get its collision geoms' coefficient.
        robot = view(self.robot)
        by_body: dict[int, list[int]] = {}
        for g in scene.hand_collision_geoms:
            by_body.setdefault(int(model.geom_bodyid[g]), []).append(int(g))
        names = list(self.robot.body_names)
        body_shapes = self.robot._root_view.body_shapes
        for b, geoms in by_body.items():
            public = names.index(usd_name(model.body(b).name))
            backend = self.robot.map_body_ids_to_backend([public])[0]
            shapes = torch.tensor(list(body_shapes[backend]), device=dev, dtype=torch.long)
            out.append((robot, shapes, table(geoms, len(shapes))))
        return out

    def _write_friction(self, ids, variant) -> None:
        """Worlds ``ids`` take the friction of ``variants[variant]`` (None: the base
        model's), then the solver is told (Newton copies it into MuJoCo Warp's model)."""
        from newton import ModelFlags

        base = len(self.variants)  # the tables' last row
        rows = self.torch.full_like(ids, base) if variant is None else variant
        for view, shapes, mu in self._friction:
            view[ids[:, None], shapes[None, :]] = mu[rows]
        self.env.sim.physics_manager.add_model_change(ModelFlags.SHAPE_PROPERTIES)

    def reset(self, mask, qpos) -> None:
        """Worlds in ``mask`` at rest at ``qpos (B, nq)`` (their rows); their position
        targets at the new joint positions."""
        torch = self.torch
        ids = mask.nonzero()[:, 0]
        if len(ids) == 0:
            return
        q = qpos[ids].to(torch.float32)
        jp = q[:, self._qadr]
        self.robot.write_joint_state_to_sim_index(
            position=jp, velocity=torch.zeros_like(jp), joint_ids=self._jid, env_ids=ids
        )
        self.apply_targets(q[:, self._qadr][:, self._act_order()], ids)
        o = self._oq
        pose = torch.cat(
            [q[:, o : o + 3] + self.origins[ids], q[:, o + 4 : o + 7], q[:, o + 3 : o + 4]], dim=1
        )
        self.object.write_root_pose_to_sim_index(root_pose=pose, env_ids=ids)
        self.object.write_root_velocity_to_sim_index(
            root_velocity=torch.zeros((len(ids), 6), device=q.device), env_ids=ids
        )
        self.env.scene.write_data_to_sim()
        self.invalidate()

    def _act_order(self):
        """Columns of the robot joints (qpos order) that each actuator drives."""
        if not hasattr(self, "_act_cols"):
            jid = self._jid.tolist()
            self._act_cols = self.torch.as_tensor([jid.index(j) for j in self._act_jid.tolist()])
        return self._act_cols

    # ------------------------------------------------------------------ step
    def apply_targets(self, ctrl, env_ids=None) -> None:
        """Joint position targets ``(B, nu)`` (actuator order) for the next physics step."""
        self.robot.actuators.target_command.set_position_index(
            value=ctrl.to(self.torch.float32).contiguous(),
            joint_ids=self._act_jid,
            env_ids=env_ids,
        )

    def step(self, ctrl) -> None:
        """Advance every world ``S`` physics steps with ``ctrl (B, S, nu)``."""
        env = self.env
        for s in range(ctrl.shape[1]):
            self.apply_targets(ctrl[:, s])
            env.scene.write_data_to_sim()
            env.sim.step(render=False)
            env.scene.update(dt=self.dt)
        self.invalidate()

    def close(self) -> None:
        self.env.close()


def _quiet_line_search() -> None:
    """MuJoCo Warp 3.12 prints a line from the kernel whenever a world's line search stops
    at its iteration limit (harmless, every step in some world); its only switch also
    silences contact overflow messages. The overflows stay counted in the solver's data;
    the ``warp`` backend (MuJoCo Warp 4) silences the line search alone."""
    from isaaclab_newton.physics import NewtonManager

    solver = getattr(NewtonManager, "_solver", None)
    mjw_model = getattr(solver, "mjw_model", None)
    if mjw_model is not None:
        mjw_model.opt.warn_overflow = False


def _rotate(quat_xyzw, v, inverse: bool = False):
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``(..., 4)`` in xyzw order."""
    import torch

    u, w = quat_xyzw[..., :3], quat_xyzw[..., 3:4]
    if inverse:
        u = -u
    t = 2.0 * torch.linalg.cross(u, v, dim=-1)
    return v + w * t + torch.linalg.cross(u, t, dim=-1)


def make_isaaclab_env(task, mesh, cfg=None, num_envs: int = 64, device: str = "cpu", seed=0):
    """Isaac Lab's ``DirectRLEnv`` of the task (``task``/``mesh``: a workspace's
    ``task/`` and ``object/`` artifacts): for Isaac Lab's training scripts and tools."""
    from h2s2r.sim.tasks.track_demo import TrackDemoEnv

    t = TrackDemoEnv(
        task, mesh, cfg, num_envs=num_envs, seed=seed, backend="isaaclab", device=device
    )
    t.sim.env.attach(t)
    return t.sim.env


def make_isaaclab_env_from_workspace(workspace: str, num_envs: int = 64, device: str = "cpu"):
    """``gym.make(GYM_ID, workspace=..., num_envs=...)``'s entry point."""
    from pathlib import Path

    from h2s2r.core.artifacts import ARTIFACTS

    ws = Path(workspace)
    task = ARTIFACTS["task"].load(ws / "task")
    mesh = ARTIFACTS["object"].load(ws / "object")
    return make_isaaclab_env(task, mesh, num_envs=num_envs, device=device)


def register() -> None:
    """Register :data:`GYM_ID` with gymnasium (Isaac Lab's scripts make envs by id)."""
    import gymnasium as gym

    if GYM_ID not in gym.registry:
        gym.register(
            GYM_ID,
            entry_point="h2s2r.sim.backends.isaaclab.env:make_isaaclab_env_from_workspace",
            disable_env_checker=True,
        )
