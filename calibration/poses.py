"""Poses a user gives ``h2s2r calibrate``: one pose (text or file), or a robot's poses.

- :func:`parse_pose`: ``x,y,z,qw,qx,qy,qz`` or a file (:func:`read_pose_file`);
- :func:`read_robot_poses`: end-effector poses from joint configurations (forward
  kinematics on the registry robot) or from pose rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from h2s2r.core.artifacts.base import require_pose_in_metres
from h2s2r.core.config import load_yaml
from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import T_from_pos_quat, make_T, quat_xyzw_to_wxyz


def parse_pose(text: str, where: str = "pose") -> np.ndarray:
    """``x,y,z,qw,qx,qy,qz`` (wxyz) or a pose file (see :func:`read_pose_file`); errors
    name ``where`` (the option, e.g. ``--board-pose``) and what to write instead."""
    if Path(text).is_file():
        return read_pose_file(Path(text))
    expected = "expected 7 numbers x,y,z,qw,qx,qy,qz (wxyz) or a pose file"
    try:
        v = np.array([float(x) for x in text.split(",")])
    except ValueError:
        if Path(text).suffix.lower() in (".yaml", ".yml", ".txt") or "/" in text:
            raise H2S2RError(f"{where} {text}: no such file ({expected})") from None
        raise H2S2RError(f"{where} {text!r}: {expected}") from None
    hints = {
        6: "; Euler angles? convert to a quaternion w,x,y,z (scipy's Rotation.from_euler"
        "('xyz', angles, degrees=True).as_quat() gives x,y,z,w: put w first)",
        3: "; a position only? add the orientation qw,qx,qy,qz (identity: 1,0,0,0)",
        16: "; a 4×4 matrix? save it as a text file and give its path",
    }
    if v.shape != (7,):
        raise H2S2RError(
            f"{where}: expected 7 numbers x,y,z,qw,qx,qy,qz (wxyz), got {v.size} "
            f"({text!r}){hints.get(v.size, '')}"
        )
    if not np.all(np.isfinite(v[:3])):
        raise H2S2RError(f"{where} {text!r}: the position x,y,z must be finite numbers (metres)")
    return T_from_pos_quat(v[:3], unit_quaternion(v[3:], f"{where} {text!r}"))


QUAT_NORM_TOL = 0.02  # a quaternion rounded to 3 decimals is within 0.005 of unit norm


def unit_quaternion(q: np.ndarray, where: str) -> np.ndarray:
    """``q`` (w, x, y, z) normalized, or an error naming ``where`` when it is all zero or
    far from unit norm (not a rotation: a typo, or numbers in another order or unit)."""
    q = np.asarray(q, dtype=np.float64)
    norm = float(np.linalg.norm(q))
    if not np.all(np.isfinite(q)) or norm < 1e-9:
        raise H2S2RError(
            f"{where}: the quaternion {q.tolist()} is not a rotation (all zero) — give a unit "
            "quaternion w,x,y,z (identity: 1,0,0,0)"
        )
    if abs(norm - 1.0) > QUAT_NORM_TOL:
        raise H2S2RError(
            f"{where}: the quaternion {q.tolist()} has norm {norm:.3f}, not 1 — give a unit "
            "quaternion in the order w,x,y,z (ROS messages and easy_handeye2 write x,y,z,w: "
            "put w first), not Euler angles"
        )
    return q / norm


def read_pose_file(path: Path) -> np.ndarray:
    """A 4×4 matrix (whitespace text), or YAML with a translation and a rotation.

    YAML: ``translation``/``position`` as ``{x, y, z}`` or a list, and
    ``rotation``/``orientation``/``quaternion`` as ``{x, y, z, w}`` (unambiguous) or a
    list, read as **x, y, z, w** (ROS and easy_handeye2 order) unless
    ``quaternion_order: wxyz`` is given, or as a 3×3 rotation matrix (a list of 3 rows;
    it must be a proper rotation). A ``transform:`` level (easy_handeye2) is allowed.
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
        data = load_yaml(text, str(path))  # a key written twice is refused
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
    p = _numbers(pos, "xyz")
    if p is None or p.shape != (3,) or not np.all(np.isfinite(p)):
        raise H2S2RError(
            f"{path}: the translation must be 3 numbers in metres ([x, y, z] or "
            f"{{x: , y: , z: }}), got {pos!r}"
        )
    forms = (
        "give a unit quaternion ([x, y, z, w], or [w, x, y, z] with quaternion_order: "
        "wxyz, or {x: , y: , z: , w: }) or a 3×3 rotation matrix (3 rows of 3 numbers)"
    )
    r = _numbers(rot, "wxyz")
    if r is not None and r.shape == (3, 3):  # a rotation matrix: rows, as written
        # (says what is wrong if it is not a proper rotation)
        return require_pose_in_metres(make_T(r, p), f"{path} (its 3×3 rotation)")
    if r is None or r.shape != (4,) or not np.all(np.isfinite(r)):
        euler = (
            " (3 numbers: Euler angles? convert them)" if r is not None and r.shape == (3,) else ""
        )
        raise H2S2RError(
            f"{path}: the rotation {rot!r} is neither a quaternion (4 numbers) nor a 3×3 "
            f"rotation matrix{euler} — {forms}"
        )
    if isinstance(rot, dict):
        q = r
    else:
        order = str(data.get("quaternion_order", "xyzw")).lower()
        if order not in ("xyzw", "wxyz"):
            raise H2S2RError(f"{path}: quaternion_order must be xyzw or wxyz, got {order!r}")
        q = quat_xyzw_to_wxyz(r) if order == "xyzw" else r
    if abs(np.linalg.norm(q) - 1) > 1e-3:
        raise H2S2RError(
            f"{path}: the rotation {r.tolist()} is not a unit quaternion (norm "
            f"{np.linalg.norm(q):.4g}, not 1) — {forms}"
        )
    return _checked(T_from_pos_quat(p, q), path)


def _numbers(value, keys: str) -> np.ndarray | None:
    """A YAML list (nested: a matrix) or ``{x: …}`` mapping (in the order of ``keys``) as a
    float array; None when it is neither, or holds something else than numbers."""
    try:
        if isinstance(value, dict):
            return np.array([value[k] for k in keys], dtype=float)
        return np.array(value, dtype=float)
    except (KeyError, TypeError, ValueError):
        return None


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
        return [
            T_from_pos_quat(r[:3], unit_quaternion(r[3:], f"{p} row {i + 1}"))
            for i, r in enumerate(rows)
        ]
    if kind != "joints":
        raise H2S2RError(f"--pose-kind must be joints or ee, got {kind!r}")
    import mujoco

    from h2s2r.core.robots import build_robot_model, get_robot

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
