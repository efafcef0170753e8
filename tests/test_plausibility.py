"""Physical plausibility: scale errors that track well, scenes the robot cannot work in.

A depth image at twice its scale, or a mesh at half its size, still tracks ("100 % of
frames valid") with poses far off; ``track-object`` compares the measured object's size
with the mesh's and refuses both, and ``retarget`` refuses a table far from the robot's
base height, a camera too far away, an object off the table or out of reach.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from h2s2r.core.artifacts import (
    Calibration,
    Capture,
    CaptureWriter,
    GroundTruth,
    ObjectMesh,
)
from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import make_T
from h2s2r.perception.hand_track.stage import TrackHandConfig, run_track_hand
from h2s2r.perception.object_track.icp import ModelTarget
from h2s2r.perception.object_track.init import initialize
from h2s2r.perception.object_track.mesh_io import read_mesh
from h2s2r.perception.object_track.model import ObjectModel
from h2s2r.perception.object_track.plausibility import (
    RATIO_RANGE,
    check_object_scale,
    measure_object_scale,
    measure_track_scale,
    scale_check_frames,
)
from h2s2r.perception.object_track.stage import TrackObjectConfig, run_track_object
from h2s2r.perception.object_track.tracker import TrackerConfig
from h2s2r.sim.retarget.plausibility import (
    MAX_CAMERA_DISTANCE_M,
    SceneCheck,
    check_scene,
)
from h2s2r.sim.retarget.stage import run_retarget
from tests.conftest import SHARED_DATA

FRAMES = 12  # the check reads the first quarter: frames 0-2, before the hand arrives


def _workspace(src: Path, dst: Path, depth_factor: float = 1.0, mesh_factor: float = 1.0):
    """The first frames of a synthetic demo, depth and mesh rescaled, written through
    the artifacts' own writers (valid hashes)."""
    cap = Capture.load(src / "capture")
    with CaptureWriter(dst / "capture", cap.K, cap.fps) as w:
        for i in range(FRAMES):
            w.add(cap.read_rgb(i), cap.read_depth_m(i).astype(np.float64) * depth_factor)
    m = ObjectMesh.load(src / "object")
    ObjectMesh(
        vertices=m.vertices * mesh_factor,
        faces=m.faces,
        name=m.name,
        source=m.source,
        scale=mesh_factor,  # as if --mesh-scale had been mistyped
        symmetry=m.symmetry,
    ).save(dst / "object")
    return dst


# ----------------------------------------------------------------------------- track-object
@pytest.mark.parametrize("demo", ["synth_box", "synth_can"])
def test_good_synthetic_demo_measures_its_own_size(demo, request, tmp_path):
    ws = _workspace(request.getfixturevalue(demo), tmp_path / "ws")
    art = run_track_object(ws, TrackObjectConfig(overlay=False))
    m = json.loads((ws / "object_track" / "metrics.json").read_text())
    assert 0.9 <= m["object_scale_ratio"] <= 1.1, m
    assert RATIO_RANGE[0] < m["object_scale_ratio_min"] <= m["object_scale_ratio_max"] < 1.2
    assert m["object_scale_frames"] == 3 and art.valid.all()


def test_half_size_mesh_is_refused_naming_mesh_and_depth_scale(synth_box, tmp_path):
    ws = _workspace(synth_box, tmp_path / "ws", mesh_factor=0.5)
    with pytest.raises(
        H2S2RError,
        match=r"looks 1\.[6-9]\d× larger than its mesh .*depth_scale_m = 0\.001.*"
        r"--depth-scale.*--mesh-scale 0\.5.*--mesh PATH --mesh-scale S",
    ):
        run_track_object(ws, TrackObjectConfig(overlay=False))
    assert not (ws / "object_track").exists()
    art = run_track_object(ws, TrackObjectConfig(overlay=False, allow_scale_mismatch=True))
    assert art.valid.all() and art.metrics["object_scale_ratio"] > 1.6  # it tracks "well"


@pytest.mark.parametrize("demo", ["synth_box", "synth_can"])
def test_depth_at_twice_its_scale_is_refused(demo, request, tmp_path):
    ws = _workspace(request.getfixturevalue(demo), tmp_path / "ws", depth_factor=2.0)
    with pytest.raises(H2S2RError, match=r"looks [1-3]\.\d\d× larger .*depth scale is wrong"):
        run_track_object(ws, TrackObjectConfig(overlay=False))


