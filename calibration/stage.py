"""``h2s2r calibrate``: the camera's pose in the robot base frame, intrinsics, table plane.

Examples::

    # board lying at a known pose in the base frame (x y z qw qx qy qz), a few images
    h2s2r calibrate runs/demo --images calib/ --board charuco:7x5:0.06:0.045:DICT_5X5_100 \\
        --board-pose 0.45,-0.15,0,0,0.99,0.15,0
    # board held by the robot: one image per robot pose (rows of 7 or 23 joint angles)
    h2s2r calibrate runs/demo --images calib/ --robot-poses poses.csv
    # an existing result (4×4 text, or YAML translation + rotation)
    h2s2r calibrate runs/demo --from-file easy_handeye2.yaml
    h2s2r calibrate runs/demo --check            # picture of the result

Writes ``OUT/calibration/``: ``calibration.json`` (``T_base_cam``, ``K``, per-image
reprojection RMS, table plane), ``meta.json`` (method, inputs' hashes), ``check.png``.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from calibration.board import BoardSpec, detect
from calibration.solve import (
    board_in_base,
    board_scale_from_depth,
    estimate_intrinsics,
    eye_to_hand,
)
from pipeline.artifacts import Calibration, Capture, Provenance
from pipeline.artifacts.base import require_pose_in_metres
from pipeline.artifacts.capture import read_cam_K
from pipeline.errors import H2S2RError
from pipeline.geometry import T_from_pos_quat, quat_xyzw_to_wxyz, table_plane_from_depth

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass(frozen=True)
class CalibrateConfig:
    """Options of ``h2s2r calibrate``."""

    board: str = "charuco:7x5:0.06:0.045:DICT_5X5_100"  # charuco:COLSxROWS:SQUARE_M:MARKER_M:DICT
    images: str = ""  # folder of board images (PNG/JPG), in the order of --robot-poses
    board_pose: str = ""  # board in the base frame: "x,y,z,qw,qx,qy,qz" or a YAML file
    robot_poses: str = ""  # eye-to-hand: CSV/NPY rows of joint angles (or EE poses)
    pose_kind: str = "joints"  # joints (7 arm or all joints) | ee (x,y,z,qw,qx,qy,qz rows)
    robot: str = "iiwa_allegro"  # robot registry entry (kinematics for joint poses)
    ee_site: str = "attachment_site"  # the end-effector frame the board is fixed to
    intrinsics: str = "capture"  # capture (OUT/capture/cam_K.txt) | estimate | a cam_K.txt
    depth: str = ""  # depth PNG for the table plane (default: OUT/capture frame 0)
    depth_scale: float = 0.001  # metres per unit of --depth
    board_depth: str = ""  # depth PNG aligned with the first board image (square-size check)
    from_file: str = ""  # import T_base_cam: 4×4 text, or YAML translation + rotation
    check: bool = False  # only draw check.png for the existing calibration/
    joints: str = ""  # joint angles for --check (comma-separated; default: the home posture)


def _images(folder: str) -> list[Path]:
    d = Path(folder)
    if not folder or not d.is_dir():
        raise H2S2RError(f"--images {folder!r}: need a folder of board images")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise H2S2RError(f"{d}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def parse_pose(text: str) -> np.ndarray:
    """``x,y,z,qw,qx,qy,qz`` (wxyz) or a YAML file (see :func:`read_pose_yaml`)."""
    if Path(text).is_file():
        return read_pose_file(Path(text))
    try:
        v = np.array([float(x) for x in text.split(",")])
    except ValueError:
        raise H2S2RError(f"pose {text!r}: expected x,y,z,qw,qx,qy,qz or a YAML file") from None
    if v.shape != (7,):
        raise H2S2RError(f"pose {text!r}: expected 7 numbers x,y,z,qw,qx,qy,qz (wxyz)")
    return T_from_pos_quat(v[:3], v[3:])


def read_pose_file(path: Path) -> np.ndarray:
    """A 4×4 matrix (whitespace text), or YAML with a translation and a rotation.

    YAML: ``translation``/``position`` as ``{x, y, z}`` or a list, and
    ``rotation``/``orientation``/``quaternion`` as ``{x, y, z, w}`` (unambiguous) or a
    list, read as **x, y, z, w** (ROS and easy_handeye2 order) unless
    ``quaternion_order: wxyz`` is given. A ``transform:`` level (easy_handeye2) is allowed.
    """
    text = path.read_text()
    try:
        M = np.array(
            [
                [float(x) for x in line.split()]
                for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
        )
        if M.shape == (4, 4):
            return _checked(M, path)
    except ValueError:
        pass
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise H2S2RError(f"{path}: neither a 4×4 matrix nor YAML ({e})") from e
    if isinstance(data, dict) and "transform" in data:
        data = data["transform"]
    if not isinstance(data, dict):
        raise H2S2RError(f"{path}: expected a 4×4 matrix or a YAML mapping")
    pos = next((data[k] for k in ("translation", "position") if k in data), None)
    rot = next((data[k] for k in ("rotation", "orientation", "quaternion") if k in data), None)
    if pos is None or rot is None:
        raise H2S2RError(
            f"{path}: YAML needs translation (or position) and rotation (or orientation/quaternion)"
        )
    p = np.array([pos[k] for k in "xyz"] if isinstance(pos, dict) else pos, dtype=float)
    if isinstance(rot, dict):
        q = np.array([rot["w"], rot["x"], rot["y"], rot["z"]], dtype=float)
    else:
        order = str(data.get("quaternion_order", "xyzw")).lower()
        if order not in ("xyzw", "wxyz"):
            raise H2S2RError(f"{path}: quaternion_order must be xyzw or wxyz, got {order!r}")
        q = np.array(rot, dtype=float)
        q = quat_xyzw_to_wxyz(q) if order == "xyzw" else q
    if p.shape != (3,) or q.shape != (4,) or abs(np.linalg.norm(q) - 1) > 1e-3:
        raise H2S2RError(
            f"{path}: translation must have 3 numbers and rotation be a unit "
            f"quaternion, got {p.tolist()} and {q.tolist()}"
        )
    return _checked(T_from_pos_quat(p, q), path)


def _checked(T: np.ndarray, path: Path) -> np.ndarray:
    return require_pose_in_metres(T, path)


def read_robot_poses(path: str, kind: str, robot_name: str, ee_site: str) -> list[np.ndarray]:
    """End-effector poses ``T_base_ee`` from joint configurations (FK) or pose rows."""
    p = Path(path)
    if not p.is_file():
        raise H2S2RError(f"--robot-poses {path}: file does not exist")
    rows = (
        np.load(p)
        if p.suffix == ".npy"
        else np.loadtxt(p, delimiter="," if p.suffix == ".csv" else None, ndmin=2)
    )
    rows = np.atleast_2d(np.asarray(rows, dtype=float))
    if kind == "ee":
        if rows.shape[1] != 7:
            raise H2S2RError(f"{p}: EE poses need 7 columns x,y,z,qw,qx,qy,qz, got {rows.shape[1]}")
        return [T_from_pos_quat(r[:3], r[3:]) for r in rows]
    if kind != "joints":
        raise H2S2RError(f"--pose-kind must be joints or ee, got {kind!r}")
    import mujoco

    from sim.robots import build_robot_model, get_robot

    robot = get_robot(robot_name)
    model, info = build_robot_model(robot)
    n_arm = sum(1 for n in robot.joint_names if not n.startswith(robot.hand_prefix))
    if rows.shape[1] not in (n_arm, len(robot.joint_names)):
        raise H2S2RError(
            f"{p}: rows must have {n_arm} (arm) or {len(robot.joint_names)} joint "
            f"angles for {robot.name}, got {rows.shape[1]}"
        )
    data = mujoco.MjData(model)
    site = model.site(ee_site).id
    out = []
    for r in rows:
        data.qpos[info.qpos_adr] = robot.home_qpos
        data.qpos[info.qpos_adr[: len(r)]] = r
        mujoco.mj_kinematics(model, data)
        T = np.eye(4)
        T[:3, :3] = data.site_xmat[site].reshape(3, 3)
        T[:3, 3] = data.site_xpos[site]
        out.append(T)
    return out


def table_plane(depth_m: np.ndarray, K: np.ndarray, T_base_cam: np.ndarray) -> np.ndarray:
    """The table plane ``(n, d)`` in the base frame (``n·x + d = 0``, n up), from depth."""
    try:
        plane, fraction = table_plane_from_depth(depth_m, K, T_base_cam, min_points=500)
    except ValueError as e:
        raise H2S2RError(f"cannot find the table plane: {e}") from e
    if fraction < 0.1:
        raise H2S2RError(
            "no horizontal plane covers a tenth of the depth image: is the "
            "table in view, and is T_base_cam right?"
        )
    return plane


def _read_depth(path: Path, scale: float) -> np.ndarray:
    raw = np.asarray(Image.open(path))
    if raw.dtype != np.uint16 and raw.dtype != np.int32:
        raise H2S2RError(f"{path}: depth must be a 16-bit PNG (got {raw.dtype})")
    return raw.astype(np.float64) * scale


def run_calibrate(out: str | Path, cfg: CalibrateConfig = CalibrateConfig()) -> Calibration:
    out = Path(out)
    cap = Capture.load(out / "capture") if (out / "capture").is_dir() else None
    if cfg.check:
        cal = Calibration.load(out / "calibration")
        from calibration.check import write_check

        write_check(out, cal, cfg)
        return cal
    inputs: list[Path] = []
    notes: dict[str, object] = {}
    K = None
    if cfg.intrinsics == "capture":
        if cap is None:
            if not cfg.from_file:
                raise H2S2RError(
                    f"--intrinsics capture: {out / 'capture'} does not exist; "
                    "give --intrinsics PATH/cam_K.txt or --intrinsics estimate"
                )
        else:
            K = cap.K
            inputs.append(out / "capture" / "cam_K.txt")
    elif cfg.intrinsics != "estimate":
        K = read_cam_K(Path(cfg.intrinsics), "give a 3×3 intrinsics file")
        inputs.append(Path(cfg.intrinsics))

    if cfg.from_file:
        T_base_cam = read_pose_file(Path(cfg.from_file))
        inputs.append(Path(cfg.from_file))
        method, rms, per = "from_file", float("nan"), ()
        if K is None:
            raise H2S2RError("--from-file needs intrinsics: a capture/ or --intrinsics PATH")
    else:
        spec = BoardSpec.parse(cfg.board)
        files = _images(cfg.images)
        inputs += files
        dets, used, skipped = [], [], []
        for f in files:
            d = detect(spec, np.asarray(Image.open(f).convert("RGB")))
            (skipped if d is None else used).append(f)
            if d is not None:
                dets.append(d)
        for f in skipped:
            print(f"calibrate: board not found in {f.name} (skipped)", file=sys.stderr)
        notes["skipped_images"] = [f.name for f in skipped]
        if K is None:
            size = Image.open(files[0]).size
            K, krms = estimate_intrinsics(spec, dets, size)
            notes["intrinsics_rms_px"] = krms
        if cfg.board_pose:
            res = board_in_base(spec, dets, K, parse_pose(cfg.board_pose))
            method = "board_in_base"
        elif cfg.robot_poses:
            poses = read_robot_poses(cfg.robot_poses, cfg.pose_kind, cfg.robot, cfg.ee_site)
            inputs.append(Path(cfg.robot_poses))
            if len(poses) != len(files):
                raise H2S2RError(
                    f"{len(files)} images but {len(poses)} robot poses: one image "
                    "per pose, in the same (sorted) order"
                )
            keep = [i for i, f in enumerate(files) if f in used]
            res = eye_to_hand(spec, dets, [poses[i] for i in keep], K)
            method = "eye_to_hand"
            notes["T_ee_board"] = res.T_ee_board
        else:
            raise H2S2RError(
                "say where the board is: --board-pose (lying at a known pose in "
                "the base frame) or --robot-poses (held by the robot), or import "
                "a result with --from-file"
            )
        T_base_cam, rms, per = res.T_base_cam, res.rms_px, res.per_image_rms_px
        if cfg.board_depth and dets:
            ratio = board_scale_from_depth(
                spec, dets[0], K, _read_depth(Path(cfg.board_depth), cfg.depth_scale)
            )
            notes["board_depth_ratio"] = ratio
            if ratio is not None and abs(ratio - 1.0) > 0.03:
                print(
                    f"calibrate: warning: the depth camera puts the board {ratio:.3f}× as far "
                    f"as PnP with SQUARE_M={spec.square_m}: is the square size right (then "
                    f"{spec.square_m * ratio:.4f} m)?",
                    file=sys.stderr,
                )

    plane = None
    depth_path = Path(cfg.depth) if cfg.depth else (cap.depth_path(0) if cap else None)
    if depth_path is not None:
        scale = cfg.depth_scale if cfg.depth else cap.depth_scale_m
        plane = table_plane(_read_depth(depth_path, scale), K, T_base_cam)
        inputs.append(depth_path)
    cal = Calibration(
        T_base_cam=T_base_cam,
        K=np.asarray(K),
        method=method,
        reprojection_rms_px=rms,
        per_image_rms_px=tuple(per),
        table_plane_base=plane,
        provenance=Provenance.of_files(out, inputs, config=asdict(cfg) | {"notes": notes}),
    )
    cal.save(out / "calibration")
    from calibration.check import write_check

    write_check(out, cal, cfg)
    return cal
