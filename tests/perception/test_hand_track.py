"""Hand tracking: MediaPipe on real photos, depth lifting against ground truth, readers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from h2s2r.core.artifacts import Capture, GroundTruth, HandTrack
from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import project_points
from h2s2r.perception.hand_track.lift import lift_hand
from h2s2r.perception.hand_track.mediapipe_hand import HandDetector, resolve_model
from h2s2r.perception.hand_track.stage import HAMER_KEYS, TrackHandConfig, run_track_hand
from tests.conftest import SHARED_DATA

MODEL = SHARED_DATA / "models" / "hand_landmarker.task"
PHOTOS = sorted((SHARED_DATA / "hands").glob("*/*.png"))


@pytest.fixture(scope="module")
def detector():
    with HandDetector(MODEL, video=False) as det:
        yield det


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.name)
def test_finds_the_right_hand_in_real_photos(photo, detector):
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    hands = detector.detect(rgb)
    ref = json.loads(photo.with_suffix("").with_suffix(".mediapipe.json").read_text())
    assert hands, "no hand found"
    h = max(hands, key=lambda x: x.score)
    assert h.handedness == "right"  # the true hand, camera not mirrored
    assert h.px.shape == (21, 2) and h.world.shape == (21, 3)
    # Relative 3D landmarks have human proportions: wrist to middle knuckle 5–12 cm.
    assert 0.05 < np.linalg.norm(h.world[9] - h.world[0]) < 0.12
    assert ref  # the recorded reference exists next to the photo


def _lift_inputs(ws: Path, frame: int):
    cap = Capture.load(ws / "capture")
    gt = GroundTruth.load(ws / "ground_truth")
    kp = gt.hand_keypoints_cam[frame]
    px = project_points(cap.K, kp)
    world = kp - kp.mean(axis=0)  # metric shape, camera-aligned, as MediaPipe gives it
    return cap, kp, px, world


@pytest.mark.parametrize("frame", [5, 16, 30])
def test_depth_lifting_recovers_ground_truth(synth_can, frame):
    """Given the 2D keypoints and relative shape, the depth fit finds the hand (±1.5 cm),
    although fingers on the can are hidden and its depth is the can's."""
    cap, kp, px, world = _lift_inputs(synth_can, frame)
    res = lift_hand(px, world * 1.1, cap.read_depth_m(frame), cap.K)  # shape 10 % too big
    assert res is not None
    err = np.linalg.norm(res.keypoints_cam - kp, axis=1)
    assert err.mean() < 0.015, err
    bone = np.linalg.norm(res.keypoints_cam[9] - res.keypoints_cam[0])
    assert 0.07 < bone < 0.11  # human wrist-to-middle-knuckle on depth-backed data


def test_lifting_rejects_occluded_keypoints(synth_box):
    cap, kp, px, world = _lift_inputs(synth_box, 20)
    depth = cap.read_depth_m(20).copy()
    for u, v in np.rint(px[[8, 12, 16]]).astype(int):  # an object 10 cm in front of 3 tips
        depth[v - 3 : v + 4, u - 3 : u + 4] -= 0.10
    res = lift_hand(px, world, depth, cap.K)
    assert np.linalg.norm(res.keypoints_cam - kp, axis=1).mean() < 0.015


def test_no_depth_under_the_hand_gives_no_lift(synth_box):
    cap, _, px, world = _lift_inputs(synth_box, 20)
    assert lift_hand(px, world, np.zeros((cap.height, cap.width)), cap.K) is None


def _private(ws: Path, tmp_path: Path) -> Path:
    """A copy of a shared demo, so that writing hand_track/ leaves the fixture alone."""
    import shutil

    for d in ("capture", "object", "ground_truth"):
        shutil.copytree(ws / d, tmp_path / "ws" / d)
    return tmp_path / "ws"