def test_double_size_mesh_is_refused(synth_box, tmp_path):
    """A mesh twice the object's size does not even fit the first frame; posed with its
    top on the box's top (sunk into the table), it outgrows the measured box twice."""
    ws = _workspace(synth_box, tmp_path / "ws", mesh_factor=2.0)
    with pytest.raises(H2S2RError, match=r"--mesh-scale"):
        run_track_object(ws, TrackObjectConfig(overlay=False))
    gt = GroundTruth.load(synth_box / "ground_truth")
    cap = Capture.load(ws / "capture")
    mesh = ObjectMesh.load(ws / "object")
    model = ObjectModel.from_mesh(mesh.vertices, mesh.faces)
    sunk = gt.T_cam_obj[:FRAMES] @ make_T(np.eye(3), [0, 0, -0.03])  # box z is up
    chk = measure_track_scale(cap.read_depth_m, cap.K, sunk, np.ones(FRAMES, bool), model)
    assert chk is not None and 0.4 < chk.ratio < 0.6, chk
    with pytest.raises(H2S2RError, match=r"0\.\d\d× smaller than its mesh .*mesh scale"):
        check_object_scale(chk, cap.depth_scale_m, mesh.scale)


def test_scale_check_frames_are_early_and_valid():
    valid = np.ones(40, bool)
    valid[:2] = False
    assert scale_check_frames(valid) == [2, 4, 6, 7, 9]
    assert scale_check_frames(np.r_[np.zeros(20, bool), np.ones(4, bool)]) == [20, 21, 22, 23]
    assert scale_check_frames(np.zeros(5, bool)) == []


# Real RGB-D frames (YCB-Video): the mesh posed by the initializer, a box around it.
REAL_CASES = [
    ("006_mustard_bottle", 1, "315,190,410,460"),
    ("003_cracker_box", 1, "295,120,485,340"),  # half hidden behind the mustard bottle
    ("003_cracker_box", 5, "90,30,280,250"),
    ("006_mustard_bottle", 4, "325,230,452,458"),  # in front of a pitcher
]


@pytest.mark.parametrize(("obj", "frame", "roi"), REAL_CASES)
def test_real_ycb_objects_measure_their_own_size(obj, frame, roi):
    d = SHARED_DATA / "posecnn_ycbv_demo"
    K = np.loadtxt(d / "cam_K.txt")
    depth = np.asarray(Image.open(d / f"{frame:06d}-depth.png")).astype(np.float32) / 1e4
    v, f = read_mesh(SHARED_DATA / "YCB_sim" / "meshes" / f"{obj}.msh")
    model = ObjectModel.from_mesh(v, f)
    mask = TrackerConfig(roi=roi).roi_mask(depth.shape)
    T = initialize(depth, K, ModelTarget(model), v, mask=mask).T_cam_obj
    m = measure_object_scale(depth, K, T, model)
    assert m is not None
    ratio = float(np.sqrt(np.prod(m.ratios)))
    assert 0.8 <= ratio <= 1.1, (m, ratio)


