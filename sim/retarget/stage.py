"""``h2s2r retarget``: the demo's hand on the robot, and the ``task/`` artifact.

Example::

    h2s2r retarget runs/box                      # default robot iiwa_allegro
    h2s2r retarget runs/box --robot iiwa_leap

Reads ``object_track/``, ``hand_track/``, ``object/``, ``capture/`` and ``calibration/``
(or, for a synthetic demo without calibration, ``ground_truth/``'s ``T_base_cam``).
Finds the start of manipulation, solves the robot's pre-manipulation configuration and
the configuration for every later frame (the replay baseline), and writes ``task/``:
``task.npz`` (object path in the base frame, ``pre_manip_qpos``, ``T_obj_palm``,
``start_idx``, replay joint trajectory, camera pose, table height, IK residuals),
``metrics.json``, ``timing.json`` (IK times; not hashed) and ``retarget_check.png`` (the
robot at the pre-manipulation pose beside the demo frame).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from h2s2r.core.artifacts import (
    Calibration,
    Capture,
    GroundTruth,
    HandTrack,
    ObjectMesh,
    ObjectTrack,
    Provenance,
    Task,
)
from h2s2r.core.artifacts.base import staged_folder, write_timing
from h2s2r.core.artifacts.tracks import write_metrics
from h2s2r.core.config import check_options, option
from h2s2r.core.errors import ArtifactError, H2S2RError
from h2s2r.core.geometry import (
    T_inv,
    make_T,
    matrix_to_quat,
    quat_continuous,
    table_plane_from_depth,
    transform_points,
)
from h2s2r.core.robots import DEFAULT_ROBOT, get_robot
from h2s2r.sim.retarget.ik import IkConfig, RetargetIK
from h2s2r.sim.retarget.plausibility import arm_reach_m, check_scene, measure_scene
from h2s2r.sim.retarget.start import detect_motion, fill_invalid
from h2s2r.sim.scene import build_task_scene

PALM_HALF_THICKNESS_M = 0.012  # joint centres to the palm's skin
FINGERTIPS = {"thumb": 4, "index": 8, "middle": 12, "ring": 16, "pinky": 20}


@dataclass(frozen=True)
class RetargetConfig:
    """Options of ``h2s2r retarget``."""

    robot: str = DEFAULT_ROBOT  # robot registry entry
    # refuse a pre-manipulation palm farther than this from its target (m)
    max_palm_residual_m: float = option(0.03, above=0.0, hi=1.0)
    allow_unreachable: bool = False  # write the task even if the palm target is not reached
    # how far before the pre-manipulation frame a hand may be taken (0: that frame only)
    max_hand_gap_frames: int = option(5, lo=0)
    # Plausibility checks: table height, camera distance, object on the table and in reach.
    allow_implausible: bool = False  # write the task even if the scene fails those checks

    def __post_init__(self) -> None:
        gap = self.max_hand_gap_frames
        if isinstance(gap, bool) or not isinstance(gap, int) or gap < 0:
            raise ValueError(
                "--max-hand-gap-frames must be at least 0 (frames before the pre-manipulation "
                "frame to look for a valid hand; 0: that frame only; for no limit give the "
                f"demo's frame count), got {gap!r}"
            )
        check_options(self)


def human_palm_frame(kp: np.ndarray, handedness: str, present: np.ndarray) -> np.ndarray:
    """``T_cam_palm`` of a hand: x out of the palm, y to the thumb side, z to the fingers;
    origin at the palm's skin over the centre of the wrist and knuckles."""
    side = 17 if present[17] else 13  # pinky knuckle, or ring (HaMeR gives no pinky)
    wrist, index, middle = kp[0], kp[5], kp[9]
    z = middle - wrist
    z /= np.linalg.norm(z)
    n = np.cross(index - wrist, kp[side] - wrist)
    if handedness == "left":
        n = -n
    x = n - z * (n @ z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    knuckles = [i for i in (5, 9, 13, 17) if present[i]]
    origin = kp[[0, *knuckles]].mean(axis=0) + x * PALM_HALF_THICKNESS_M
    return make_T(np.stack([x, y, z], axis=1), origin)


def robot_targets(
    T_base_cam: np.ndarray,
    kp_cam: np.ndarray,
    handedness: str,
    present: np.ndarray,
    finger_map: dict[str, str],
    scale: float,
):
    """Palm pose and fingertip positions for the robot, in the base frame."""
    T_base_palm = T_base_cam @ human_palm_frame(kp_cam, handedness, present)
    kp = transform_points(T_base_cam, kp_cam)
    tips = {}
    for human, robot_finger in finger_map.items():
        i = FINGERTIPS[human]
        if present[i]:
            tips[robot_finger] = T_base_palm[:3, 3] + scale * (kp[i] - T_base_palm[:3, 3])
    return T_base_palm, tips


def _camera_in_base(ws: Path) -> tuple[np.ndarray, str, np.ndarray | None]:
    if (ws / "calibration").is_dir():
        cal = Calibration.load(ws / "calibration")
        return cal.T_base_cam, "calibration", cal.table_plane_base
    if (ws / "ground_truth").is_dir():
        return GroundTruth.load(ws / "ground_truth").T_base_cam, "ground_truth", None
    raise ArtifactError(
        ws / "calibration",
        "folder does not exist: the camera's pose in the robot base frame is unknown",
        "run `h2s2r calibrate` (or `h2s2r calibrate --from-file` with a known T_base_cam)",
    )


def table_height(cap: Capture, frame: int, T_base_cam: np.ndarray, below_z: float) -> float:
    """Height of the table (a horizontal plane in the base frame) from one depth frame."""
    try:
        plane, _ = table_plane_from_depth(
            cap.read_depth_m(frame),
            cap.K,
            T_base_cam,
            stride=4,
            below_z=below_z,
            threshold_m=0.01,
            max_angle_deg=15.0,
        )
    except ValueError as e:
        raise H2S2RError(
            f"cannot find the table under the object in frame {frame} ({e}): "
            "calibrate the table plane (h2s2r calibrate)"
        ) from e
    return float(-plane[3] / plane[2])


def _no_hand_message(htrack: HandTrack, pre: int, start: int, gap: int) -> str:
    """Why no hand near the pre-manipulation frame can be used: each frame and its reason
    (the plausibility gate's, from hand_track/), and the fix."""
    frames = range(pre, max(pre - gap, -1), -1)
    why = []
    for i in frames:
        reason = htrack.gate_reason(i) or "not valid"
        why.append(f"frame {i}: {reason}")
    earlier = [i for i in range(pre - gap, -1, -1) if htrack.valid[i]]
    fix = (
        f"the nearest valid hand is frame {earlier[0]}: pass --max-hand-gap-frames "
        f"{pre - earlier[0] + 1} to take it, or re-track the hand"
        if earlier
        else "no earlier frame has a valid hand either: re-track the hand"
    )
    return (
        f"the hand before the start of manipulation (frame {start}) is not usable: "
        + "; ".join(why)
        + f" (hand_track/metrics.json has each frame's signals) — {fix} "
        "(h2s2r track-hand: e.g. --method ground-truth on a synthetic demo, another "
        "--min-detection, or a recording with the hand in view)"
    )


def run_retarget(ws: str | Path, cfg: RetargetConfig = RetargetConfig(), progress=None) -> Task:
    ws = Path(ws)
    robot = get_robot(cfg.robot)
    cap = Capture.load(ws / "capture")
    mesh = ObjectMesh.load(ws / "object")
    otrack = ObjectTrack.load(ws / "object_track")
    htrack = HandTrack.load(ws / "hand_track")
    if htrack.handedness != robot.handedness:
        raise H2S2RError(
            f"the demo shows a {htrack.handedness} hand but {robot.name} has a "
            f"{robot.handedness} hand: h2s2r does not mirror hands — record the demo with the "
            f"{robot.handedness} hand, or choose a {htrack.handedness}-handed robot (--robot)"
        )
    T_base_cam, cam_source, plane = _camera_in_base(ws)

    radius = 0.5 * float(np.linalg.norm(mesh.extents_m))
    seg = detect_motion(otrack.T_cam_obj, otrack.valid, cap.fps, radius, symmetry=mesh.symmetry)
    T_cam_obj = fill_invalid(otrack.T_cam_obj, otrack.valid)
    T_base_obj = T_base_cam[None] @ T_cam_obj

    pre = seg.pre_manip_idx
    cands = [i for i in range(pre, max(pre - cfg.max_hand_gap_frames, -1), -1) if htrack.valid[i]]
    if not cands:
        raise H2S2RError(_no_hand_message(htrack, pre, seg.start_idx, cfg.max_hand_gap_frames))
    hand_frame = cands[0]

    if plane is not None:
        table_z = float(-plane[3] / plane[2])
    else:
        lowest = transform_points(T_base_obj[pre], mesh.vertices)[:, 2].min()
        table_z = table_height(cap, pre, T_base_cam, lowest + 0.005)

    scene = build_task_scene(
        robot,
        mesh.vertices,
        mesh.faces,
        table_z,
        camera_T_base_cam=T_base_cam,
        camera_fovy_deg=float(np.rad2deg(2 * np.arctan(cap.height / 2 / cap.K[1, 1]))),
    )
    plausible = measure_scene(
        T_base_cam,
        T_base_obj[pre],
        mesh.vertices,
        table_z,
        arm_reach_m(scene.model, scene.robot.palm_site),
    )
    if not cfg.allow_implausible:
        check_scene(
            plausible,
            robot.name,
            cam_source=cam_source,
            table_source="depth" if plane is None else "calibration",
        )
    ik = RetargetIK(scene, robot, IkConfig(), avoid_object=True)
    ik.set_object_pose(T_base_obj[pre])
    palm_T, tips = robot_targets(
        T_base_cam,
        htrack.keypoints_cam[hand_frame],
        htrack.handedness,
        htrack.present,
        robot.finger_map,
        robot.retarget_scale,
    )
    reach = ik.solve(palm_T, tips, np.asarray(robot.home_qpos), palm_only=True)
    if reach.palm_pos_err_m > cfg.max_palm_residual_m and not cfg.allow_unreachable:
        limit = f"{cfg.max_palm_residual_m * 100:.1f} cm"
        default = RetargetConfig.max_palm_residual_m
        if reach.palm_pos_err_m <= default:  # only the user's tighter limit refuses it
            raise H2S2RError(
                f"{robot.name} reaches the demo's pre-manipulation palm pose within "
                f"{reach.palm_pos_err_m * 100:.1f} cm, more than --max-palm-residual-m "
                f"{cfg.max_palm_residual_m:g} ({limit}): IK cannot do better here; give a "
                f"larger --max-palm-residual-m (default {default:g}), or drop it"
            )
        raise H2S2RError(
            f"{robot.name} cannot reach the demo's pre-manipulation palm pose: residual "
            f"{reach.palm_pos_err_m * 100:.1f} cm (> --max-palm-residual-m, {limit}), "
            f"{np.degrees(reach.palm_rot_err_rad):.0f}°. Check calibration/ (is the object "
            "within the arm's reach?) or pass --allow-unreachable to keep it"
        )
    if reach.palm_pos_err_m > cfg.max_palm_residual_m:  # kept: --allow-unreachable
        print(
            f"warning: {robot.name} reaches the demo's pre-manipulation palm pose only within "
            f"{reach.palm_pos_err_m * 100:.1f} cm (> --max-palm-residual-m "
            f"{cfg.max_palm_residual_m:g}); kept as --allow-unreachable asks: training starts "
            "from a hand that misses the demo's (task/metrics.json reach_palm_err_m)",
            file=sys.stderr,
        )
    # Start the full solve near the answer but clear of everything: the palm 8 cm back from
    # the object and 4 cm up (palm only, cheap). The collision limit keeps clearances from
    # shrinking; it cannot undo a penetration, so a start that collides falls back to home.
    approach = palm_T.copy()
    approach[:3, 3] += -0.08 * palm_T[:3, 0] + np.array([0.0, 0.0, 0.04])
    start = ik.solve(approach, tips, reach.qpos, palm_only=True)
    q0 = start.qpos if start.min_distance_m > IkConfig().min_clearance_m else robot.home_qpos
    pre_res = ik.solve(palm_T, tips, np.asarray(q0))

    # Every frame after the pre-manipulation one: the replay trajectory (contact allowed).
    frames = np.arange(pre, seg.end_idx + 1)
    ik_traj = RetargetIK(scene, robot, IkConfig(), avoid_object=False)
    q = pre_res.qpos
    replay = np.zeros((len(frames), len(q)))
    res_palm = np.full(len(frames), np.nan)
    res_tips = np.full(len(frames), np.nan)
    times = []
    for k, i in enumerate(frames):
        if k > 0 and htrack.valid[i]:
            ik_traj.set_object_pose(T_base_obj[i])
            pT, tp = robot_targets(
                T_base_cam,
                htrack.keypoints_cam[i],
                htrack.handedness,
                htrack.present,
                robot.finger_map,
                robot.retarget_scale,
            )
            r = ik_traj.solve(pT, tp, q)
            q = r.qpos
            res_palm[k] = r.palm_pos_err_m
            res_tips[k] = np.mean(list(r.fingertip_err_m.values())) if tp else np.nan
            times.append(r.time_s)
        elif k == 0:
            res_palm[k] = pre_res.palm_pos_err_m
            res_tips[k] = np.mean(list(pre_res.fingertip_err_m.values()))
        replay[k] = q
        if progress:
            progress(k + 1, len(frames))

    # The robot's palm relative to the object at the pre-manipulation frame.
    import mujoco

    data = ik.configuration.data
    data.qpos[scene.robot.qpos_adr] = pre_res.qpos
    mujoco.mj_forward(scene.model, data)
    T_base_palm_robot = make_T(
        data.site_xmat[scene.robot.palm_site].reshape(3, 3), data.site_xpos[scene.robot.palm_site]
    )
    T_obj_palm = T_inv(T_base_obj[pre]) @ T_base_palm_robot

    pos = T_base_obj[frames, :3, 3]
    quat = quat_continuous(matrix_to_quat(T_base_obj[frames, :3, :3]))
    upstream = [ws / f"{d}/meta.json" for d in ("capture", "object", "object_track", "hand_track")]
    upstream.append(
        ws / ("calibration" if cam_source == "calibration" else "ground_truth") / "meta.json"
    )
    config = asdict(cfg) | {"T_base_cam_source": cam_source}
    task = Task(
        t=frames / cap.fps,
        object_pos_base=pos,
        object_quat_wxyz_base=quat,
        pre_manip_qpos=pre_res.qpos,
        T_obj_palm=T_obj_palm,
        start_idx=seg.start_idx,
        replay_qpos=replay,
        T_base_cam=T_base_cam,
        table_height_m=table_z,
        robot=robot.name,
        object_mesh="object/mesh.obj",
        extras={
            "frames": frames,
            "pre_manip_idx": np.int64(pre),
            "end_idx": np.int64(seg.end_idx),
            "hand_frame": np.int64(hand_frame),
            "ik_palm_err_m": res_palm,
            "ik_fingertip_err_m": res_tips,
        },
        provenance=Provenance.of_files(ws, upstream, config=config),
    )
    metrics = {
        "start_idx": seg.start_idx,
        "pre_manip_idx": pre,
        "hand_frame": hand_frame,  # the hand used: the nearest valid one at or before pre
        "end_idx": seg.end_idx,
        "reach_palm_err_m": reach.palm_pos_err_m,
        "pre_palm_err_m": pre_res.palm_pos_err_m,
        "pre_palm_rot_err_deg": float(np.degrees(pre_res.palm_rot_err_rad)),
        "pre_fingertip_err_mean_m": float(np.mean(list(pre_res.fingertip_err_m.values()))),
        "pre_fingertip_err_max_m": float(np.max(list(pre_res.fingertip_err_m.values()))),
        "pre_min_clearance_m": pre_res.min_distance_m,
        "traj_palm_err_mean_m": float(np.nanmean(res_palm)),
        "traj_fingertip_err_mean_m": float(np.nanmean(res_tips)),
        "table_height_m": table_z,
        **plausible.metrics(),
    }
    if (ws / "ground_truth").is_dir():
        gt = GroundTruth.load(ws / "ground_truth")
        metrics["start_idx_error_frames"] = seg.start_idx - gt.start_idx
    timing = {
        "pre_ik_time_s": reach.time_s + start.time_s + pre_res.time_s,
        "traj_ik_time_mean_s": float(np.mean(times)) if times else 0.0,
    }
    from h2s2r.sim.retarget.check import write_check_image

    with staged_folder(ws / "task") as out:
        task.save(out)
        write_metrics(out, metrics)
        write_timing(out, timing)
        write_check_image(
            out / "retarget_check.png",
            scene,
            pre_res.qpos,
            T_base_obj[pre],
            cap,
            pre,
            htrack.keypoints_px[hand_frame],
        )
    return task
