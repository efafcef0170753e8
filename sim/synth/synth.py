"""``h2s2r synth``: render a synthetic RGB-D demo with exact ground truth.

Example::

    h2s2r synth --task box_push --out runs/box --seed 7 --noise

Writes ``capture/`` (RGB PNG, uint16 mm depth), ``object/`` (mesh OBJ in metres) and
``ground_truth/`` (object poses and hand keypoints in the camera frame, ``T_base_cam``, and
the frames where the hand reaches its pre-manipulation pose, the object starts to move and
the hand lets go). The same seed gives the same bytes.

Timeline (fractions of ``--frames``): the hand approaches and shapes its fingers
(0–30 %), rests on the object (30–38 %), moves it along the task's path (38–80 %), then
opens and withdraws (80–100 %).
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from h2s2r.core.artifacts import CaptureWriter, GroundTruth, ObjectMesh, Provenance
from h2s2r.core.artifacts.base import staged_folder
from h2s2r.core.config import check_options, option
from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import T_interpolate, T_inv, look_at_T_world_cam, make_T, transform_points
from h2s2r.sim.synth.hand import OPEN
from h2s2r.sim.synth.tasks import TASKS, SynthTask, get_task, smooth_progress

DEMO_FOLDERS = ("capture", "object", "ground_truth")  # what synth writes


@dataclass(frozen=True)
class SynthConfig:
    """Options of ``h2s2r synth``."""

    task: str = "box_push"  # synthetic task template: box_push | can_lift
    seed: int = option(0, lo=0)  # random seed: camera pose, object start pose, noise
    frames: int = option(120, lo=30, hi=100_000)  # number of frames (30 fps: 4 s)
    noise: bool = False  # RealSense-like depth noise and holes, RGB sensor noise
    width: int = option(640, lo=64, hi=8192)  # image width, px
    height: int = option(480, lo=48, hi=8192)  # image height, px
    fps: float = option(30.0, above=0.0, hi=1000.0)  # frame rate, Hz
    # focal length (fx = fy), px; a RealSense D435 colour camera
    focal_px: float = option(615.0, above=0.0)
    camera_distance_m: tuple[float, float] = (0.6, 1.2)  # camera range from the object
    camera_elevation_deg: tuple[float, float] = (30.0, 60.0)  # looking down by
    max_depth_m: float = option(3.0, above=0.0)  # farther depth is invalid (0), as on a RealSense

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise H2S2RError(f"--task {self.task!r} is unknown; valid: {', '.join(TASKS)}")
        check_options(self)
        for name, (lo, hi), limit in (
            ("camera_distance_m", self.camera_distance_m, (0.2, 5.0)),
            ("camera_elevation_deg", self.camera_elevation_deg, (5.0, 85.0)),
        ):
            if not limit[0] <= lo <= hi <= limit[1]:
                raise H2S2RError(
                    f"{name} = [{lo}, {hi}] must be an increasing range within "
                    f"[{limit[0]}, {limit[1]}]"
                )


@dataclass(frozen=True)
class Timeline:
    """Frame indices of the scripted phases."""

    contact: int  # the hand reaches the object
    start: int  # first frame in which the object has moved
    release: int  # first frame of letting go (object at rest from here)
    n: int

    @staticmethod
    def of(n: int) -> Timeline:
        return Timeline(
            contact=round(0.30 * n), start=round(0.38 * n), release=round(0.80 * n), n=n
        )

    def progress(self, i: int) -> float:
        """Path progress in [0, 1]: 0 up to ``start - 1``, 1 from ``release - 1`` on."""
        return float(np.clip((i - (self.start - 1)) / (self.release - self.start), 0.0, 1.0))


def sample_camera(cfg: SynthConfig, rng: np.random.Generator, target: np.ndarray) -> np.ndarray:
    """OpenCV camera pose facing the demonstrator (from +x, across the table)."""
    dist = rng.uniform(*cfg.camera_distance_m)
    elev = np.deg2rad(rng.uniform(*cfg.camera_elevation_deg))
    azim = np.deg2rad(rng.uniform(-50.0, 25.0))  # 0: on the +x axis; negative: toward -y
    direction = np.array([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)])
    return look_at_T_world_cam(target + dist * direction, target)


def intrinsics(cfg: SynthConfig) -> tuple[np.ndarray, float]:
    """``K`` (OpenCV: pixel centres at integers) and MuJoCo's vertical field of view."""
    K = np.array(
        [
            [cfg.focal_px, 0, (cfg.width - 1) / 2],
            [0, cfg.focal_px, (cfg.height - 1) / 2],
            [0, 0, 1.0],
        ]
    )
    fovy = float(np.rad2deg(2 * np.arctan(cfg.height / 2 / cfg.focal_px)))
    return K, fovy