# ----------------------------------------------------------------------------- retarget
@pytest.fixture(scope="module")
def box_tracked(synth_box, tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("plaus") / "box"
    for d in ("capture", "object", "ground_truth"):
        shutil.copytree(synth_box / d, ws / d)
    run_track_object(ws, TrackObjectConfig(overlay=False))
    run_track_hand(ws, TrackHandConfig(method="ground-truth"))
    return ws


def _with_calibration(src: Path, dst: Path, T_base_cam: np.ndarray, plane=None) -> Path:
    """The tracked workspace with a calibration/ (preferred over ground_truth/)."""
    for d in ("capture", "object", "ground_truth", "object_track", "hand_track"):
        shutil.copytree(src / d, dst / d)
    Calibration(
        T_base_cam=T_base_cam,
        K=Capture.load(dst / "capture").K,
        method="from_file",
        table_plane_base=None if plane is None else np.asarray(plane, float),
    ).save(dst / "calibration")
    return dst


def test_good_demo_scene_is_plausible(box_tracked):
    run_retarget(box_tracked)
    m = json.loads((box_tracked / "task" / "metrics.json").read_text())
    assert abs(m["table_height_m"]) < 0.01 and abs(m["object_table_gap_m"]) < 0.01
    assert 0.3 < m["camera_distance_m"] < 2.0 and 0.5 < m["camera_object_distance_m"] < 1.3
    assert m["object_distance_m"] < 0.8 < 1.3 < m["arm_reach_m"] < 1.6


def test_table_far_below_the_base_is_refused(box_tracked, tmp_path):
    """The probe's case: the table 0.57 m under the robot base (here a camera pose 0.57 m
    too low; a depth at twice its scale gives the same)."""
    T = GroundTruth.load(box_tracked / "ground_truth").T_base_cam.copy()
    T[2, 3] -= 0.57
    ws = _with_calibration(box_tracked, tmp_path / "ws", T)
    with pytest.raises(
        H2S2RError,
        match=r"table top is at z = -0\.5[5-9] m .*from the depth.*expected -0\.15 to "
        r"\+0\.15 m.*depth scale.*--depth-scale.*calibration/.*h2s2r calibrate",
    ):
        run_retarget(ws)
    assert not (ws / "task").exists()


def test_calibrated_table_plane_far_below_is_refused(box_tracked, tmp_path):
    T = GroundTruth.load(box_tracked / "ground_truth").T_base_cam
    ws = _with_calibration(box_tracked, tmp_path / "ws", T, plane=[0, 0, 1.0, 0.57])
    with pytest.raises(H2S2RError, match=r"z = -0\.57 m .*calibration/ table plane"):
        run_retarget(ws)


def test_object_out_of_reach_is_refused(box_tracked, tmp_path):
    T = GroundTruth.load(box_tracked / "ground_truth").T_base_cam.copy()
    T[0, 3] += 1.3  # the whole scene 1.3 m farther from the robot
    assert np.linalg.norm(T[:3, 3]) < MAX_CAMERA_DISTANCE_M
    ws = _with_calibration(box_tracked, tmp_path / "ws", T)
    with pytest.raises(H2S2RError, match=r"object starts 1\.\d\d m .*beyond the arm's reach"):
        run_retarget(ws)


def _scene(**kw) -> SceneCheck:
    base = dict(
        table_height_m=0.0,
        camera_position_m=(1.2, 0.1, 0.6),
        object_position_m=(0.6, -0.1, 0.03),
        object_radius_m=0.12,
        object_gap_m=0.0,
        reach_m=1.45,
    )
    return SceneCheck(**(base | kw))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"table_height_m": 0.3}, r"table top is at z = \+0\.30 m"),
        ({"camera_position_m": (3.5, 0.0, 0.5)}, r"camera is 3\.54 m from the robot base"),
        (
            {"camera_position_m": (0.0, 0.0, 2.0), "object_position_m": (0.0, 0.0, -1.2)},
            r"camera is 3\.20 m from the object",
        ),
        ({"object_gap_m": 0.2}, r"0\.20 m above the table top"),
        ({"object_gap_m": -0.15}, r"0\.15 m below the table top"),
        ({"object_position_m": (1.7, 0.0, 0.03)}, r"object starts 1\.70 m .*reach \(1\.45 m"),
    ],
)
def test_scene_checks_name_the_numbers_and_the_causes(change, message):
    check_scene(_scene(), "iiwa_allegro")  # the plausible scene passes
    with pytest.raises(H2S2RError, match=message + r".*depth scale.*calibration/"):
        check_scene(_scene(**change), "iiwa_allegro")
    with pytest.raises(H2S2RError, match=r"ground_truth/ T_base_cam"):
        check_scene(_scene(**change), "iiwa_allegro", cam_source="ground_truth")


def test_scene_numbers_are_in_the_base_frame():
    from h2s2r.sim.retarget.plausibility import measure_scene
    from h2s2r.sim.synth.tasks import box_mesh

    v, _ = box_mesh((0.2, 0.12, 0.06))
    chk = measure_scene(
        make_T(np.eye(3), [1.2, 0.0, 0.6]), make_T(np.eye(3), [0.6, 0.0, 0.03]), v, 0.0, 1.45
    )
    assert chk.object_gap_m == pytest.approx(0.0)
    assert chk.object_distance_m == pytest.approx(np.hypot(0.6, 0.03))
    assert chk.camera_object_distance_m == pytest.approx(np.hypot(0.6, 0.57))
    assert chk.object_radius_m == pytest.approx(0.5 * np.linalg.norm([0.2, 0.12, 0.06]))
