"""Object tracking: accuracy against rendered ground truth, real frames, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from h2s2r.core.artifacts import CaptureWriter, GroundTruth, ObjectTrack
from h2s2r.core.errors import ArtifactError, H2S2RError
from h2s2r.core.geometry import T_from_pos_quat, make_T, project_points, random_quat, rot_z
from h2s2r.perception.capture.registration import shift_depth
from h2s2r.perception.object_track.foundationpose import read_ob_in_cam
from h2s2r.perception.object_track.icp import ModelTarget, open3d_threads
from h2s2r.perception.object_track.init import (
    _grey_for_texture,
    _half_turns,
    in_view_fraction,
    initialize,
    stable_down_directions,
)
from h2s2r.perception.object_track.mesh_io import read_mesh, read_texture
from h2s2r.perception.object_track.metrics import auc, rotation_error_deg
from h2s2r.perception.object_track.model import (
    ObjectModel,
    colour_agreement,
    score_poses,
    texture_agreement,
)
from h2s2r.perception.object_track.scene import (
    blurred_hsv,
    colour_likelihood,
    colour_regions,
    fit_support_planes,
    propose_regions,
    scene_points,
)
from h2s2r.perception.object_track.smooth import smooth_poses
from h2s2r.perception.object_track.stage import TrackObjectConfig, run_track_object
from h2s2r.perception.object_track.tracker import GATE_BITS, TrackerConfig
from h2s2r.sim.synth import SynthConfig, run_synth
from tests.conftest import SHARED_DATA


@pytest.fixture(scope="module", params=[("box_push", 1), ("can_lift", 2)], ids=str)
def noisy_demo(request, tmp_path_factory) -> Path:
    task, seed = request.param
    return run_synth(
        SynthConfig(task=task, seed=seed, frames=60, noise=True),
        tmp_path_factory.mktemp("trk") / task,
    )


def test_tracks_noisy_synthetic_demo_within_targets(noisy_demo):
    art = run_track_object(noisy_demo, TrackObjectConfig(overlay=True))
    m = art.metrics
    assert m["valid_fraction"] >= 0.95
    assert m["trans_err_mean_m"] <= 0.005 and m["rot_err_mean_deg"] <= 3.0
    assert m["add_s_auc"] >= 0.90
    assert m["trans_err_max_m"] <= 0.02  # no valid frame off by more than 2 cm
    out = noisy_demo / "object_track"
    assert (out / "overlay_strip.png").is_file() and (out / "overlay.mp4").stat().st_size > 0
    loaded = ObjectTrack.load(out)
    assert set(loaded.quality) >= {"agreement", "rmse_m", "gt_trans_err_m"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"valid_fraction", "trans_err_p95_m", "add_mean_m"} <= set(metrics)
    assert "fps" not in metrics  # timings are not hashed: timing.json holds them
    assert json.loads((out / "timing.json").read_text())["fps"] > 0


def test_finds_the_object_without_a_hint_in_a_rendered_frame(noisy_demo):
    """The first frame of a rendered demo (RealSense-like noise), no box, no mask: the
    pose found matches the renderer's within 1 cm and 5° (up to the shape's symmetry)."""
    from h2s2r.core.artifacts import Capture, ObjectMesh

    cap = Capture.load(noisy_demo / "capture")
    mesh = ObjectMesh.load(noisy_demo / "object")
    gt = GroundTruth.load(noisy_demo / "ground_truth").T_cam_obj[0]
    model = ObjectModel.from_mesh(mesh.vertices, mesh.faces)
    with open3d_threads(1):
        res = initialize(cap.read_depth_m(0), cap.K, ModelTarget(model), mesh.vertices)
    assert np.linalg.norm(res.T_cam_obj[:3, 3] - gt[:3, 3]) < 0.01
    assert rotation_error_deg(res.T_cam_obj[:3, :3], gt[:3, :3], mesh.symmetry) < 5.0
    assert res.agreement >= 0.95


def _ycb(obj: str, frame: int):
    d = SHARED_DATA / "posecnn_ycbv_demo"
    K = np.loadtxt(d / "cam_K.txt")
    depth = np.asarray(Image.open(d / f"{frame:06d}-depth.png")).astype(np.float32) / 1e4
    v, f = read_mesh(SHARED_DATA / "YCB_sim" / "meshes" / f"{obj}.msh")
    return K, depth, v, f


# Boxes drawn around the object in the first frame (the hint --roi gives in clutter).
REAL_CASES = [
    ("006_mustard_bottle", 1, (315, 190, 410, 460)),
    ("003_cracker_box", 1, (295, 120, 485, 340)),
    ("003_cracker_box", 5, (90, 30, 280, 250)),
    # In front of a pitcher, on a small desk: floor planes outsize the desk around the box.
    ("006_mustard_bottle", 4, (325, 230, 452, 458)),
]


# Depth alone, and with the mesh's print (``--texture``). On mustard/4 depth alone finds
# the bottle turned front to back (agreement 0.950 against 0.977 with the print).
REAL_RUNS = [(*case, False) for case in REAL_CASES[:3]] + [(*case, True) for case in REAL_CASES]


@pytest.mark.parametrize(("obj", "frame", "roi", "texture"), REAL_RUNS)
def test_finds_ycb_objects_in_real_frames(obj, frame, roi, texture):
    """Real RGB-D frames, a box drawn around the object: the posed mesh agrees with the
    measured depth (1 cm)."""
    K, depth, rgb, v, f, model = _textured_ycb(obj, frame)
    if not texture:
        model, rgb = ObjectModel.from_mesh(v, f), None
    mask = TrackerConfig(roi=",".join(map(str, roi))).roi_mask(depth.shape)
    res = initialize(depth, K, ModelTarget(model), v, mask=mask, rgb=rgb)
    s = score_poses(
        res.T_cam_obj[None], model.points, model.normals, depth, K, tol_m=0.01, zbuffer=True
    )
    assert s.agreement[0] >= 0.95, f"depth agreement {s.agreement[0]:.3f}"
    assert s.agree[0] >= 0.4 * s.visible[0]  # most visible samples are measured, not hidden
    c = project_points(K, (res.T_cam_obj[:3, :3] @ model.center_obj + res.T_cam_obj[:3, 3]))
    assert roi[0] <= c[0] <= roi[2] and roi[1] <= c[1] <= roi[3]


def _textured_ycb(obj: str, frame: int):
    K, depth, v, f = _ycb(obj, frame)
    mesh = SHARED_DATA / "YCB_sim" / "meshes" / f"{obj}.msh"
    uv, tex = read_texture(mesh, SHARED_DATA / "YCB_sim" / "textures" / f"{obj}.png")
    rgb = np.asarray(Image.open(SHARED_DATA / "posecnn_ycbv_demo" / f"{frame:06d}-color.png"))
    return K, depth, rgb[..., :3], v, f, ObjectModel.from_mesh(v, f, uv=uv, texture=tex)


@pytest.mark.parametrize(("obj", "frame", "box"), REAL_CASES, ids=lambda c: str(c))
def test_finds_ycb_objects_in_real_frames_without_a_hint(obj, frame, box):
    """Real clutter, no box, no mask: depth, the support planes and the mesh's texture
    (its colours propose where to look and must match the image, its print must
    correlate) find the object. cracker/1: a same-sized box stands fully visible behind
    the half-hidden cracker box; cracker/5: the box is mostly hidden by a bottle;
    mustard/4: the bottle stands on a small desk that the floor outsizes in view. The
    centre must fall in the box drawn around the object, the depth agree within 1 cm."""
    K, depth, rgb, v, _, model = _textured_ycb(obj, frame)
    with open3d_threads(1):  # as track-object runs it: reproducible
        res = initialize(depth, K, ModelTarget(model), v, rgb=rgb)
    c = project_points(K, (res.T_cam_obj[:3, :3] @ model.center_obj + res.T_cam_obj[:3, 3]))
    u0, v0, u1, v1 = box
    assert u0 <= c[0] <= u1 and v0 <= c[1] <= v1, f"found at pixel {c}"
    assert res.agreement >= 0.95
    s = score_poses(
        res.T_cam_obj[None], model.points, model.normals, depth, K, tol_m=0.01, zbuffer=True
    )
    assert s.agreement[0] >= 0.95, f"depth agreement {s.agreement[0]:.3f}"


def test_texture_score_tells_a_box_from_its_half_turns():
    """At the box's pose (found with a hint) the print correlates with the image; the three
    180° turns fit the depth as well but not the print (the turn that shows the back
    scores closest: the cracker box's back is printed much like its front)."""
    K, depth, rgb, v, _, model = _textured_ycb("003_cracker_box", 1)
    mask = TrackerConfig(roi=",".join(map(str, REAL_CASES[1][2]))).roi_mask(depth.shape)
    T = initialize(depth, K, ModelTarget(model), v, mask=mask, rgb=rgb).T_cam_obj
    grey = _grey_for_texture(rgb, model, K)
    ncc = [texture_agreement(T @ F, model, grey, depth, K) for F in _half_turns(model.center_obj)]
    assert ncc[0] >= 0.3 and ncc[0] >= max(ncc[1:]) + 0.08, ncc


def test_regions_are_object_sized_blobs_on_the_table():
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    depth = np.full((480, 640), 1.0, np.float32)  # a table seen from above
    depth[40:140, 40:140] = 0.9  # 18 cm across: an object of 20 cm diameter fits
    depth[200:230, 10:310] = 0.95  # 57 cm long: too large
    depth[20:30, 280:290] = 0.9  # 100 px: too small
    planes = fit_support_planes(scene_points(depth, K, stride=1))
    boxes = propose_regions(depth, K, planes, diameter_m=0.2)
    assert len(boxes) == 1 and boxes[0][90, 90] and not boxes[0][215, 200]


def _red_square_scene():
    """A blue-grey table seen from above, a red 10 cm square block standing 5 cm on it."""
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    depth = np.full((480, 640), 1.0, np.float32)
    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb[:] = (60, 80, 140)
    rgb[::2, ::3] = (90, 90, 90)  # texture in the background
    depth[200:250, 300:350] = 0.95
    rgb[200:250, 300:350] = (200, 30, 30)
    return K, depth, rgb


def _red_plate_model() -> ObjectModel:
    """A 10 cm square plate printed red, facing -z (a camera looking along +z)."""
    v = np.array([[-0.05, -0.05, 0], [0.05, -0.05, 0], [0.05, 0.05, 0], [-0.05, 0.05, 0]])
    f = np.array([[0, 2, 1], [0, 3, 2]])
    uv = np.zeros((4, 2))
    tex = np.zeros((8, 8, 3), np.uint8)
    tex[:] = (210, 40, 20)
    return ObjectModel.from_mesh(v, f, n_dense=600, n_coarse=100, uv=uv, texture=tex)


def test_colour_regions_and_colour_agreement_find_the_red_block():
    K, depth, rgb, model = *_red_square_scene(), _red_plate_model()
    assert model.colour is not None and (model.colour[:, 0] > 150).all()
    like = colour_likelihood(rgb, model.colour)
    assert like[225, 325] > 0.9 and like[100, 100] < 0.1  # the block, the table
    boxes = colour_regions(rgb, depth, K, model.colour, diameter_m=0.14)
    assert len(boxes) == 1 and boxes[0][225, 325] and not boxes[0][100, 100]
    vs, us = np.nonzero(boxes[0])
    assert us.min() >= 285 and us.max() <= 365 and vs.min() >= 185 and vs.max() <= 265
    hsv = blurred_hsv(rgb)
    on = make_T(
        np.eye(3), [0.0095, -0.0285, 0.95]
    )  # on the block's top, centred at pixel (325, 225)
    beside = on.copy()
    beside[:3, 3] += [0.3, 0, 0.05]  # on the table, 30 cm to the right
    assert colour_agreement(on, model, hsv, depth, K) > 0.9
    assert colour_agreement(beside, model, hsv, depth, K) < 0.1
    both = colour_agreement(np.stack([on, beside]), model, hsv, depth, K)
    assert both[0] > 0.9 and both[1] < 0.1


def test_resting_faces_of_a_scanned_box_are_its_sides():
    """The YCB cracker box scan (its sides along the mesh axes): each of its six resting
    directions is a side's normal within 3°. The scan's bottom is not one flat face; its
    largest facet leans by 9°, and a resting pose along it lands centimetres off."""
    v, _ = read_mesh(SHARED_DATA / "YCB_sim" / "meshes" / "003_cracker_box.msh")
    downs = stable_down_directions(v)
    assert len(downs) == 6
    lean = [np.degrees(np.arccos(np.abs(d).max())) for d in downs]
    assert max(lean) < 3.0, lean
    assert sorted(int(np.argmax(np.abs(d))) for d in downs) == [0, 0, 1, 1, 2, 2]


def test_in_view_fraction():
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    pts = np.random.default_rng(0).uniform(-0.05, 0.05, (500, 3))
    assert in_view_fraction(make_T(np.eye(3), [0, 0, 1.0]), pts, K, (480, 640)) == 1.0
    half = in_view_fraction(make_T(np.eye(3), [0.64, 0, 1.0]), pts, K, (480, 640))
    assert 0.3 < half < 0.7  # centred on the right border
    assert in_view_fraction(make_T(np.eye(3), [0, 0, -1.0]), pts, K, (480, 640)) == 0.0


def test_texture_bad_inputs(tmp_path):
    mesh = SHARED_DATA / "YCB_sim" / "meshes" / "003_cracker_box.msh"
    with pytest.raises(H2S2RError, match=r"missing\.png.*--texture"):
        read_texture(mesh, tmp_path / "missing.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "t.png")
    (tmp_path / "m.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(H2S2RError, match=r"m\.obj.*drop --texture"):
        read_texture(tmp_path / "m.obj", tmp_path / "t.png")
    header = np.array([3, 0, 0, 1], np.int32).tobytes()
    body = np.zeros(9, np.float32).tobytes() + np.array([0, 1, 2], np.int32).tobytes()
    (tmp_path / "nouv.msh").write_bytes(header + body)
    with pytest.raises(H2S2RError, match=r"nouv\.msh.*no per-vertex texture"):
        read_texture(tmp_path / "nouv.msh", tmp_path / "t.png")


# ----------------------------------------------------------------------------- units
def test_rotation_error_respects_symmetry():
    R = rot_z(0.3)
    assert rotation_error_deg(R, R @ rot_z(np.pi), "box") < 1e-6
    assert rotation_error_deg(R, R @ rot_z(np.pi), "none") == pytest.approx(180.0)
    assert rotation_error_deg(R, R @ rot_z(1.0), "cylinder_z") < 1e-6
    assert rotation_error_deg(R, R @ rot_z(1.0), "box") == pytest.approx(np.degrees(1.0))


def test_auc_known_values():
    assert auc(np.zeros(10)) == pytest.approx(1.0, abs=1e-3)
    assert auc(np.full(10, np.inf)) == 0.0
    assert auc(np.full(4, 0.05)) == pytest.approx(0.5, abs=2e-3)


def test_smoothing_removes_noise_without_lag():
    n = 40
    t = np.arange(n) / 30.0
    pos = np.stack([0.3 * t, 0.1 * t**2, np.full(n, 0.8)], axis=1)  # accelerating
    T = np.stack([make_T(rot_z(0.5 * ti), p) for ti, p in zip(t, pos, strict=True)])
    valid = np.ones(n, dtype=bool)
    np.testing.assert_allclose(smooth_poses(T, valid), T, atol=1e-6)  # no lag
    rng = np.random.default_rng(0)
    noisy = T.copy()
    noisy[:, :3, 3] += rng.normal(0, 0.002, (n, 3))
    sm = smooth_poses(noisy, valid)
    err_noisy = np.linalg.norm(noisy[:, :3, 3] - T[:, :3, 3], axis=1)[5:-5].mean()
    err_smooth = np.linalg.norm(sm[:, :3, 3] - T[:, :3, 3], axis=1)[5:-5].mean()
    assert err_smooth < 0.7 * err_noisy
    gap = valid.copy()
    gap[20] = False
    assert np.isnan(smooth_poses(np.where(gap[:, None, None], T, np.nan), gap)[20]).all()


def test_foundationpose_output_is_read_and_validated(tmp_path):
    rng = np.random.default_rng(0)
    T = T_from_pos_quat(rng.normal(0, 0.2, (5, 3)) + np.array([0, 0, 1.0]), random_quat(rng, 5))
    d = tmp_path / "fp" / "ob_in_cam"
    d.mkdir(parents=True)
    for i in (0, 1, 3, 4):  # frame 2: FoundationPose wrote nothing
        np.savetxt(d / f"{i:06d}.txt", T[i])
    poses, valid = read_ob_in_cam(tmp_path / "fp", 5)
    assert valid.tolist() == [True, True, False, True, True]
    np.testing.assert_allclose(poses[valid], T[valid])
    bad = T[0].copy()
    bad[:3, 3] *= 1000  # millimetres
    np.savetxt(d / "000001.txt", bad)
    with pytest.raises(H2S2RError, match=r"000001\.txt.*millimetres"):
        read_ob_in_cam(tmp_path / "fp", 5)
    (d / "000001.txt").write_text("1 2 3\n")
    with pytest.raises(H2S2RError, match="not a 4×4"):
        read_ob_in_cam(tmp_path / "fp", 5)
    with pytest.raises(H2S2RError, match="GPU"):
        read_ob_in_cam(tmp_path / "nothing", 5)


# ----------------------------------------------------------------------------- bad inputs
@pytest.fixture(scope="module")
def short_box(tmp_path_factory) -> Path:
    return run_synth(
        SynthConfig(task="box_push", seed=4, frames=30, noise=True),
        tmp_path_factory.mktemp("bad") / "box",
    )


def _copy_capture(src: Path, dst: Path, edit=None, frames: int | None = None) -> Path:
    """Re-write a capture (its first ``frames``), optionally editing frames:
    ``edit(i, rgb, depth_m)``."""
    from h2s2r.core.artifacts import Capture

    cap = Capture.load(src / "capture")
    with CaptureWriter(dst / "capture", cap.K, cap.fps) as w:
        for i in range(frames or cap.num_frames):
            rgb, depth = cap.read_rgb(i), cap.read_depth_m(i).astype(np.float64)
            if edit is not None:
                rgb, depth = edit(i, rgb, depth)
            w.add(rgb, depth)
    import shutil

    shutil.copytree(src / "object", dst / "object")
    return dst


def _write_fp(folder: Path, T: np.ndarray, skip=()) -> Path:
    d = folder / "ob_in_cam"
    d.mkdir(parents=True)
    for i in range(len(T)):
        if i not in skip:
            np.savetxt(d / f"{i:06d}.txt", T[i])
    return folder


def test_foundationpose_poses_get_the_trackers_checks(short_box, tmp_path):
    """Imported poses are scored as the tracker's frames are (depth agreement, measured
    fraction; gate codes): a pose 5 cm off is invalid (probe round 7's inverted poses,
    405 mm off, were imported as 100 % valid); when most fail, the import is refused
    with the likely cause, inverted poses (T_obj_cam) named when their inverses fit."""
    ws = _copy_capture(short_box, tmp_path / "ws")
    T = GroundTruth.load(short_box / "ground_truth").T_cam_obj
    off = T.copy()
    off[[5, 6], 0, 3] += 0.05
    off[12, 0, 3] += 2.0  # outside the image: too little of it measured to judge
    fp = _write_fp(tmp_path / "fp", off, skip=(9,))  # frame 9: FoundationPose lost it
    cfg = TrackObjectConfig(method="foundationpose", fp_output=str(fp), overlay=False)
    art = run_track_object(ws, cfg)
    assert np.flatnonzero(~art.valid).tolist() == [5, 6, 9, 12]
    assert np.isnan(art.T_cam_obj[[5, 6, 9, 12]]).all()
    m = json.loads((ws / "object_track" / "metrics.json").read_text())
    assert (
        int(m["frame_00005_gate"]) & GATE_BITS["low_agreement"] and m["frame_00005_agreement"] < 0.7
    )
    assert m["frame_00009_gate"] == GATE_BITS["no_pose"] and m["gate_no_pose_frames"] == 1
    assert m["gate_few_points_frames"] == 1 and m["frame_00000_gate"] == 0
    assert int(m["frame_00012_gate"]) & GATE_BITS["few_points"]
    assert m["frame_00000_agreement"] >= 0.7
    np.testing.assert_allclose(art.T_cam_obj[art.valid], T[art.valid], atol=1e-9)

    def refused(poses, name):
        ws2 = _copy_capture(short_box, tmp_path / f"ws_{name}")
        fp = _write_fp(tmp_path / f"fp_{name}", poses)
        cfg = TrackObjectConfig(method="foundationpose", fp_output=str(fp), overlay=False)
        with pytest.raises(H2S2RError, match=r"ob_in_cam/: only 0 of the 30 imported poses") as e:
            run_track_object(ws2, cfg)
        assert not (ws2 / "object_track").exists()
        return str(e.value)

    inverted = refused(np.linalg.inv(T), "inverse")
    assert "inverses match in 30 of 30" in inverted and "T_obj_cam" in inverted
    assert "invert each 4×4 matrix" in inverted
    shifted = T.copy()
    shifted[:, 0, 3] += 0.05  # e.g. another mesh origin
    other = refused(shifted, "shifted")
    assert "do not match either (0 of 30)" in other and "another mesh" in other


def test_mesh_in_millimetres_is_refused_with_the_scale_to_use(short_box, tmp_path):
    from h2s2r.core.artifacts import ObjectMesh

    ws = _copy_capture(short_box, tmp_path / "ws")
    mesh = ObjectMesh.load(ws / "object")
    from h2s2r.core.artifacts.scene import write_obj

    write_obj(tmp_path / "box_mm.obj", mesh.vertices * 1000, mesh.faces)
    import shutil

    shutil.rmtree(ws / "object")
    with pytest.raises(H2S2RError, match=r"millimetres: pass --mesh-scale 0\.001"):
        run_track_object(ws, TrackObjectConfig(mesh=str(tmp_path / "box_mm.obj"), overlay=False))
    art = run_track_object(
        ws, TrackObjectConfig(mesh=str(tmp_path / "box_mm.obj"), mesh_scale=0.001, overlay=False)
    )
    assert art.valid.mean() > 0.9


def test_object_not_visible_in_first_frame(short_box, tmp_path):
    def hide(i, rgb, depth):
        if i == 0:  # the object's pixels read as the table far behind
            depth = np.where(depth > 0, np.maximum(depth, np.percentile(depth[depth > 0], 90)), 0)
        return rgb, depth

    ws = _copy_capture(short_box, tmp_path / "ws", hide)
    with pytest.raises(H2S2RError, match="object not found in frame 0"):
        run_track_object(ws, TrackObjectConfig(overlay=False))


def test_empty_and_missing_masks(short_box, tmp_path):
    ws = _copy_capture(short_box, tmp_path / "ws")
    masks = tmp_path / "masks"
    masks.mkdir()
    gt = GroundTruth.load(short_box / "ground_truth")
    from h2s2r.core.artifacts import ObjectMesh
    from h2s2r.perception.object_track.icp import silhouette

    mesh = ObjectMesh.load(ws / "object")
    model = ObjectModel.from_mesh(mesh.vertices, mesh.faces)
    K = np.loadtxt(ws / "capture" / "cam_K.txt")
    for i in range(gt.num_frames):
        m = silhouette(gt.T_cam_obj[i], model, K, (480, 640), dilate_px=3)
        if i in (10, 11):
            m[:] = False  # empty masks: those frames cannot be trusted
        Image.fromarray(m.astype(np.uint8) * 255).save(masks / f"{i:06d}.png")
    art = run_track_object(ws, TrackObjectConfig(masks=str(masks), overlay=False))
    assert not art.valid[10] and not art.valid[11] and art.valid[12:].mean() > 0.9
    assert np.isnan(art.T_cam_obj[10]).all()
    Image.fromarray(np.zeros((480, 640), np.uint8)).save(masks / "000000.png")
    with pytest.raises(H2S2RError, match=r"000000\.png is empty"):
        run_track_object(ws, TrackObjectConfig(masks=str(masks), overlay=False))
    (masks / "000005.png").unlink()
    with pytest.raises(H2S2RError, match=r"000005\.png: mask missing"):
        run_track_object(ws, TrackObjectConfig(masks=str(masks), overlay=False))


def test_misregistered_capture_is_tracked_after_the_depth_shift(short_box, tmp_path):
    """A capture whose depth sits 12 px beside its colour (the first 10 frames, before the
    hand arrives): as recorded, the poses fit the displaced depth, about 1.5 cm off;
    ``--depth-shift auto`` measures the offset, moves the depth back and tracks to mm."""
    ws = _copy_capture(
        short_box, tmp_path / "ws", lambda i, rgb, d: (rgb, shift_depth(d, (12, 0))), frames=10
    )
    gt = GroundTruth.load(short_box / "ground_truth").T_cam_obj[:10, :3, 3]
    err = {}
    for mode in ("none", "auto"):
        art = run_track_object(ws, TrackObjectConfig(overlay=False, depth_shift=mode))
        err[mode] = float(np.linalg.norm(art.T_cam_obj[:, :3, 3] - gt, axis=1).mean())
        shift = (art.metrics["depth_shift_u_px"], art.metrics["depth_shift_v_px"])
        want = (0, 0) if mode == "none" else (-12, 0)
        assert abs(shift[0] - want[0]) <= 2 and shift[1] == want[1], shift  # even px
        assert art.valid.all()
    assert err["auto"] < 0.005 and err["none"] > 0.01, err
    with pytest.raises(H2S2RError, match=r"--depth-shift '12'.*du,dv"):
        TrackObjectConfig(depth_shift="12")


def test_zero_depth_frames_are_flagged_invalid_not_guessed(short_box, tmp_path):
    def blank(i, rgb, depth):
        return rgb, (np.zeros_like(depth) if i in (7, 8) else depth)

    ws = _copy_capture(short_box, tmp_path / "ws", blank)
    art = run_track_object(ws, TrackObjectConfig(overlay=False))
    assert not art.valid[7] and not art.valid[8]
    assert art.valid[9:].mean() > 0.9  # recovers after the gap
    # Each frame's signals and why it was rejected, in metrics.json and poses.npz.
    m = json.loads((ws / "object_track" / "metrics.json").read_text())
    assert m["frame_00007_gate"] == m["frame_00008_gate"] == GATE_BITS["no_depth"]
    assert m["gate_no_depth_frames"] == 2 and "frame_00007_agreement" not in m
    for i in np.flatnonzero(art.valid):
        assert m[f"frame_{i:05d}_gate"] == 0 and m[f"frame_{i:05d}_agreement"] >= 0.7
        assert m[f"frame_{i:05d}_seen_fraction"] >= 0.15
    assert (ObjectTrack.load(ws / "object_track").quality["gate"][[7, 8]] == 1).all()


def test_missing_object_mesh_and_bad_roi(short_box, tmp_path):
    ws = tmp_path / "ws"
    _copy_capture(short_box, ws)
    import shutil

    shutil.rmtree(ws / "object")
    with pytest.raises(ArtifactError, match="--mesh PATH"):
        run_track_object(ws, TrackObjectConfig(overlay=False))
    with pytest.raises(H2S2RError, match="--roi"):
        TrackerConfig(roi="10,10,5").roi_mask((480, 640))
    with pytest.raises(H2S2RError, match="inside the 640×480 image"):
        TrackerConfig(roi="10,10,700,20").roi_mask((480, 640))


def test_the_deploy_search_is_seeded_with_the_expected_pose():
    """Probe round 8: in ``deploy --sim --camera`` the pose node's whole-view search never
    found the box beside the robot's fingers (depth agreement 0.52-0.70, 60 s, no loop);
    a depth frame of that scene differing by 1 mm in 1 % of its pixels from one where it
    did. Seeded with where the object is expected (the demo's start pose, here up to 3 cm
    and 15° off the truth), the search finds it. (The first version of this fix refined
    only against the points above the table, which the fingers crowd: 2 cm and 10° off
    about one axis ended 24 mm away.)"""
    from h2s2r.core.geometry import so3_exp
    from h2s2r.perception.object_track.tracker import StreamTracker, TrackerConfig

    f = np.load(Path(__file__).parent / "data" / "occluded_start.npz")
    depth, K, truth = f["depth_mm"] * 0.001, f["K"], f["T_cam_obj_start"]
    v = f["vertices"].astype(np.float64)
    tracker = StreamTracker(K, v, f["faces"], TrackerConfig())
    with pytest.raises(H2S2RError, match="object not found in frame 0"):
        tracker.start(depth)  # the whole view alone: this frame misleads it
    rng = np.random.default_rng(7)
    offsets = [(np.radians(10.0) * np.array([0.0, 0.6, 0.8]), np.array([0.02, 0.0, 0.0]))]
    for _ in range(3):
        axis, shift = rng.normal(size=3), rng.normal(size=3)
        offsets.append(
            (
                np.radians(rng.uniform(5, 15)) * axis / np.linalg.norm(axis),
                rng.uniform(0.01, 0.03) * shift / np.linalg.norm(shift),
            )
        )
    for rotvec, shift in offsets:
        prior = truth.copy()
        prior[:3, :3] = truth[:3, :3] @ so3_exp(rotvec)
        prior[:3, 3] += shift
        tracker.start(depth, prior=prior)
        r = tracker.update(depth)  # the pose the node publishes: the first frame, tracked
        assert r.ok
        # The box's corners where they are (a box looks the same turned half round).
        found, true = (v @ T[:3, :3].T + T[:3, 3] for T in (r.T_cam_obj, truth))
        gap = np.linalg.norm(found[:, None] - true[None], axis=-1).min(axis=1)
        assert gap.max() < 0.005, (rotvec, shift, gap)