def test_mediapipe_track_on_synthetic_demo(synth_can, tmp_path):
    synth_can = _private(synth_can, tmp_path)
    art = run_track_hand(synth_can, TrackHandConfig(model=str(MODEL)))
    m = art.metrics
    # The capsule hand is not a photograph: MediaPipe finds it as a right hand in about half
    # the frames, and the lifted keypoints land within a few centimetres (measured: 3–3.5 cm
    # mean, partly because its joint conventions differ from the capsule hand's sites).
    assert m["detected_fraction"] > 0.3 and m["valid_fraction"] > 0.3
    assert m["keypoint_err_mean_m"] < 0.05
    assert 0.07 < m["wrist_to_middle_mcp_m"] < 0.11
    loaded = HandTrack.load(synth_can / "hand_track")
    assert loaded.handedness == "right" and loaded.present.all()
    assert np.isnan(loaded.keypoints_cam[~loaded.valid]).all()
    # One hand for the whole video: every valid frame has the same bones, and the size is
    # the capsule hand's within 5 % (measured: 18.34 cm against 18.83 cm).
    from h2s2r.perception.hand_track.skeleton import bone_lengths, hand_length

    true_len = hand_length(
        bone_lengths(GroundTruth.load(synth_can / "ground_truth").hand_keypoints_cam[0])
    )
    assert abs(m["hand_length_m"] / true_len - 1) < 0.05
    assert m["bone_length_spread_m"] < 1e-9
    # The gate's per-frame code and signals are in the artifact and in metrics.json.
    gate = loaded.quality["gate"]
    assert (loaded.valid == (gate == 0)).all() and loaded.gate_bits["no_hand"] == 1
    n = len(gate)
    assert all(m[f"frame_{i:05d}_gate"] == gate[i] for i in range(n))
    for i in np.nonzero(gate != 1)[0]:  # a hand was found: MediaPipe's score is reported
        assert 0 < m[f"frame_{i:05d}_mediapipe_score"] <= 1
    for i in np.nonzero(loaded.valid)[0]:  # and for a lifted hand the fit's signals
        for k in ("reproj_rms_px", "depth_inliers", "frame_size_ratio"):
            assert np.isfinite(m[f"frame_{i:05d}_{k}"])
    assert sum(m[f"gate_{k}_frames"] for k in ("no_hand",)) == (gate == 1).sum()


def test_ground_truth_and_hamer_readers(synth_box, tmp_path, capsys):
    synth_box = _private(synth_box, tmp_path)
    art = run_track_hand(synth_box, TrackHandConfig(method="ground-truth"))
    assert art.valid.all() and art.method == "ground-truth"
    assert capsys.readouterr().err == ""
    # Probe round 11: --hand left was ignored without a word.
    run_track_hand(synth_box, TrackHandConfig(method="ground-truth", hand="left"))
    assert "note: --hand left ignored: the synthetic demo's one hand" in capsys.readouterr().err
    gt = GroundTruth.load(synth_box / "ground_truth")
    out = tmp_path / "hamer"
    out.mkdir()
    names = {0: "wrist", 5: "index_0", 9: "middle_0", 13: "ring_0"}
    for i in (3, 4, 6):  # frame 5: HaMeR found no hand
        frame = {}
        for k, keys in HAMER_KEYS.items():
            for key in keys:
                frame[key] = gt.hand_keypoints_cam[i, k].tolist()
        frame["global_orient"] = np.eye(3).tolist()
        (out / f"{i:05d}.json").write_text(json.dumps(frame))
    art = run_track_hand(synth_box, TrackHandConfig(method="hamer", hamer_output=str(out)))
    assert art.valid.tolist()[3:7] == [True, True, False, True]
    assert art.present.sum() == 8 and all(art.present[k] for k in names)
    np.testing.assert_allclose(art.keypoints_cam[4, 8], gt.hand_keypoints_cam[4, 8], atol=1e-9)
    (out / "00004.json").write_text(json.dumps({"wrist_back": [0, 0, 1]}))
    with pytest.raises(H2S2RError, match=r"00004\.json: lacks key"):
        run_track_hand(synth_box, TrackHandConfig(method="hamer", hamer_output=str(out)))


def test_model_resolution_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("H2S2R_HAND_MODEL", raising=False)
    monkeypatch.setattr("perception.hand_track.mediapipe_hand.CACHE_PATH", tmp_path / "none")
    with pytest.raises(H2S2RError, match=r"hand_landmarker\.task"):
        resolve_model(None)
    with pytest.raises(
        H2S2RError, match=r"missing\.task: .*--model does not exist — .*--model PATH"
    ):
        resolve_model(str(tmp_path / "missing.task"))
    # Probe round 7: the variable pointing nowhere was named, but not what to do.
    monkeypatch.setenv("H2S2R_HAND_MODEL", str(tmp_path / "no_such" / "hand_landmarker.task"))
    with pytest.raises(H2S2RError) as e:
        resolve_model(None)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path / 'no_such' / 'hand_landmarker.task'}: ")
    assert "set H2S2R_HAND_MODEL to the path of the official hand_landmarker.task" in msg
    assert "unset H2S2R_HAND_MODEL" in msg and "or pass --model PATH" in msg
    assert resolve_model(str(MODEL)) == MODEL  # --model wins over the variable
    monkeypatch.setenv("H2S2R_HAND_MODEL", str(MODEL))
    assert resolve_model(None) == MODEL


