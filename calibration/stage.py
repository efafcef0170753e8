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

from h2s2r.calibration.board import BoardSpec, detect
from h2s2r.calibration.check import write_check
from h2s2r.calibration.poses import parse_pose, read_pose_file, read_robot_poses
from h2s2r.calibration.solve import (
    board_in_base,
    board_scale_from_depth,
    estimate_intrinsics,
    eye_to_hand,
)
from h2s2r.core.artifacts import Calibration, Capture, Provenance
from h2s2r.core.artifacts.base import staged_folder
from h2s2r.core.artifacts.capture import read_cam_K
from h2s2r.core.config import check_options, option
from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import table_plane_from_depth
from h2s2r.core.table import check_calibrated_table

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
    # metres per unit of --depth and --board-depth
    depth_scale: float = option(0.001, above=0.0, hi=1.0)
    board_depth: str = ""  # depth PNG aligned with the first board image (square-size check)
    from_file: str = ""  # import T_base_cam: 4×4 text, or YAML translation + rotation
    check: bool = False  # only draw check.png for the existing calibration/
    joints: str = ""  # joint angles for --check (comma-separated; default: the home posture)
    allow_implausible: bool = False  # write a calibration whose scene fails the checks

    def __post_init__(self) -> None:
        ds = self.depth_scale
        if isinstance(ds, (int, float)) and not isinstance(ds, bool) and not 0 < ds <= 1:
            inverse = (
                f"; {ds:g} depth units per metre? give its inverse, {1 / ds:g}" if ds > 1 else ""
            )
            raise H2S2RError(
                f"--depth-scale {ds:g}: must be > 0 and <= 1 metres per depth unit (0.001 for "
                f"millimetre PNGs){inverse}"
            )
        check_options(self)


def _images(folder: str) -> list[Path]:
    d = Path(folder)
    if not folder or not d.is_dir():
        raise H2S2RError(f"--images {folder!r}: need a folder of board images")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise H2S2RError(f"{d}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def table_plane(
    depth_m: np.ndarray,
    K: np.ndarray,
    T_base_cam: np.ndarray,
    causes: str = "is T_base_cam right?",
) -> np.ndarray:
    """The table plane ``(n, d)`` in the base frame (``n·x + d = 0``, n up), from depth."""
    try:
        plane, fraction = table_plane_from_depth(depth_m, K, T_base_cam, min_points=500)
    except ValueError as e:
        raise H2S2RError(f"cannot find the table plane: {e}") from e
    if fraction < 0.1:
        raise H2S2RError(
            "no horizontal plane (in the robot base frame) covers a tenth of the depth "
            f"image: is the table in view? Else {causes}"
        )
    return plane


def _read_depth(path: Path, scale: float) -> np.ndarray:
    raw = np.asarray(Image.open(path))
    if raw.dtype != np.uint16 and raw.dtype != np.int32:
        raise H2S2RError(f"{path}: depth must be a 16-bit PNG (got {raw.dtype})")
    return raw.astype(np.float64) * scale


@dataclass
class _Parsed:
    """The options of a run, parsed and checked before any image is read."""

    spec: BoardSpec | None = None
    files: list[Path] | None = None
    T_base_board: np.ndarray | None = None
    robot_poses: list[np.ndarray] | None = None
    T_base_cam: np.ndarray | None = None  # --from-file


def _existing_file(option: str, path: str) -> Path:
    p = Path(path)
    if not p.is_file():
        what = "a folder, not a file" if p.is_dir() else "no such file"
        raise H2S2RError(f"{option} {path}: {what}")
    return p


def _mode(cfg: CalibrateConfig) -> str:
    """The run's mode: check | from_file | board_pose | robot_poses | none (not said)."""
    if cfg.check:
        return "check"
    if cfg.from_file:
        return "from_file"
    if cfg.board_pose:
        return "board_pose"
    return "robot_poses" if cfg.robot_poses else "none"


# Options that act in some modes only: option → (the modes it acts in, when it applies).
# The others act in every mode: --robot and --joints draw check.png, --images is its
# background without a capture/; the mode options are sorted out by _parse_options.
_BOARD = ("board_pose", "robot_poses")
_SOLVE = ("from_file", *_BOARD)  # every mode that writes a calibration
_ACTS_IN = {
    "board": (_BOARD, "with --board-pose or --robot-poses"),
    "board_depth": (_BOARD, "with --board-pose or --robot-poses"),
    "pose_kind": (("robot_poses",), "with --robot-poses"),
    "ee_site": (("robot_poses",), "with --robot-poses"),
    "board_pose": (_BOARD, "without --from-file and --check"),
    "robot_poses": (_BOARD, "without --from-file and --check"),
    "from_file": (("from_file",), "without --check"),
    "intrinsics": (_SOLVE, "without --check"),
    "depth": (_SOLVE, "without --check"),
    "allow_implausible": (_SOLVE, "without --check"),
}


