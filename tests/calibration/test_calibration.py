"""Camera-to-robot calibration against rendered ground truth, imports and bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mujoco
import numpy as np
import pytest
from PIL import Image

from h2s2r.calibration.board import BoardSpec
from h2s2r.calibration.stage import CalibrateConfig, read_pose_file, read_robot_poses, run_calibrate
from h2s2r.calibration.synthetic import render_board, render_plane_depth
from h2s2r.core.artifacts import Calibration
from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import (
    T_inv,
    look_at_T_world_cam,
    make_T,
    matrix_to_quat,
    quat_wxyz_to_xyzw,
    rot_x,
    rot_z,
    rotation_error_rad,
    translation_error,
)

BOARD = "charuco:7x5:0.06:0.045:DICT_5X5_100"
K = np.array([[615.0, 0, 319.5], [0, 615.0, 239.5], [0, 0, 1]])


def _write_K(path: Path) -> Path:
    np.savetxt(path, K)
    return path


def _pose_arg(T: np.ndarray) -> str:
    return ",".join(f"{x:.10f}" for x in [*T[:3, 3], *matrix_to_quat(T[:3, :3])])


@pytest.fixture
def board_in_base_setup(tmp_path):
    spec = BoardSpec.parse(BOARD)
    T_base_board = make_T(rot_z(0.4) @ rot_x(np.pi), [0.40, -0.20, 0.0])  # face up on table
    T_base_cam = look_at_T_world_cam([1.15, 0.25, 0.65], [0.55, -0.05, 0.0])
    rng = np.random.default_rng(3)
    images = tmp_path / "images"
    images.mkdir()
    for i in range(5):
        img = render_board(
            spec,
            K,
            T_inv(T_base_cam) @ T_base_board,
            rng=rng,
            occlusion=0.1,
            blur_px=0.8,
            noise_sigma=2.0,
        )
        Image.fromarray(img).save(images / f"{i:03d}.png")
    return tmp_path, images, T_base_board, T_base_cam


def test_board_in_base_from_5_images(board_in_base_setup):
    ws, images, T_base_board, T_base_cam = board_in_base_setup
    cal = run_calibrate(
        ws,
        CalibrateConfig(
            board=BOARD,
            images=str(images),
            board_pose=_pose_arg(T_base_board),
            intrinsics=str(_write_K(ws / "K.txt")),
        ),
    )
    assert translation_error(cal.T_base_cam, T_base_cam) <= 0.002
    assert np.degrees(rotation_error_rad(cal.T_base_cam, T_base_cam)) <= 0.2
    assert len(cal.per_image_rms_px) == 5 and cal.reprojection_rms_px < 1.0
    loaded = Calibration.load(ws / "calibration")
    assert loaded.method == "board_in_base" and (ws / "calibration" / "check.png").is_file()
    meta = json.loads((ws / "calibration" / "meta.json").read_text())
    assert len(meta["upstream"]) == 6  # 5 images and the intrinsics file


E2H_BOARD = "charuco:5x4:0.05:0.037:DICT_5X5_100"
NOMINAL_Q = np.array([0.0, 0.5, 0.0, -1.3, 0.0, 0.6, 0.0])


def _e2h_geometry(tmp_path: Path):
    """Board on the flange facing outward along its axis; camera 0.8 m in front of it."""
    spec = BoardSpec.parse(E2H_BOARD)
    w, h = spec.size_m
    T_ee_board = make_T(rot_x(np.pi) @ rot_z(0.3), [0.0, 0.0, 0.06]) @ make_T(
        np.eye(3), [-w / 2, -h / 2, 0.0]
    )
    T_base_ee = read_robot_poses(
        str(_save_rows(tmp_path / "nominal.csv", NOMINAL_Q[None])),
        "joints",
        "iiwa_allegro",
        "attachment_site",
    )[0]
    center = (T_base_ee @ make_T(np.eye(3), [0, 0, 0.06]))[:3, 3]
    eye = center + 0.8 * T_base_ee[:3, 2] + np.array([0.0, 0.1, 0.1])
    return spec, T_ee_board, look_at_T_world_cam(eye, center)


def _arm_configs(rng: np.random.Generator, n: int) -> np.ndarray:
    spread = np.array([0.15, 0.1, 0.15, 0.1, 0.3, 0.3, 0.5])
    return NOMINAL_Q + rng.uniform(-1, 1, (n, 7)) * spread


def _eye_to_hand_images(tmp_path: Path, q: np.ndarray, T_ee_board, T_base_cam, spec):
    poses = read_robot_poses(
        str(_save_rows(tmp_path / "q.csv", q)), "joints", "iiwa_allegro", "attachment_site"
    )
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    rng = np.random.default_rng(7)
    for i, T_base_ee in enumerate(poses):
        T_cam_board = T_inv(T_base_cam) @ T_base_ee @ T_ee_board
        img = render_board(spec, K, T_cam_board, rng=rng, occlusion=0.05)
        Image.fromarray(img).save(images / f"{i:03d}.png")
    return images, poses


def _save_rows(path: Path, rows: np.ndarray) -> Path:
    np.savetxt(path, rows, delimiter=",")
    return path


def test_eye_to_hand_from_15_poses(tmp_path):
    spec, T_ee_board, T_base_cam = _e2h_geometry(tmp_path)
    q = _arm_configs(np.random.default_rng(11), 15)
    images, _ = _eye_to_hand_images(tmp_path, q, T_ee_board, T_base_cam, spec)
    cal = run_calibrate(
        tmp_path,
        CalibrateConfig(
            board=E2H_BOARD,
            images=str(images),
            robot_poses=str(tmp_path / "q.csv"),
            intrinsics=str(_write_K(tmp_path / "K.txt")),
        ),
    )
    assert translation_error(cal.T_base_cam, T_base_cam) <= 0.003
    assert np.degrees(rotation_error_rad(cal.T_base_cam, T_base_cam)) <= 0.3
    notes = json.loads((tmp_path / "calibration" / "meta.json").read_text())["config"]["notes"]
    np.testing.assert_allclose(np.array(notes["T_ee_board"])[:3, 3], T_ee_board[:3, 3], atol=0.005)


def test_parallel_rotations_are_degenerate(tmp_path):
    spec, T_ee_board, T_base_cam = _e2h_geometry(tmp_path)
    q = np.tile(NOMINAL_Q, (6, 1))
    q[:, 6] = np.linspace(-0.6, 0.6, 6)  # only the last joint turns: one rotation axis
    images, _ = _eye_to_hand_images(tmp_path, q, T_ee_board, T_base_cam, spec)
    with pytest.raises(H2S2RError, match="parallel axes"):
        run_calibrate(
            tmp_path,
            CalibrateConfig(
                board=E2H_BOARD,
                images=str(images),
                robot_poses=str(tmp_path / "q.csv"),
                intrinsics=str(_write_K(tmp_path / "K.txt")),
            ),
        )


def test_too_few_poses_and_board_not_found(tmp_path, capsys):
    spec, T_ee_board, T_base_cam = _e2h_geometry(tmp_path)
    q = _arm_configs(np.random.default_rng(2), 4)
    images, _ = _eye_to_hand_images(tmp_path, q, T_ee_board, T_base_cam, spec)
    for i in (1, 3):  # the board is not visible in two of the four images
        Image.fromarray(np.full((480, 640), 128, np.uint8)).save(images / f"{i:03d}.png")
    with pytest.raises(H2S2RError, match="at least 3 usable poses, got 2"):
        run_calibrate(
            tmp_path,
            CalibrateConfig(
                board=E2H_BOARD,
                images=str(images),
                robot_poses=str(tmp_path / "q.csv"),
                intrinsics=str(_write_K(tmp_path / "K.txt")),
            ),
        )
    err = capsys.readouterr().err
    assert "board not found in 001.png (skipped)" in err and "003.png" in err


def test_wrong_square_size_is_flagged_by_depth(board_in_base_setup, capsys):
    ws, images, T_base_board, T_base_cam = board_in_base_setup
    depth = render_plane_depth(K, T_inv(T_base_cam) @ T_base_board)
    Image.fromarray(np.rint(depth * 1000).astype(np.uint16)).save(ws / "board_depth.png")
    wrong = "charuco:7x5:0.05:0.0375:DICT_5X5_100"  # printed at 6 cm, told 5 cm
    run_calibrate(
        ws,
        CalibrateConfig(
            board=wrong,
            images=str(images),
            board_pose=_pose_arg(T_base_board),
            intrinsics=str(_write_K(ws / "K.txt")),
            board_depth=str(ws / "board_depth.png"),
        ),
    )
    err = capsys.readouterr().err
    assert "is the square size right" in err and "0.06" in err


def test_table_plane_and_check_image_on_a_synthetic_demo(synth_box, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(synth_box / "capture", ws / "capture")
    from h2s2r.core.artifacts import GroundTruth

    T = GroundTruth.load(synth_box / "ground_truth").T_base_cam
    np.savetxt(tmp_path / "T.txt", T)
    cal = run_calibrate(ws, CalibrateConfig(from_file=str(tmp_path / "T.txt")))
    n, d = cal.table_plane_base[:3], cal.table_plane_base[3]
    assert n[2] > 0.999 and abs(-d / n[2]) < 0.003  # synth's table top is z = 0
    assert (ws / "calibration" / "check.png").stat().st_size > 10_000
    run_calibrate(ws, CalibrateConfig(check=True, joints="0,0.5,0,-1.2,0,0.9,0"))
    before = (ws / "calibration" / "check.png").read_bytes()
    with pytest.raises(H2S2RError, match=r"^--joints 0,45,0,-90,0,45,0: .*degrees\?"):
        run_calibrate(ws, CalibrateConfig(check=True, joints="0,45,0,-90,0,45,0"))
    assert (ws / "calibration" / "check.png").read_bytes() == before


def test_depth_scale_acts_on_the_depth_given_and_is_refused_where_it_cannot(synth_box, tmp_path):
    """Ground truth: the synthetic table (z = 0) from a --depth PNG in half-millimetre units
    with --depth-scale 0.0005; the same scale without --depth (the capture's own scale is
    used) and 1000 (units per metre) are refused, and no calibration/ is written."""
    from h2s2r.core.artifacts import Capture, GroundTruth

    ws = tmp_path / "ws"
    shutil.copytree(synth_box / "capture", ws / "capture")
    T = GroundTruth.load(synth_box / "ground_truth").T_base_cam
    np.savetxt(tmp_path / "T.txt", T)
    cap = Capture.load(ws / "capture")
    half_mm = np.round(cap.read_depth_m(0) / 0.0005).astype(np.uint16)
    Image.fromarray(half_mm).save(tmp_path / "depth_half_mm.png")
    for scale, match in (
        (0.0005, r"^--depth-scale 0.0005: has no effect here \(the table plane comes from"),
        (1000.0, r"^--depth-scale 1000: must be > 0 and <= 1 .*inverse, 0\.001"),
    ):
        with pytest.raises(H2S2RError, match=match):
            run_calibrate(ws, CalibrateConfig(from_file=str(tmp_path / "T.txt"), depth_scale=scale))
        assert not (ws / "calibration").exists()
    cfg = CalibrateConfig(
        from_file=str(tmp_path / "T.txt"),
        depth=str(tmp_path / "depth_half_mm.png"),
        depth_scale=0.0005,
    )
    plane = run_calibrate(ws, cfg).table_plane_base
    assert plane[2] > 0.999 and abs(-plane[3] / plane[2]) < 0.003  # synth's table top is z = 0
    # The same PNG read as millimetres puts the table elsewhere: the scale did act.
    with pytest.raises(H2S2RError, match=r"table top|no horizontal plane"):
        run_calibrate(
            ws,
            CalibrateConfig(
                from_file=str(tmp_path / "T.txt"), depth=str(tmp_path / "depth_half_mm.png")
            ),
        )


@pytest.mark.parametrize(
    "fault, match",
    [
        ("inverse", r"no horizontal plane"),  # T_cam_base given: no level table in view
        ("lowered", r"table top is at z = -0\.5\d m"),  # the camera 0.55 m too low
        ("far", r"camera is 4\.\d\d m from the robot base"),
    ],
)
def test_an_implausible_calibration_is_refused(synth_box, tmp_path, fault, match):
    """A pose that puts the table off the base's height, tilted, or the camera metres
    away: refused with the numbers, naming the imported pose and the depth scale."""
    from h2s2r.core.artifacts import GroundTruth
    from h2s2r.core.geometry import T_inv

    ws = tmp_path / "ws"
    shutil.copytree(synth_box / "capture", ws / "capture")
    T = GroundTruth.load(synth_box / "ground_truth").T_base_cam.copy()
    if fault == "inverse":
        T = T_inv(T)
    elif fault == "lowered":
        T[2, 3] -= 0.55
    else:
        T[:3, 3] *= 4.0 / np.linalg.norm(T[:3, 3])
    np.savetxt(tmp_path / "T.txt", T)
    with pytest.raises(H2S2RError, match=match) as e:
        run_calibrate(ws, CalibrateConfig(from_file=str(tmp_path / "T.txt")))
    assert "--from-file" in str(e.value) and "depth scale" in str(e.value)
    assert not (ws / "calibration").exists()
    if fault != "inverse":  # (no table plane at all is refused, allowed or not)
        cfg = CalibrateConfig(from_file=str(tmp_path / "T.txt"), allow_implausible=True)
        assert run_calibrate(ws, cfg).method == "from_file"


def test_from_file_formats(tmp_path):
    T = make_T(rot_z(0.5) @ rot_x(2.0), [1.1, 0.2, 0.7])
    q = matrix_to_quat(T[:3, :3])
    np.savetxt(tmp_path / "m.txt", T)
    np.testing.assert_allclose(read_pose_file(tmp_path / "m.txt"), T, atol=1e-9)
    x, y, z, w = (float(v) for v in quat_wxyz_to_xyzw(q))
    (tmp_path / "easy.yaml").write_text(
        "parameters: {eye_on_hand: false}\ntransform:\n"
        f"  translation: {{x: 1.1, y: 0.2, z: 0.7}}\n"
        f"  rotation: {{x: {x}, y: {y}, z: {z}, w: {w}}}\n"
    )
    np.testing.assert_allclose(read_pose_file(tmp_path / "easy.yaml"), T, atol=1e-9)
    (tmp_path / "list.yaml").write_text(f"position: [1.1, 0.2, 0.7]\nquaternion: {[x, y, z, w]}\n")
    np.testing.assert_allclose(read_pose_file(tmp_path / "list.yaml"), T, atol=1e-9)
    (tmp_path / "wxyz.yaml").write_text(
        f"position: [1.1, 0.2, 0.7]\nquaternion: {[float(v) for v in q]}\nquaternion_order: wxyz\n"
    )
    np.testing.assert_allclose(read_pose_file(tmp_path / "wxyz.yaml"), T, atol=1e-9)
    (tmp_path / "bad.yaml").write_text("position: [1.1, 0.2, 0.7]\nquaternion: [1, 1, 0, 0]\n")
    with pytest.raises(
        H2S2RError, match=r"rotation \[1\.0, 1\.0, 0\.0, 0\.0\] is not a unit quaternion"
    ):
        read_pose_file(tmp_path / "bad.yaml")


def test_from_file_yaml_rotation_matrix_and_which_part_is_wrong(tmp_path):
    """Probe round 7: a YAML rotation written as a 3×3 matrix was refused with 'translation
    must have 3 numbers and rotation be a unit quaternion'. A proper rotation matrix is
    read as given; otherwise the message says which part is wrong and the forms taken."""
    T = make_T(rot_z(0.5) @ rot_x(2.0), [1.1, 0.2, 0.7])

    def yaml(name: str, translation: str, R: np.ndarray | str) -> Path:
        rows = (
            R
            if isinstance(R, str)
            else "\n" + "\n".join(f"  - [{', '.join(f'{x:.9f}' for x in row)}]" for row in R)
        )
        (tmp_path / name).write_text(f"translation: {translation}\nrotation: {rows}\n")
        return tmp_path / name

    f = yaml("matrix.yaml", "[1.1, 0.2, 0.7]", T[:3, :3])
    np.testing.assert_allclose(read_pose_file(f), T, atol=1e-8)
    for name, translation, R, match in (
        (
            "scaled.yaml",
            "[1.1, 0.2, 0.7]",
            1.1 * T[:3, :3],
            r"\(its 3×3 rotation\): .*scaled ×1\.1",
        ),
        ("mirror.yaml", "[1.1, 0.2, 0.7]", -T[:3, :3], r"\(its 3×3 rotation\): .*reflection"),
        ("euler.yaml", "[1.1, 0.2, 0.7]", "[0.1, 0.2, 0.3]", r"neither a quaternion .*Euler"),
        ("short.yaml", "[1.1, 0.2]", "[0, 0, 0, 1]", r"the translation must be 3 numbers"),
        ("words.yaml", "[1.1, 0.2, 0.7]", "identity", r"'identity' is neither a quaternion"),
        ("dict.yaml", "[1.1, 0.2, 0.7]", "{x: 0, y: 0, z: 0}", r"neither a quaternion"),
    ):
        with pytest.raises(H2S2RError, match=match) as e:
            read_pose_file(yaml(name, translation, R))
        assert str(e.value).startswith(str(tmp_path / name))
        if "neither a quaternion" in str(e.value):
            assert "or a 3×3 rotation matrix (3 rows of 3 numbers)" in str(e.value)
    T_mm = T.copy()
    T_mm[:3, 3] *= 1000
    np.savetxt(tmp_path / "mm.txt", T_mm)
    with pytest.raises(H2S2RError, match="millimetres"):
        read_pose_file(tmp_path / "mm.txt")


def test_board_spec_errors():
    with pytest.raises(H2S2RError, match="charuco:COLSxROWS"):
        BoardSpec.parse("chessboard:7x5:0.04")
    with pytest.raises(H2S2RError, match="unknown ArUco dictionary"):
        BoardSpec.parse("charuco:7x5:0.04:0.03:DICT_9X9_1")
    with pytest.raises(H2S2RError, match="MARKER_M < SQUARE_M"):
        BoardSpec.parse("charuco:7x5:0.04:0.05")


def test_forward_kinematics_of_joint_rows_matches_mujoco(tmp_path):
    from h2s2r.core.robots import build_robot_model, get_robot

    q = _arm_configs(np.random.default_rng(0), 3)
    poses = read_robot_poses(
        str(_save_rows(tmp_path / "q.csv", q)), "joints", "iiwa_allegro", "attachment_site"
    )
    model, info = build_robot_model(get_robot("iiwa_allegro"))
    data = mujoco.MjData(model)
    data.qpos[info.qpos_adr] = get_robot("iiwa_allegro").home_qpos
    data.qpos[info.qpos_adr[:7]] = q[1]
    mujoco.mj_forward(model, data)
    np.testing.assert_allclose(poses[1][:3, 3], data.site("attachment_site").xpos, atol=1e-9)


def test_intrinsics_estimated_from_board_images(tmp_path):
    spec = BoardSpec.parse(BOARD)
    rng = np.random.default_rng(4)
    images = tmp_path / "images"
    images.mkdir()
    from h2s2r.calibration.synthetic import look_at_board

    w, h = spec.size_m
    for i in range(8):  # varied views of the board
        eye = np.array([w / 2, h / 2, -0.75]) + rng.uniform(-0.3, 0.3, 3) * [1, 1, 0.3]
        T_cam_board = look_at_board(eye, spec)
        Image.fromarray(render_board(spec, K, T_cam_board, rng=rng, occlusion=0.0)).save(
            images / f"{i:03d}.png"
        )
    # Face up on the table (its z axis down), so that the cameras are above the table.
    T_base_board = make_T(rot_x(np.pi), [0.5, 0.0, 0.0])
    cal = run_calibrate(
        tmp_path,
        CalibrateConfig(
            board=BOARD,
            images=str(images),
            board_pose=_pose_arg(T_base_board),
            intrinsics="estimate",
        ),
    )
    np.testing.assert_allclose(cal.K[[0, 1], [0, 1]], K[[0, 1], [0, 1]], rtol=0.01)
    np.testing.assert_allclose(cal.K[:2, 2], K[:2, 2], atol=5.0)  # principal point ±5 px


def test_a_board_pose_quaternion_in_xyzw_order_is_refused(board_in_base_setup):
    """Found outside the probe: the board pose with its quaternion x,y,z,w (ROS order) and a
    small yaw turns the board over: calibrate exited 0 with the camera below the table."""
    ws, images, T_base_board, _ = board_in_base_setup
    q = matrix_to_quat(T_base_board[:3, :3])
    xyzw = ",".join(f"{x:.10f}" for x in [*T_base_board[:3, 3], *quat_wxyz_to_xyzw(q)])
    cfg = CalibrateConfig(
        board=BOARD, images=str(images), board_pose=xyzw, intrinsics=str(_write_K(ws / "K.txt"))
    )
    with pytest.raises(H2S2RError, match=r"camera is at z = -0\.\d+ m .* below the table") as e:
        run_calibrate(ws, cfg)
    assert "x,y,z,w" in str(e.value) and "--board-pose" in str(e.value)
    assert not (ws / "calibration").exists()


@pytest.mark.parametrize(
    "quat, match",
    [
        ("0,0,0,0", r"all zero"),
        ("1,1,0,0", r"norm 1\.414, not 1"),
        ("0.5,0.5,0.5,0.4", r"norm 0\.954"),
    ],
)
def test_a_board_pose_quaternion_must_be_unit(quat, match):
    from h2s2r.calibration.poses import parse_pose

    with pytest.raises(H2S2RError, match=match):
        parse_pose(f"0.4,-0.2,0.0,{quat}")
    T = parse_pose("0.4,-0.2,0.0,0.7071,0.7071,0,0")  # rounded: normalized
    assert np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3))


# ---------------------------------------------------------------- options before images
@pytest.fixture
def no_image_reads(tmp_path, monkeypatch):
    """A folder of two board images and a run that fails if any image is opened."""
    import h2s2r.calibration.stage as stage

    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(images / f"{i:03d}.png")

    def boom(*a, **k):
        raise AssertionError("an image was read before the options were checked")

    monkeypatch.setattr(stage.Image, "open", boom)
    monkeypatch.setattr(stage, "detect", boom)
    return tmp_path, images


@pytest.mark.parametrize(
    "options, match",
    [
        # The probe: x,y,z + roll,pitch,yaw in degrees scanned every image, then failed
        # without naming the option.
        (
            {"board_pose": "0.5,0,0,180,0,30"},
            r"^--board-pose: expected 7 numbers x,y,z,qw,qx,qy,qz \(wxyz\), got 6 .*Euler "
            r"angles\? convert to a quaternion",
        ),
        ({"board_pose": "0.5,0,0"}, r"^--board-pose: .*got 3 .*identity: 1,0,0,0"),
        ({"board_pose": "0.5,0,0,1,0,0,zero"}, r"^--board-pose '0.5,0,0,1,0,0,zero': expected"),
        ({"board_pose": "board.yaml"}, r"^--board-pose board.yaml: no such file"),
        ({"board_pose": "0.5,0,0,0,0,0,0"}, r"^--board-pose .*all zero"),
        ({"board_pose": "nan,0,0,1,0,0,0"}, r"^--board-pose .*position x,y,z must be finite"),
        ({"board_pose": "0.5,0,0,1,0,0,0", "robot_poses": "q.csv"}, r"give one"),
        ({}, r"say where the board is: --board-pose"),
        ({"robot_poses": "missing.csv"}, r"--robot-poses missing.csv: file does not exist"),
        ({"robot_poses": "q.csv", "pose_kind": "euler"}, r"--pose-kind must be joints or ee"),
        ({"board_pose": "0.5,0,0,1,0,0,0", "depth_scale": 0.0}, r"--depth-scale 0: must be > 0"),
        # metres per unit given as units per metre (probe round 6): the inverse is named
        (
            {"board_pose": "0.5,0,0,1,0,0,0", "depth_scale": 1000.0},
            r"^--depth-scale 1000: must be > 0 and <= 1 metres per depth unit .*give its "
            r"inverse, 0\.001",
        ),
        # an option of another mode (probe round 6: silently ignored, recorded in meta.json)
        (
            {"board_pose": "0.5,0,0,1,0,0,0", "pose_kind": "ee"},
            r"^--pose-kind ee: has no effect here \(--board-pose .*\); it applies with "
            r"--robot-poses — drop it",
        ),
        ({"from_file": "T.txt", "board_pose": "0.5,0,0,1,0,0,0"}, r"^--board-pose 0.5,0,0,1,0,"),
        ({"from_file": "T.txt", "board_depth": "x.png"}, r"^--board-depth x.png: has no effect"),
        ({"check": True, "from_file": "T.txt"}, r"^--from-file T.txt: .*without --check"),
        ({"check": True}, r"^--intrinsics .*K.txt: has no effect here \(--check only redraws"),
        (
            {"board_pose": "0.5,0,0,1,0,0,0", "depth_scale": 0.0005},
            r"^--depth-scale 0.0005: has no effect here \(the table plane comes from capture/"
            r".*--depth or --board-depth — drop it, or give --depth FILE with it",
        ),
        ({"board_pose": "0.5,0,0,1,0,0,0", "depth": "nope.png"}, r"--depth nope.png: no such"),
        ({"board_pose": "0.5,0,0,1,0,0,0", "board_depth": "x.png"}, r"--board-depth x.png"),
        ({"board_pose": "0.5,0,0,1,0,0,0", "joints": "0,a"}, r"--joints '0,a': expected"),
        ({"board_pose": "0.5,0,0,1,0,0,0", "joints": ",".join(["0"] * 40)}, r"--joints: .*23"),
        # degrees for radians (probe round 7: drawn at 45 rad): each joint named, the
        # values in radians given
        (
            {"board_pose": "0.5,0,0,1,0,0,0", "joints": "0,45,0,-90,0,45,0"},
            r"^--joints 0,45,0,-90,0,45,0: outside iiwa_allegro's joint ranges \(radians\): "
            r"joint2 \(value 2\) = 45, range -2\.094 … 2\.094; joint4 .*; joint6 .* — "
            r"--joints takes radians: degrees\? give them in radians: --joints "
            r"0,0\.7854,0,-1\.571,0,0\.7854,0$",
        ),
        (
            {"board_pose": "0.5,0,0,1,0,0,0", "joints": "0,2.5"},
            r"^--joints 0,2.5: .*joint2 \(value 2\) = 2\.5, range -2\.094 … 2\.094 — give "
            r"--joints within iiwa_allegro's joint ranges, in radians$",
        ),
        ({"board_pose": "0.5,0,0,1,0,0,0", "joints": "0,0,0,0,0,0,400"}, r"out of range too"),
        ({"board_pose": "0.5,0,0,1,0,0,0", "robot": "ur5"}, r"ur5"),
        ({"board_pose": "0.5,0,0,1,0,0,0", "board": "charuco:7x5"}, r"charuco:COLSxROWS"),
        ({"from_file": "T.txt"}, r"--from-file T.txt: no such file"),
    ],
)
def test_every_option_is_checked_before_any_image_is_read(no_image_reads, options, match):
    ws, images = no_image_reads
    with pytest.raises(H2S2RError, match=match):  # some are refused by the config itself
        cfg = CalibrateConfig(images=str(images), intrinsics=str(_write_K(ws / "K.txt")), **options)
        run_calibrate(ws, cfg)
    assert not (ws / "calibration").exists()


def test_a_euler_board_pose_is_one_line_on_the_command_line(no_image_reads, capsys):
    from h2s2r.cli.main import main

    ws, images = no_image_reads
    argv = ["calibrate", str(ws), "--images", str(images), "--board-pose", "0.5,0,0,180,0,30"]
    assert main([*argv, "--intrinsics", str(_write_K(ws / "K.txt"))]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: --board-pose: ") and "Euler" in err and "\n" not in err
    assert "board not found" not in captured.out + captured.err


@pytest.mark.parametrize(
    "fault, match",
    [
        ("scale", r"the rotation part is scaled ×1\.1"),
        ("mirror", r"the rotation part is a reflection"),
        ("shear", r"the rotation part is not orthonormal \(singular values"),
        ("transposed", r"last row is .* not 0 0 0 1 \(translation in the last row: transposed"),
        ("nan", r"NaN"),
    ],
)
def test_a_from_file_that_is_not_rigid_says_what_is_wrong_and_what_to_do(tmp_path, fault, match):
    T = make_T(rot_z(0.5) @ rot_x(2.0), [1.1, 0.2, 0.7])
    if fault == "scale":  # the probe's case: said what was wrong, not what to do
        T[:3, :3] *= 1.1
    elif fault == "mirror":
        T[:3, 0] *= -1
    elif fault == "shear":
        T[:3, :3] = T[:3, :3] @ np.array([[1, 0.2, 0], [0, 1, 0], [0, 0, 1]])
    elif fault == "transposed":
        T = T.T
    else:
        T[0, 0] = np.nan
    np.savetxt(tmp_path / "T_base_cam.txt", T)
    with pytest.raises(H2S2RError, match=match) as e:
        run_calibrate(tmp_path, CalibrateConfig(from_file=str(tmp_path / "T_base_cam.txt")))
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path / 'T_base_cam.txt'}: ") and "\n" not in msg
    assert "re-export it as a rigid 4×4 in metres" in msg and "last row 0 0 0 1" in msg