def test_no_hand_in_any_frame(tmp_path):
    from h2s2r.core.artifacts import CaptureWriter

    K = np.array([[600.0, 0, 319.5], [0, 600, 239.5], [0, 0, 1]])
    with CaptureWriter(tmp_path / "capture", K, fps=30) as w:
        for _ in range(3):
            w.add(np.full((480, 640, 3), 120, np.uint8), np.full((480, 640), 0.8))
    with pytest.raises(H2S2RError, match="no hand found in any of the 3 frames"):
        run_track_hand(tmp_path, TrackHandConfig(model=str(MODEL)))


def test_left_hand_only_is_reported(tmp_path):
    """A mirrored photo of a right hand is a left hand: the robot's right hand cannot use it."""
    from h2s2r.core.artifacts import CaptureWriter

    photo = SHARED_DATA / "hands" / "lacny_teleop" / "open_hand-0.png"
    rgb = np.ascontiguousarray(np.asarray(Image.open(photo).convert("RGB"))[:, ::-1])
    K = np.array([[600.0, 0, 319.5], [0, 600, 239.5], [0, 0, 1]])
    with CaptureWriter(tmp_path / "capture", K, fps=30) as w:
        for _ in range(3):
            w.add(rgb, np.full(rgb.shape[:2], 0.6))
    with pytest.raises(H2S2RError, match="only a left hand was seen"):
        run_track_hand(tmp_path, TrackHandConfig(model=str(MODEL)))


def _hamer_json(ws: Path, out: Path, frames, scale: float = 1.0) -> Path:
    """hamer_depth-style per-frame JSON from a synthetic demo's true hand, times ``scale``."""
    gt = GroundTruth.load(ws / "ground_truth")
    out.mkdir()
    for i in frames:
        frame = {
            key: (scale * gt.hand_keypoints_cam[i, k]).tolist()
            for k, keys in HAMER_KEYS.items()
            for key in keys
        }
        (out / f"{i:05d}.json").write_text(json.dumps(frame))
    return out


def test_hamer_keypoints_in_millimetres_are_refused(synth_box, tmp_path):
    """Round-4 probe: hamer_depth JSON converted to millimetres gave a 94 m hand (exit 0);
    retarget then blamed the calibration. track-hand refuses it, naming the folder and
    the unit, and leaves the earlier hand_track/ in place."""
    ws = _private(synth_box, tmp_path)
    run_track_hand(ws, TrackHandConfig(method="ground-truth"))
    before = (ws / "hand_track" / "keypoints.npz").read_bytes()
    mm = _hamer_json(ws, tmp_path / "hamer_mm", range(10), scale=1000.0)
    with pytest.raises(H2S2RError, match=r"hamer_mm: .*millimetres.*not metres") as e:
        run_track_hand(ws, TrackHandConfig(method="hamer", hamer_output=str(mm)))
    assert "\n" not in str(e.value)
    assert (ws / "hand_track" / "keypoints.npz").read_bytes() == before
    metres = _hamer_json(ws, tmp_path / "hamer_m", range(10))  # the same data in metres
    art = run_track_hand(ws, TrackHandConfig(method="hamer", hamer_output=str(metres)))
    assert 0.07 < art.metrics["wrist_to_middle_mcp_m"] < 0.11


@pytest.mark.parametrize(
    ("method", "names"),
    [("ground-truth", r"ground_truth"), ("mediapipe", r"capture.*depth")],
)
def test_an_implausible_hand_size_is_refused_for_every_method(method, names, tmp_path):
    from h2s2r.perception.hand_track.stage import HAND_SIZE_RANGE_M, check_hand_size

    cfg = TrackHandConfig(method=method)
    check_hand_size(np.array([0.09, 0.095, 0.1]), cfg, tmp_path)  # an adult's: passes
    check_hand_size(np.array(HAND_SIZE_RANGE_M), cfg, tmp_path)  # the bounds pass
    for wrong in (9.4, 0.0095):  # ×100 (centimetres), ÷10
        with pytest.raises(H2S2RError, match=rf"{names}.*not a human hand's 4–20 cm"):
            check_hand_size(np.full(5, wrong), cfg, tmp_path)