def hand_trajectory(task: SynthTask, tl: Timeline, T_obj: list[np.ndarray]):
    """Per-frame wrist pose and finger angles for the scripted timeline."""
    T_obj_wrist = task.T_obj_wrist_for(T_obj[0])
    grasp_T = T_obj[0] @ T_obj_wrist
    # Start 12 cm back along the palm normal, 8 cm up, 5 cm back along the forearm.
    back = -0.12 * grasp_T[:3, 0] + np.array([0, 0, 0.08]) - 0.05 * grasp_T[:3, 2]
    approach_T = make_T(grasp_T[:3, :3], grasp_T[:3, 3] + back)
    open_q, grasp_q = OPEN.vector(), task.grasp.vector()
    wrists, angles = [], []
    for i in range(tl.n):
        if i < tl.contact:
            s = float(smooth_progress(np.asarray(i / tl.contact), 0.0))
            T = T_interpolate(approach_T, grasp_T, s)
            shape = float(smooth_progress(np.asarray((i / tl.contact - 0.5) / 0.5), 0.0))
            q = open_q + shape * (grasp_q - open_q)
        elif i < tl.release:
            T, q = T_obj[i] @ T_obj_wrist, grasp_q
        else:
            u = (i - tl.release) / max(tl.n - 1 - tl.release, 1)
            end_T = T_obj[i] @ T_obj_wrist
            retreat = -0.10 * end_T[:3, 0] + np.array([0, 0, 0.08])
            s = float(smooth_progress(np.asarray((u - 0.2) / 0.8), 0.0))
            T = make_T(end_T[:3, :3], end_T[:3, 3] + s * retreat)
            o = float(smooth_progress(np.asarray(u / 0.4), 0.0))
            q = grasp_q + o * (open_q - grasp_q)
        wrists.append(T)
        angles.append(q)
    return wrists, angles


def add_sensor_noise(rng: np.random.Generator, rgb: np.ndarray, depth_m: np.ndarray):
    """RealSense-like noise: depth σ = 1 mm + 1.5 mm·z², holes at depth edges, RGB σ = 2."""
    valid = depth_m > 0
    sigma = 0.001 + 0.0015 * depth_m**2
    depth = depth_m + rng.normal(size=depth_m.shape) * sigma
    # Holes where depth jumps (edge "flying pixels" that the camera drops) and speckle.
    dz = np.zeros_like(depth_m)
    dz[:, 1:] = np.maximum(dz[:, 1:], np.abs(np.diff(depth_m, axis=1)))
    dz[1:, :] = np.maximum(dz[1:, :], np.abs(np.diff(depth_m, axis=0)))
    edge = dz > 0.02
    edge[:, :-1] |= edge[:, 1:]
    edge[:-1, :] |= edge[1:, :]
    holes = (edge & (rng.random(depth.shape) < 0.7)) | (rng.random(depth.shape) < 0.003)
    depth = np.where(valid & ~holes, depth, 0.0)
    noisy = rgb.astype(np.float32) + rng.normal(0.0, 2.0, size=rgb.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8), depth


