"""The synthetic demo scene: floor, table, the object (mocap) and the human hand (mocap).

Everything is kinematic: poses are set per frame and only ``mj_kinematics`` runs, so the
rendering is exactly the scripted ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from h2s2r.core.geometry import matrix_to_quat
from h2s2r.sim.synth.hand import KEYPOINT_NAMES, add_hand, joint_names
from h2s2r.sim.synth.tasks import TABLE_TOP_Z

TABLE_HALF_SIZE = (0.45, 0.60, 0.02)
TABLE_CENTER_XY = (0.65, 0.0)
FLOOR_Z = -0.75
# OpenCV camera (z forward, y down) → MuJoCo camera (looks along -z, y up).
CV_TO_MJ_CAM = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class DemoScene:
    model: mujoco.MjModel
    object_mocap: int
    hand_mocap: int
    hand_qpos_adr: np.ndarray  # (n_hand_joints,) in :func:`joint_names` order
    keypoint_sites: np.ndarray  # (21,) MediaPipe order
    camera: int


def build_demo_scene(
    vertices: np.ndarray,
    faces: np.ndarray,
    object_rgba: tuple[float, float, float, float],
    T_world_cam: np.ndarray,
    fovy_deg: float,
    width: int,
    height: int,
) -> DemoScene:
    spec = mujoco.MjSpec()
    spec.modelname = "h2s2r_synth"
    spec.visual.global_.offwidth = max(width, 640)
    spec.visual.global_.offheight = max(height, 480)
    spec.visual.quality.shadowsize = 2048
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.4, 0.4, 0.4]
    spec.visual.map.znear = 0.01  # × extent; a fine depth buffer near the camera
    spec.visual.map.zfar = 50.0
    spec.stat.extent = 2.0
    spec.stat.center = [0.6, 0.0, 0.0]

    spec.add_texture(
        name="wood",
        type=mujoco.mjtTexture.mjTEXTURE_2D,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_FLAT,
        rgb1=[0.62, 0.50, 0.36],
        rgb2=[0.50, 0.40, 0.28],
        mark=mujoco.mjtMark.mjMARK_RANDOM,
        random=0.15,
        markrgb=[0.45, 0.36, 0.25],
        width=512,
        height=512,
    )
    mat = spec.add_material(name="table", texrepeat=[4, 4])
    mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "wood"
    spec.add_texture(
        name="grid",
        type=mujoco.mjtTexture.mjTEXTURE_2D,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
        rgb1=[0.30, 0.30, 0.32],
        rgb2=[0.25, 0.25, 0.27],
        width=512,
        height=512,
    )
    fmat = spec.add_material(name="floor", texrepeat=[8, 8])
    fmat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "grid"

    wb = spec.worldbody
    wb.add_light(
        pos=[0.4, -0.6, 2.0], dir=[0.1, 0.3, -1.0], diffuse=[0.6, 0.6, 0.6], castshadow=True
    )
    wb.add_light(
        pos=[1.5, 0.8, 1.5], dir=[-0.6, -0.3, -0.7], diffuse=[0.25, 0.25, 0.25], castshadow=False
    )
    wb.add_geom(
        type=mujoco.mjtGeom.mjGEOM_PLANE, size=[4, 4, 0.1], pos=[0, 0, FLOOR_Z], material="floor"
    )
    wb.add_geom(
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=list(TABLE_HALF_SIZE),
        pos=[*TABLE_CENTER_XY, TABLE_TOP_Z - TABLE_HALF_SIZE[2]],
        material="table",
    )

    spec.add_mesh(
        name="object",
        uservert=np.asarray(vertices, np.float32).ravel().tolist(),
        userface=np.asarray(faces, np.int32).ravel().tolist(),
    )
    obj = wb.add_body(name="object", mocap=True)
    obj.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname="object", rgba=list(object_rgba))

    hand_mocap = wb.add_body(name="hand_mocap", mocap=True)
    add_hand(hand_mocap, name="hand")

    R_mj = T_world_cam[:3, :3] @ CV_TO_MJ_CAM
    wb.add_camera(
        name="demo_cam",
        pos=list(T_world_cam[:3, 3]),
        quat=list(matrix_to_quat(R_mj)),
        fovy=float(fovy_deg),
    )

    model = spec.compile()
    return DemoScene(
        model=model,
        object_mocap=int(model.body_mocapid[model.body("object").id]),
        hand_mocap=int(model.body_mocapid[model.body("hand_mocap").id]),
        hand_qpos_adr=np.array(
            [model.jnt_qposadr[model.joint(f"hand/{n}").id] for n in joint_names()]
        ),
        keypoint_sites=np.array([model.site(f"hand/kp/{n}").id for n in KEYPOINT_NAMES]),
        camera=model.camera("demo_cam").id,
    )


def set_pose(
    scene: DemoScene,
    data: mujoco.MjData,
    T_world_obj: np.ndarray,
    T_world_wrist: np.ndarray,
    hand_angles: np.ndarray,
) -> None:
    """Place object and hand, then run kinematics (sites and geoms up to date)."""
    data.mocap_pos[scene.object_mocap] = T_world_obj[:3, 3]
    data.mocap_quat[scene.object_mocap] = matrix_to_quat(T_world_obj[:3, :3])
    data.mocap_pos[scene.hand_mocap] = T_world_wrist[:3, 3]
    data.mocap_quat[scene.hand_mocap] = matrix_to_quat(T_world_wrist[:3, :3])
    data.qpos[scene.hand_qpos_adr] = hand_angles
    mujoco.mj_kinematics(scene.model, data)
    mujoco.mj_camlight(scene.model, data)  # camera and light poses for the renderer