def test_the_real_hand_video_has_a_plausible_hand_size():
    """The bounds are generous: every frame of a real (MediaPipe-estimated) hand passes."""
    from h2s2r.perception.hand_track.stage import HAND_SIZE_RANGE_M

    joints = np.load(SHARED_DATA / "hand_keypoints" / "human_joint_right.npz")["joints"]
    bone = np.linalg.norm(joints[:, 9] - joints[:, 0], axis=1)
    lo, hi = HAND_SIZE_RANGE_M
    assert lo < bone.min() and bone.max() < hi


def test_a_hand_track_from_before_the_gate_still_loads(tmp_path):
    """Workspaces written before the gate have no quality arrays: they load, with no gate
    reason; a quality array of the wrong length is refused naming the file."""
    from h2s2r.core.errors import ArtifactError
    from h2s2r.perception.hand_track.skeleton import GATE_BITS

    n = 4
    kp = np.zeros((n, 21, 3)) + np.arange(21)[None, :, None] * 0.01
    old = HandTrack(keypoints_cam=kp, keypoints_px=kp[..., :2], valid=np.ones(n, bool))
    old.save(tmp_path / "old")
    loaded = HandTrack.load(tmp_path / "old")
    assert loaded.quality == {} and loaded.gate_reason(2) == ""
    valid = np.array([True, False, True, True])
    gate = np.where(valid, 0, GATE_BITS["joint_angle"] | GATE_BITS["frame_size"])
    kp_new = np.where(valid[:, None, None], kp, np.nan)
    HandTrack(
        keypoints_cam=kp_new,
        keypoints_px=kp[..., :2],
        valid=valid,
        quality={"gate": gate},
        gate_bits=GATE_BITS,
    ).save(tmp_path / "new")
    assert HandTrack.load(tmp_path / "new").gate_reason(1) == "joint_angle+frame_size"
    with pytest.raises(ArtifactError, match=r"keypoints\.npz.*quality_gate"):
        HandTrack(
            keypoints_cam=kp,
            keypoints_px=kp[..., :2],
            valid=np.ones(n, bool),
            quality={"gate": np.zeros(n + 1)},
        ).save(tmp_path / "bad")


def test_every_hand_implausible_is_one_line_with_the_reasons(tmp_path):
    """A video whose every detection fails the gate stops track-hand in one line with the
    frames per reason; a size far off keeps the unit message of check_hand_size."""
    from h2s2r.perception.hand_track.skeleton import GATE_BITS
    from h2s2r.perception.hand_track.stage import _refuse_all_gated

    cfg = TrackHandConfig()
    gate = np.array([GATE_BITS["no_hand"], GATE_BITS["joint_angle"], GATE_BITS["frame_size"]])
    valid = np.zeros(3, bool)
    bones = np.full(20, 0.03)
    bones[[8, 9, 10, 11]] = [0.094, 0.045, 0.028, 0.021]
    with pytest.raises(H2S2RError) as e:
        _refuse_all_gated(valid, gate, np.array([0.094]), cfg, tmp_path, bones)
    msg = str(e.value)
    assert "\n" not in msg and "found in 2 frames" in msg
    assert "joint_angle 1, frame_size 1" in msg and "--frame-size-tolerance" in msg
    with pytest.raises(H2S2RError, match=r"capture.*far too large.*depth_scale_m"):
        _refuse_all_gated(valid, gate, np.array([0.94]), cfg, tmp_path, bones * 10)
    _refuse_all_gated(np.array([False, True, False]), gate, None, cfg, tmp_path, bones)


def test_min_detection_is_a_fraction_checked_before_mediapipe(tmp_path):
    """Probe round 8 (track_hand_min_detection_percent): ``--min-detection 50`` reached
    MediaPipe, whose refusal was reported as a broken model file (download it again)."""
    from h2s2r.core.config import apply_overrides

    want = r"^--min-detection must be in \[0, 1\] \(a fraction; "
    for bad in (50, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match=want):
            TrackHandConfig(min_detection=bad)
    with pytest.raises(ValueError) as e:
        TrackHandConfig(min_detection=50)
    assert str(e.value) == "--min-detection must be in [0, 1] (a fraction; 50 % is 0.5), got 50"
    with pytest.raises(H2S2RError, match=r"^my\.yaml: --min-detection must be in \[0, 1\]"):
        apply_overrides(TrackHandConfig(), {"min_detection": 80}, "my.yaml")
    assert TrackHandConfig(min_detection=0.0).min_detection == 0.0
    assert TrackHandConfig(min_detection=1).min_detection == 1