def run_synth(cfg: SynthConfig, out: str | Path, progress=None) -> Path:
    """Render the demo into workspace ``out``; returns ``out``."""
    from h2s2r.sim.synth.scene import build_demo_scene

    out = Path(out)
    existing = [d for d in DEMO_FOLDERS if (out / d).exists()]
    if existing:
        # (said for both callers: `synth --out DIR` and `demo DIR`, which has no --out)
        raise H2S2RError(
            f"{out} already holds {', '.join(existing)}/ of another demo (synth never mixes "
            "two demos) — write the new one to a new folder (`h2s2r synth --out NEW_DIR`, "
            f"`h2s2r demo NEW_DIR`) or delete {out} first"
        )
    task = get_task(cfg.task)
    rng = np.random.default_rng(cfg.seed)
    T_obj0 = task.sample_start(rng)
    tl = Timeline.of(cfg.frames)
    T_world_obj = [task.path(T_obj0, tl.progress(i)) for i in range(cfg.frames)]
    mid = 0.5 * (T_world_obj[0][:3, 3] + T_world_obj[-1][:3, 3])
    T_world_cam = sample_camera(cfg, rng, mid + np.array([0, 0, 0.03]))
    K, fovy = intrinsics(cfg)
    verts, faces = task.mesh()
    scene = build_demo_scene(
        verts, faces, task.object_rgba, T_world_cam, fovy, cfg.width, cfg.height
    )
    wrists, angles = hand_trajectory(task, tl, T_world_obj)

    # The three folders are built beside their places and renamed in together at the end:
    # an interrupted synth leaves nothing that blocks the retry.
    with contextlib.ExitStack() as stack:
        dirs = {d: stack.enter_context(staged_folder(out / d)) for d in DEMO_FOLDERS}
        _render(cfg, dirs, task, scene, T_world_obj, T_world_cam, K, wrists, angles, progress)
    return out


def _render(cfg, dirs, task, scene, T_world_obj, T_world_cam, K, wrists, angles, progress):
    """Render the frames into ``dirs["capture"]``; write ``object/`` and ``ground_truth/``."""
    import mujoco

    from h2s2r.core.render import offscreen_renderer
    from h2s2r.sim.synth.scene import set_pose

    tl = Timeline.of(cfg.frames)
    verts, faces = task.mesh()
    data = mujoco.MjData(scene.model)
    renderer = offscreen_renderer(scene.model, cfg.height, cfg.width)
    noise_rng = np.random.default_rng([cfg.seed, 1])
    T_cam_world = T_inv(T_world_cam)
    keypoints = np.zeros((cfg.frames, 21, 3))
    config = asdict(cfg)
    writer = CaptureWriter(
        dirs["capture"],
        K,
        cfg.fps,
        depth_scale_m=0.001,
        source=f"synth:{cfg.task}:seed={cfg.seed}",
        config=config,
    )
    try:
        for i in range(cfg.frames):
            set_pose(scene, data, T_world_obj[i], wrists[i], angles[i])
            keypoints[i] = transform_points(T_cam_world, data.site_xpos[scene.keypoint_sites])
            renderer.disable_depth_rendering()
            renderer.update_scene(data, camera=scene.camera)
            rgb = renderer.render().copy()
            renderer.enable_depth_rendering()
            renderer.update_scene(data, camera=scene.camera)
            depth = renderer.render().astype(np.float64)
            depth[depth > cfg.max_depth_m] = 0.0
            if cfg.noise:
                rgb, depth = add_sensor_noise(noise_rng, rgb, depth)
            writer.add(rgb, depth)
            if progress is not None:
                progress(i + 1, cfg.frames)
    finally:
        renderer.close()
    writer.close()

    ObjectMesh(
        vertices=verts,
        faces=faces,
        name=task.object_name,
        source=f"synth:{cfg.task}",
        scale=1.0,
        symmetry=task.symmetry,
        provenance=Provenance(config=config),
    ).save(dirs["object"])
    GroundTruth(
        T_cam_obj=np.stack([T_cam_world @ T for T in T_world_obj]),
        hand_keypoints_cam=keypoints,
        T_base_cam=T_world_cam,
        start_idx=tl.start,
        pre_manip_idx=tl.start - 1,
        release_idx=tl.release,
        handedness="right",
        task=cfg.task,
        provenance=Provenance(config=config),
    ).save(dirs["ground_truth"])
