"""The task scene: table, the demo's object and the robot, built with ``mujoco.MjSpec``.

Used by retargeting (IK with collision avoidance) and by the simulator's task. The world
frame is the robot base frame; the table top is the plane ``z = table_height_m``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

from h2s2r.core.geometry import matrix_to_quat
from h2s2r.core.robots import RobotModelInfo, RobotSpec, build_robot_spec
from h2s2r.core.table import TABLE_CENTER_XY, TABLE_HALF_XY, TABLE_THICKNESS_M
from h2s2r.sim.collision import BoxPrimitive, CollisionConfig, collision_geometry


@dataclass(frozen=True)
class TaskScene:
    model: mujoco.MjModel
    robot: RobotModelInfo
    object_mocap: int
    object_geom: int  # the whole mesh (visual; the collision geom too unless replaced)
    object_collision_geoms: tuple[int, ...]  # the mesh, its box primitive or convex parts
    table_geom: int
    table_center_xy: tuple[float, float]  # table top's centre (m, base frame)
    table_half_xy: tuple[float, float]  # table top's half-size along x and y (m)
    table_height_m: float  # the table top is the plane z = table_height_m
    robot_collision_geoms: tuple[int, ...]
    hand_collision_geoms: tuple[int, ...]
    # ``hand_sensors``: sensordata columns of the palm then fingertip positions
    # ``(1 + n_tip, 3)`` and touch forces ``(1 + n_tip,)`` (the hand's own MJCF may carry
    # sensors before ours); empty without them.
    hand_pos_cols: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), int))
    touch_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    # The ``MjSpec`` the model was compiled from (MJCF for other simulators: ``to_xml``).
    spec: mujoco.MjSpec | None = None


def build_task_scene(
    robot: RobotSpec,
    vertices: np.ndarray,
    faces: np.ndarray,
    table_height_m: float,
    table_center_xy=TABLE_CENTER_XY,
    table_half_xy=TABLE_HALF_XY,
    camera_T_base_cam: np.ndarray | None = None,
    camera_fovy_deg: float = 45.0,
    object_kinematic: bool = True,
    object_density: float = 500.0,
    hand_sensors: bool = False,
    collision: CollisionConfig | None = None,
) -> TaskScene:
    """Robot, table and object. ``hand_sensors`` adds world-frame position sensors for the
    palm and then each fingertip (in the registry's order), 3 values each, then touch
    sensors (summed normal contact force, N) in the same order: a 3 cm sphere around each
    fingertip site and a 5 cm sphere around the palm site (privileged contact state).
    ``collision`` picks the object's collision geometry (:mod:`h2s2r.sim.collision`)."""
    spec = build_robot_spec(robot)
    robot_bodies = {b.name for b in spec.bodies if b.name != "world"}
    spec.visual.global_.offwidth = 1280
    spec.visual.global_.offheight = 960
    wb = spec.worldbody
    wb.add_light(pos=[0.5, 0.0, 2.0], dir=[0, 0, -1], diffuse=[0.7, 0.7, 0.7])
    table = wb.add_geom(
        name="table",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=[*table_half_xy, TABLE_THICKNESS_M / 2],
        pos=[*table_center_xy, table_height_m - TABLE_THICKNESS_M / 2],
        rgba=[0.6, 0.5, 0.4, 1],
    )
    del table
    shape = collision_geometry(vertices, faces, collision or CollisionConfig())
    mesh = spec.add_mesh(
        name="object",
        uservert=np.asarray(vertices, np.float32).ravel().tolist(),
        userface=np.asarray(faces, np.int32).ravel().tolist(),
    )
    if isinstance(shape, list):  # non-convex: inertia of the mesh itself, not of its hull
        mesh.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_EXACT
    obj = wb.add_body(name="object", mocap=object_kinematic)
    if not object_kinematic:  # a free rigid body (mass from the mesh volume and density)
        obj.add_freejoint(name="object")
    whole = obj.add_geom(
        name="object",
        type=mujoco.mjtGeom.mjGEOM_MESH,
        meshname="object",
        rgba=[0.85, 0.35, 0.15, 1],
        density=object_density,
    )
    if shape is not None:
        # The whole mesh gives mass and inertia and is drawn; the box or the parts collide.
        whole.contype = whole.conaffinity = 0
    if isinstance(shape, BoxPrimitive):
        obj.add_geom(
            name="object_box",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=list(shape.half_extents_m),
            pos=list(shape.center_m),
            quat=list(matrix_to_quat(shape.rotation)),
            density=0.0,
            group=3,
            rgba=[0.2, 0.6, 0.9, 0.5],
        )
    elif shape is not None:
        for i, (pv, pf) in enumerate(shape):
            spec.add_mesh(
                name=f"object_part{i}",
                uservert=np.asarray(pv, np.float32).ravel().tolist(),
                userface=np.asarray(pf, np.int32).ravel().tolist(),
            )
            obj.add_geom(
                name=f"object_part{i}",
                type=mujoco.mjtGeom.mjGEOM_MESH,
                meshname=f"object_part{i}",
                density=0.0,
                group=3,
                rgba=[0.2, 0.6, 0.9, 0.5],
            )
    if camera_T_base_cam is not None:
        R_mj = camera_T_base_cam[:3, :3] @ np.diag([1.0, -1.0, -1.0])
        wb.add_camera(
            name="demo_cam",
            pos=list(camera_T_base_cam[:3, 3]),
            quat=list(matrix_to_quat(R_mj)),
            fovy=float(camera_fovy_deg),
        )
    if hand_sensors:
        p = robot.hand_prefix
        for site in ["palm", *(f"{f}_tip" for f in robot.fingertips)]:
            spec.add_sensor(
                name=f"pos/{site}",
                type=mujoco.mjtSensor.mjSENS_FRAMEPOS,
                objtype=mujoco.mjtObj.mjOBJ_SITE,
                objname=f"{p}{site}",
            )
        zones = {"palm": 0.05} | {f"{f}_tip": 0.03 for f in robot.fingertips}
        for name, radius in zones.items():
            site = spec.site(p + name)
            site.parent.add_site(
                name=f"touch_{name}", pos=list(site.pos), size=[radius, 0, 0], group=5
            )
            spec.add_sensor(
                name=f"touch/{name}",
                type=mujoco.mjtSensor.mjSENS_TOUCH,
                objtype=mujoco.mjtObj.mjOBJ_SITE,
                objname=f"touch_{name}",
            )
    model = spec.compile()
    info = RobotModelInfo.of(model, robot)
    sensor_cols = {}
    if hand_sensors:
        sites = ["palm", *(f"{f}_tip" for f in robot.fingertips)]

        def cols(kind: str, width: int) -> np.ndarray:
            start = [int(model.sensor_adr[model.sensor(f"{kind}/{s}").id]) for s in sites]
            return np.asarray(start)[:, None] + np.arange(width)

        sensor_cols = {"hand_pos_cols": cols("pos", 3), "touch_cols": cols("touch", 1)[:, 0]}
    robot_geoms = tuple(
        g
        for g in range(model.ngeom)
        if model.body(model.geom_bodyid[g]).name in robot_bodies
        and (model.geom_contype[g] or model.geom_conaffinity[g])
    )
    hand = tuple(
        g
        for g in robot_geoms
        if model.body(model.geom_bodyid[g]).name.startswith(robot.hand_prefix)
    )
    return TaskScene(
        model=model,
        robot=info,
        object_mocap=int(model.body_mocapid[model.body("object").id]),
        object_geom=model.geom("object").id,
        object_collision_geoms=tuple(
            g
            for g in range(model.ngeom)
            if model.geom_bodyid[g] == model.body("object").id
            and (model.geom_contype[g] or model.geom_conaffinity[g])
        ),
        table_geom=model.geom("table").id,
        table_center_xy=tuple(float(v) for v in table_center_xy),
        table_half_xy=tuple(float(v) for v in table_half_xy),
        table_height_m=float(table_height_m),
        robot_collision_geoms=robot_geoms,
        hand_collision_geoms=hand,
        **sensor_cols,
        spec=spec,
    )