def _refuse_unused(cfg: CalibrateConfig) -> None:
    """Refuse an option set (to other than its default) that has no effect in this run's
    mode: a silently ignored option is recorded in meta.json as if it had acted."""
    mode = _mode(cfg)
    if mode == "none":  # the missing mode is the error (said once the options are read)
        return
    what = {
        "check": "--check only redraws check.png of the existing calibration/",
        "from_file": "--from-file imports T_base_cam (no board images are read)",
        "board_pose": "--board-pose calibrates from a board lying at a known pose",
        "robot_poses": "--robot-poses calibrates from a board held by the robot",
    }[mode]
    default = CalibrateConfig()
    for name, (modes, when) in _ACTS_IN.items():
        value = getattr(cfg, name)
        if value != getattr(default, name) and mode not in modes:
            flag = "--" + name.replace("_", "-")
            shown = "" if isinstance(value, bool) else f" {value}"
            raise H2S2RError(
                f"{flag}{shown}: has no effect here ({what}); it applies {when} — drop it"
            )
    # --depth-scale scales --depth and --board-depth only (each refused above where it
    # has no effect itself).
    if cfg.depth_scale != default.depth_scale and not (cfg.depth or cfg.board_depth):
        source = (
            f"{what}"
            if mode == "check"
            else "the table plane comes from capture/ frame 0 at its own depth_scale_m in "
            "capture/meta.json"
        )
        raise H2S2RError(
            f"--depth-scale {cfg.depth_scale:g}: has no effect here ({source}); it applies "
            "to the depth PNGs given with --depth or --board-depth — drop it, or give "
            "--depth FILE with it"
        )


JOINT_RANGE_TOL_RAD = 1e-3  # a limit rounded to 3 decimals still passes


def _check_joint_ranges(q: np.ndarray, robot, text: str) -> None:
    """Refuse ``--joints`` values outside the robot model's joint ranges (MJCF limits),
    naming each joint; hint at degrees when a value exceeds 2π or the values read as
    degrees would all be in range."""
    from h2s2r.core.robots import build_robot_model

    _, info = build_robot_model(robot)
    lo, hi = info.joint_range[: len(q), 0], info.joint_range[: len(q), 1]
    limited = hi > lo  # MuJoCo writes (0, 0) for a joint without limits
    out = limited & ((q < lo - JOINT_RANGE_TOL_RAD) | (q > hi + JOINT_RANGE_TOL_RAD))
    if not out.any():
        return
    bad = [
        f"{robot.joint_names[i]} (value {i + 1}) = {q[i]:g}, range {lo[i]:.3f} … {hi[i]:.3f}"
        for i in np.flatnonzero(out)
    ]
    rad = np.radians(q)
    fits_as_degrees = not (
        limited & ((rad < lo - JOINT_RANGE_TOL_RAD) | (rad > hi + JOINT_RANGE_TOL_RAD))
    ).any()
    big = np.abs(q).max()
    if fits_as_degrees and big > np.pi:
        fix = (
            "--joints takes radians: degrees? give them in radians: "
            f"--joints {','.join(f'{x:.4g}' for x in rad)}"
        )
    elif big > 2 * np.pi:
        fix = (
            "--joints takes radians: degrees? (read as degrees they are out of range too) "
            f"give --joints within {robot.name}'s joint ranges, in radians"
        )
    else:
        fix = f"give --joints within {robot.name}'s joint ranges, in radians"
    raise H2S2RError(
        f"--joints {text}: outside {robot.name}'s joint ranges (radians): {'; '.join(bad)} — {fix}"
    )