def test_only_model_loading_errors_blame_the_model_file(tmp_path):
    """HandDetector's catch-all blamed the model file for any MediaPipe error; an option
    MediaPipe refuses is now reported as what it is, a broken file still blames the file."""
    with pytest.raises(H2S2RError) as e:
        HandDetector(MODEL, min_detection=50)
    msg = str(e.value)
    assert "min_detection_confidence" in msg and "\n" not in msg
    assert "not a MediaPipe" not in msg and "download" not in msg.lower()
    page = tmp_path / "hand_landmarker.task"
    page.write_text("<html>Not Found</html>")
    with pytest.raises(H2S2RError, match=r"hand_landmarker\.task: not a MediaPipe .*download"):
        HandDetector(page)


def test_hamer_keypoints_off_the_camera_are_invalid_and_refused_when_most_are(synth_box, tmp_path):
    """Probe round 8 (track_hand_hamer_opengl): hamer_depth JSON in OpenGL camera axes
    (y up, z backwards: the hand behind the camera) was imported with 100 % valid frames.
    Each frame's keypoints are now checked against the camera (z > 0, on the image, at the
    depth measured there); a frame that fails is invalid with its reason, and when most
    fail the import is refused naming --hamer-output and the likely cause."""
    from h2s2r.perception.hand_track.skeleton import GATE_BITS

    ws = _private(synth_box, tmp_path)
    run_track_hand(ws, TrackHandConfig(method="ground-truth"))
    before = (ws / "hand_track" / "keypoints.npz").read_bytes()

    def rewrite(folder: Path, frames, change) -> None:
        for i in frames:
            f = folder / f"{i:05d}.json"
            f.write_text(json.dumps({k: change(v) for k, v in json.loads(f.read_text()).items()}))

    gl = _hamer_json(ws, tmp_path / "hamer_gl", range(10))
    rewrite(gl, range(10), lambda v: [v[0], -v[1], -v[2]])
    with pytest.raises(H2S2RError) as e:
        run_track_hand(ws, TrackHandConfig(method="hamer", hamer_output=str(gl)))
    msg = str(e.value)
    assert msg.startswith(f"--hamer-output {gl}: the keypoints of only 0 of 10 frames")
    assert "behind_camera 10" in msg and "OpenGL camera axes" in msg
    assert "negate y and z" in msg and "\n" not in msg
    assert (ws / "hand_track" / "keypoints.npz").read_bytes() == before
    # Keypoints 30 cm behind the hand the depth image shows (another capture, say).
    far = _hamer_json(ws, tmp_path / "hamer_far", range(10))
    rewrite(far, range(10), lambda v: [v[0], v[1], v[2] + 0.3])
    with pytest.raises(H2S2RError, match=r"--hamer-output .*hamer_far: .*depth_mismatch 10"):
        run_track_hand(ws, TrackHandConfig(method="hamer", hamer_output=str(far)))
    # A few frames off the camera: those frames invalid, with their reason; the rest kept.
    few = _hamer_json(ws, tmp_path / "hamer_few", range(10))
    rewrite(few, (2, 7), lambda v: [v[0], -v[1], -v[2]])
    rewrite(few, (4,), lambda v: [v[0] + 5.0, v[1], v[2]])  # 5 m to the right: off the image
    art = run_track_hand(ws, TrackHandConfig(method="hamer", hamer_output=str(few)))
    assert np.flatnonzero(art.valid[:10]).tolist() == [0, 1, 3, 5, 6, 8, 9]
    gate = art.quality["gate"]
    assert gate[2] == gate[7] == GATE_BITS["behind_camera"]
    assert gate[4] == GATE_BITS["off_image"] and art.gate_reason(4) == "off_image"
    ratio = art.quality["depth_ratio"][[0, 1, 3, 5, 6, 8, 9]]
    assert np.all(np.abs(ratio - 1) < 0.05)