def _parse_options(cfg: CalibrateConfig) -> _Parsed:
    """Every option parsed and checked, each error naming its option, before any image is
    read (a pose typo must not wait for a scan of every image)."""
    from h2s2r.core.robots import get_robot

    robot = get_robot(cfg.robot)
    if cfg.joints:
        try:
            q = [float(x) for x in cfg.joints.split(",")]
        except ValueError:
            raise H2S2RError(
                f"--joints {cfg.joints!r}: expected comma-separated joint angles in radians"
            ) from None
        if not 0 < len(q) <= len(robot.joint_names) or not np.all(np.isfinite(q)):
            raise H2S2RError(
                f"--joints: expected 1 to {len(robot.joint_names)} finite joint angles "
                f"(radians) of {robot.name}, got {len(q)} ({cfg.joints!r})"
            )
        _check_joint_ranges(np.asarray(q), robot, cfg.joints)
    _refuse_unused(cfg)
    for flag, path in (("--depth", cfg.depth), ("--board-depth", cfg.board_depth)):
        if path:
            _existing_file(flag, path)
    if cfg.pose_kind not in ("joints", "ee"):
        raise H2S2RError(f"--pose-kind must be joints or ee, got {cfg.pose_kind!r}")
    parsed = _Parsed()
    if cfg.check:
        return parsed
    if cfg.from_file:
        parsed.T_base_cam = read_pose_file(_existing_file("--from-file", cfg.from_file))
        return parsed
    if cfg.board_pose and cfg.robot_poses:
        raise H2S2RError(
            "--board-pose and --robot-poses: give one (the board lying at a known pose, or "
            "held by the robot)"
        )
    if not (cfg.board_pose or cfg.robot_poses):
        raise H2S2RError(
            "say where the board is: --board-pose (lying at a known pose in "
            "the base frame) or --robot-poses (held by the robot), or import "
            "a result with --from-file"
        )
    parsed.spec = BoardSpec.parse(cfg.board)
    if cfg.board_pose:
        parsed.T_base_board = parse_pose(cfg.board_pose, "--board-pose")
    else:
        parsed.robot_poses = read_robot_poses(
            cfg.robot_poses, cfg.pose_kind, cfg.robot, cfg.ee_site
        )
    parsed.files = _images(cfg.images)
    if parsed.robot_poses is not None and len(parsed.robot_poses) != len(parsed.files):
        raise H2S2RError(
            f"{len(parsed.files)} images but {len(parsed.robot_poses)} robot poses: one image "
            "per pose, in the same (sorted) order"
        )
    return parsed


def run_calibrate(out: str | Path, cfg: CalibrateConfig = CalibrateConfig()) -> Calibration:
    out = Path(out)
    parsed = _parse_options(cfg)
    cap = Capture.load(out / "capture") if (out / "capture").is_dir() else None
    if cfg.check:
        cal = Calibration.load(out / "calibration")
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
        T_base_cam = parsed.T_base_cam
        inputs.append(Path(cfg.from_file))
        method, rms, per = "from_file", float("nan"), ()
        if K is None:
            raise H2S2RError("--from-file needs intrinsics: a capture/ or --intrinsics PATH")
    else:
        spec, files = parsed.spec, parsed.files
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
        if parsed.T_base_board is not None:
            res = board_in_base(spec, dets, K, parsed.T_base_board)
            method = "board_in_base"
        else:
            poses = parsed.robot_poses
            inputs.append(Path(cfg.robot_poses))
            keep = [i for i, f in enumerate(files) if f in used]
            res = eye_to_hand(spec, dets, [poses[i] for i in keep], K)
            method = "eye_to_hand"
            notes["T_ee_board"] = res.T_ee_board
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

    source = {
        "from_file": f"the imported pose (--from-file {cfg.from_file}: a 4×4 T_base_cam "
        "in metres, camera in the robot base frame, not its inverse)",
        "board_in_base": "the board pose (--board-pose, base frame, metres) or the "
        "board's square size (--board)",
        "eye_to_hand": "the robot poses (--robot-poses, --pose-kind, --ee-site)",
    }[method]
    causes = (
        f"check {source} and the depth scale (--depth-scale, or capture/meta.json depth_scale_m)"
    )
    plane = None
    depth_path = Path(cfg.depth) if cfg.depth else (cap.depth_path(0) if cap else None)
    if depth_path is not None:
        scale = cfg.depth_scale if cfg.depth else cap.depth_scale_m
        plane = table_plane(_read_depth(depth_path, scale), K, T_base_cam, causes)
        inputs.append(depth_path)
    if not cfg.allow_implausible:
        check_calibrated_table(plane, T_base_cam, causes + "; --allow-implausible writes it anyway")
    cal = Calibration(
        T_base_cam=T_base_cam,
        K=np.asarray(K),
        method=method,
        reprojection_rms_px=rms,
        per_image_rms_px=tuple(per),
        table_plane_base=plane,
        provenance=Provenance.of_files(out, inputs, config=asdict(cfg) | {"notes": notes}),
    )
    with staged_folder(out / "calibration") as folder:
        cal.save(folder)
    write_check(out, cal, cfg)  # an image beside the artifact (``--check`` redraws it)
    return cal
