"""Artifact round trips, and bad inputs that must fail with the file and the fix named."""

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
    DeployLog,
    EvalResult,
    GroundTruth,
    HandTrack,
    ObjectMesh,
    ObjectTrack,
    PolicyExport,
    Provenance,
    Task,
    TrainRun,
)
from h2s2r.core.errors import ArtifactError, H2S2RError
from h2s2r.core.geometry import T_from_pos_quat, random_quat
from h2s2r.core.workspace import validate_workspace

K = np.array([[60.0, 0, 31.5], [0, 60, 23.5], [0, 0, 1]])  # a 64×48 camera


def _write_capture(folder: Path, n: int = 3, h: int = 48, w: int = 64, depth_m: float = 0.8):
    rng = np.random.default_rng(0)
    with CaptureWriter(folder, K, fps=30.0, source="test", config={"x": 1}) as wr:
        for _ in range(n):
            rgb = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
            jitter = rng.normal(0, 0.01, (h, w)) if depth_m > 0 else 0.0
            wr.add(rgb, np.full((h, w), depth_m) + jitter)
    return folder


def _poses(n, rng):
    return T_from_pos_quat(rng.normal(size=(n, 3)), random_quat(rng, n))


# ----------------------------------------------------------------------------- round trips
def test_capture_round_trip(tmp_path):
    cap = Capture.load(_write_capture(tmp_path / "capture"))
    assert (cap.num_frames, cap.width, cap.height, cap.fps) == (3, 64, 48, 30.0)
    np.testing.assert_allclose(cap.K, K)
    d = cap.read_depth_m(1)
    assert d.dtype == np.float32 and abs(float(np.median(d)) - 0.8) < 0.01
    assert cap.read_rgb(0).shape == (48, 64, 3)
    meta = json.loads((tmp_path / "capture" / "meta.json").read_text())
    assert meta["schema"] == {"name": "capture", "version": 1}
    assert meta["depth_scale_m"] == 0.001 and meta["config"] == {"x": 1}
    cap.verify_frames()
    copy = cap.save(tmp_path / "copy")  # saving elsewhere copies frames
    assert Capture.load(copy.root).frames_digest() == cap.frames_digest()


def test_every_artifact_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    n = 5
    ws = tmp_path
    _write_capture(ws / "capture", n=n)
    prov = Provenance.of_files(ws, [ws / "capture" / "meta.json"], config={"method": "t"})
    v = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1]], float)
    f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    arts = [
        ObjectMesh(vertices=v, faces=f, name="tet", source="test"),
        GroundTruth(
            T_cam_obj=_poses(n, rng),
            hand_keypoints_cam=rng.normal(size=(n, 21, 3)),
            T_base_cam=_poses(1, rng)[0],
            start_idx=2,
            pre_manip_idx=1,
            release_idx=4,
            task="t",
        ),
        Calibration(
            T_base_cam=_poses(1, rng)[0],
            K=K,
            method="test",
            reprojection_rms_px=0.3,
            per_image_rms_px=(0.2, 0.4),
            table_plane_base=np.array([0, 0, 1.0, 0.0]),
        ),
        ObjectTrack(
            T_cam_obj=_poses(n, rng),
            valid=np.array([1, 1, 0, 1, 1], bool),
            quality={"inlier_fraction": rng.random(n)},
            metrics={"fps": 31.0},
            provenance=prov,
        ),
        HandTrack(
            keypoints_cam=rng.normal(size=(n, 21, 3)),
            keypoints_px=rng.normal(size=(n, 21, 2)),
            valid=np.ones(n, bool),
            metrics={"valid_fraction": 1.0},
        ),
        Task(
            t=np.arange(4) / 30,
            object_pos_base=rng.normal(size=(4, 3)),
            object_quat_wxyz_base=random_quat(rng, 4),
            pre_manip_qpos=np.zeros(23),
            T_obj_palm=_poses(1, rng)[0],
            start_idx=2,
            replay_qpos=rng.normal(size=(4, 23)),
            T_base_cam=_poses(1, rng)[0],
            table_height_m=0.02,
            extras={"ik_residual_m": np.zeros(4)},
        ),
        EvalResult(
            metrics={
                "success_rate": 0.9,
                "replay_success_rate": 0.3,
                "object_aware_replay_success_rate": 0.4,
                "tracking_err_mean_m": 0.01,
                "episodes": 100,
            }
        ),
        DeployLog(
            metrics={
                "success": 1,
                "policy_period_jitter_p99_ms": 1.2,
                "latency_p99_ms": 5.0,
                "watchdog_events": 0,
            }
        ),
        PolicyExport(
            header={
                "observation_layout": [],
                "action_semantics": "delta",
                "ctrl_dt_s": 1 / 15,
                "joint_names": ["j"],
                "robot": "r",
            },
            onnx_bytes=b"onnx",
        ),
    ]
    for art in arts:
        art.save(ws / art.FOLDER)
        back = type(art).load(ws / art.FOLDER)
        for name in art.__dataclass_fields__:
            a, b = getattr(art, name), getattr(back, name)
            if isinstance(a, np.ndarray):
                np.testing.assert_allclose(a, b, equal_nan=True, err_msg=f"{art.FOLDER}.{name}")
            elif name == "provenance":
                assert dict(a.upstream) == dict(b.upstream)
            elif isinstance(a, dict) and a and isinstance(next(iter(a.values())), np.ndarray):
                for k in a:
                    np.testing.assert_allclose(a[k], b[k])
            else:
                assert a == b or (isinstance(a, dict) and dict(a) == dict(b)), name
    (ws / "train").mkdir()
    (ws / "train" / "ckpt_000100.pt").write_bytes(b"weights")
    TrainRun(checkpoints=("ckpt_000100.pt",), env_steps=100, wall_time_s=1.0).save(ws / "train")
    assert TrainRun.load(ws / "train").env_steps == 100
    assert set(validate_workspace(ws)) >= {"capture", "object", "ground_truth", "task"}


def test_save_is_byte_reproducible(tmp_path):
    rng = np.random.default_rng(3)
    tr = ObjectTrack(T_cam_obj=_poses(4, rng), valid=np.ones(4, bool), metrics={"fps": 1.0})
    tr.save(tmp_path / "a")
    tr.save(tmp_path / "b")
    for name in ("poses.npz", "meta.json", "metrics.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# ----------------------------------------------------------------------------- bad inputs
def _raises(match: str, fn, *args):
    with pytest.raises(ArtifactError, match=match) as e:
        fn(*args)
    return str(e.value)


def test_missing_cam_K(tmp_path):
    cap = _write_capture(tmp_path / "capture")
    (cap / "cam_K.txt").unlink()
    msg = _raises("cam_K.txt", Capture.load, cap)
    assert "missing" in msg and "--cam-k" in msg


def test_malformed_cam_K(tmp_path):
    cap = _write_capture(tmp_path / "capture")
    (cap / "cam_K.txt").write_text("600 0 320\n0 600 240\n")
    assert "3 rows of 3" in _raises("cam_K.txt", Capture.load, cap)


def test_float_depth_is_refused_with_the_fix(tmp_path):
    cap = _write_capture(tmp_path / "capture")
    (cap / "depth" / "000002.png").unlink()
    Image.fromarray(np.full((48, 64), 0.8, np.float32)).save(cap / "depth" / "000002.tiff")
    msg = _raises("000002.tiff", Capture.load, cap)
    assert "uint16" in msg and "--depth-scale" in msg


def test_8bit_depth_png_is_refused(tmp_path):
    cap = _write_capture(tmp_path / "capture")
    Image.fromarray(np.full((48, 64), 80, np.uint8)).save(cap / "depth" / "000001.png")
    msg = _raises("depth/000001.png", Capture.load, cap)
    assert "uint8" in msg and "uint16 millimetres" in msg and "--depth-scale" in msg


def test_frame_count_mismatch(tmp_path):
    cap = _write_capture(tmp_path / "capture", n=4)
    (cap / "depth" / "000003.png").unlink()
    assert "counts must match" in _raises("3 depth frames", Capture.load, cap)


def test_frame_missing_in_the_middle(tmp_path):
    cap = _write_capture(tmp_path / "capture", n=4)
    (cap / "rgb" / "000001.png").unlink()
    (cap / "depth" / "000001.png").unlink()
    assert "without gaps" in _raises("rgb/000001.png", Capture.load, cap)


def test_wrong_depth_units(tmp_path):
    cap = _write_capture(tmp_path / "capture", depth_m=0.8)
    meta = json.loads((cap / "meta.json").read_text())
    meta["depth_scale_m"] = 0.0001  # the data are mm, the header says 0.1 mm
    (cap / "meta.json").write_text(json.dumps(meta))
    msg = _raises("wrong depth units", Capture.load, cap)
    assert "depth/000000.png" in msg and "--depth-scale" in msg


def test_all_zero_depth(tmp_path):
    cap = _write_capture(tmp_path / "capture", depth_m=0.0)
    assert "no valid depth" in _raises("depth", Capture.load, cap)


def test_empty_folders(tmp_path):
    (tmp_path / "capture" / "rgb").mkdir(parents=True)
    (tmp_path / "capture" / "depth").mkdir()
    (tmp_path / "capture" / "cam_K.txt").write_text("600 0 320\n0 600 240\n0 0 1\n")
    _raises("meta.json", Capture.load, tmp_path / "capture")
    with pytest.raises(ArtifactError, match="holds no artifact folder"):
        validate_workspace(tmp_path / "capture" / "rgb")
    with pytest.raises(ArtifactError, match="does not exist"):
        ObjectTrack.load(tmp_path / "nothing")


def test_nan_poses_are_refused_unless_flagged_invalid(tmp_path):
    rng = np.random.default_rng(0)
    T = _poses(4, rng)
    T[2] = np.nan
    with pytest.raises(ArtifactError, match="NaN") as e:
        ObjectTrack(T_cam_obj=T, valid=np.ones(4, bool)).save(tmp_path / "object_track")
    assert "poses.npz" in str(e.value) and "flagged invalid" in str(e.value)
    ObjectTrack(T_cam_obj=T, valid=np.array([1, 1, 0, 1], bool)).save(tmp_path / "ok")
    assert not ObjectTrack.load(tmp_path / "ok").valid[2]


def test_non_rigid_pose_is_refused(tmp_path):
    T = np.tile(np.eye(4), (3, 1, 1))
    T[1, :3, :3] *= 2.0
    with pytest.raises(ArtifactError, match="not a rigid transform"):
        ObjectTrack(T_cam_obj=T, valid=np.ones(3, bool)).save(tmp_path / "t")


def test_mesh_in_millimetres_suggests_scale(tmp_path):
    v = np.array([[0, 0, 0], [100, 0, 0], [0, 100, 0], [0, 0, 100]], float)
    f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    with pytest.raises(ArtifactError, match=r"--mesh-scale 0\.001"):
        ObjectMesh(vertices=v, faces=f).save(tmp_path / "object")


def test_tampered_payload_and_wrong_schema(tmp_path):
    rng = np.random.default_rng(0)
    ObjectTrack(T_cam_obj=_poses(3, rng), valid=np.ones(3, bool)).save(tmp_path / "object_track")
    with pytest.raises(ArtifactError, match="holds a 'object_track' artifact"):
        HandTrack.load(tmp_path / "object_track")
    shutil.copy(tmp_path / "object_track" / "poses.npz", tmp_path / "p.npz")
    ObjectTrack(T_cam_obj=_poses(3, rng), valid=np.ones(3, bool)).save(tmp_path / "other")
    shutil.copy(tmp_path / "other" / "poses.npz", tmp_path / "object_track" / "poses.npz")
    msg = _raises("changed after it was written", ObjectTrack.load, tmp_path / "object_track")
    assert "h2s2r track-object" in msg


def test_stale_upstream_is_detected(tmp_path):
    ws = tmp_path
    _write_capture(ws / "capture")
    prov = Provenance.of_files(ws, [ws / "capture" / "cam_K.txt"])
    rng = np.random.default_rng(0)
    ObjectTrack(T_cam_obj=_poses(3, rng), valid=np.ones(3, bool), provenance=prov).save(
        ws / "object_track"
    )
    assert ObjectTrack.load(ws / "object_track").provenance.upstream == {
        "capture/cam_K.txt": prov.upstream["capture/cam_K.txt"]
    }
    (ws / "capture" / "cam_K.txt").write_text("610 0 320\n0 610 240\n0 0 1\n")
    assert "is stale" in _raises("capture/cam_K.txt", ObjectTrack.load, ws / "object_track")


def test_newer_schema_version_asks_for_upgrade(tmp_path):
    rng = np.random.default_rng(0)
    ObjectTrack(T_cam_obj=_poses(3, rng), valid=np.ones(3, bool)).save(tmp_path / "t")
    meta = json.loads((tmp_path / "t" / "meta.json").read_text())
    meta["schema"]["version"] = 99
    (tmp_path / "t" / "meta.json").write_text(json.dumps(meta))
    _raises("upgrade h2s2r", ObjectTrack.load, tmp_path / "t")


def test_workspace_frame_count_cross_check(tmp_path):
    rng = np.random.default_rng(0)
    _write_capture(tmp_path / "capture", n=3)
    ObjectTrack(T_cam_obj=_poses(5, rng), valid=np.ones(5, bool)).save(tmp_path / "object_track")
    with pytest.raises(H2S2RError, match="has 5 frames but capture/ has 3"):
        validate_workspace(tmp_path)


def _task(rng) -> Task:
    n = 5
    return Task(
        t=np.arange(n) / 30,
        object_pos_base=rng.normal(size=(n, 3)),
        object_quat_wxyz_base=random_quat(rng, n),
        pre_manip_qpos=np.zeros(23),
        T_obj_palm=T_from_pos_quat([0, 0, 0.1], [1, 0, 0, 0]),
        start_idx=2,
        replay_qpos=rng.normal(size=(n, 23)),
        T_base_cam=T_from_pos_quat([1.2, 0, 0.6], [0, 0, 1, 0]),
        table_height_m=0.02,
        extras={"frames": np.arange(n)},
    )


def _as_schema_1(folder: Path, drop: str | None = None) -> None:
    """Rewrite a saved task/ as schema 1 wrote it: the typed fields among the extras."""
    from h2s2r.core.artifacts.base import save_npz, sha256_file

    path = folder / Task.FILE
    with np.load(path) as z:
        d = {k: z[k] for k in z.files}
    for key in ("replay_qpos", "T_base_cam", "table_height_m"):
        value = d.pop(key)
        if key != drop:
            d[f"extra_{key}"] = value
    save_npz(path, d)
    meta = json.loads((folder / "meta.json").read_text())
    meta["schema"]["version"] = 1
    meta["files"][Task.FILE] = sha256_file(path)
    (folder / "meta.json").write_text(json.dumps(meta))


def test_task_fields_are_typed_and_schema_1_still_loads(tmp_path):
    task = _task(np.random.default_rng(0))
    task.save(tmp_path / "task")
    loaded = Task.load(tmp_path / "task")
    np.testing.assert_array_equal(loaded.replay_qpos, task.replay_qpos)
    np.testing.assert_array_equal(loaded.T_base_cam, task.T_base_cam)
    assert loaded.table_height_m == 0.02 and set(loaded.extras) == {"frames"}
    _as_schema_1(tmp_path / "task")
    old = Task.load(tmp_path / "task")
    np.testing.assert_array_equal(old.replay_qpos, task.replay_qpos)
    assert old.table_height_m == 0.02 and set(old.extras) == {"frames"}


@pytest.mark.parametrize("missing", ["table_height_m", "replay_qpos", "T_base_cam"])
def test_task_without_a_typed_field_fails_loudly(tmp_path, missing):
    """Schema 1 files from before these were written (table height once defaulted to 0 m
    silently) are refused with the field named and the command that rewrites them."""
    _task(np.random.default_rng(0)).save(tmp_path / "task")
    _as_schema_1(tmp_path / "task", drop=missing)
    with pytest.raises(ArtifactError, match=rf"lacks \['{missing}'\].*h2s2r retarget"):
        Task.load(tmp_path / "task")


def test_task_replay_must_match_the_path(tmp_path):
    task = _task(np.random.default_rng(0))
    bad = Task(**{**task.__dict__, "replay_qpos": task.replay_qpos[:3]})
    with pytest.raises(ArtifactError, match=r"replay_qpos must be \(M, n\) = \(5, 23\)"):
        bad.save(tmp_path / "task")
    bad = Task(**{**task.__dict__, "table_height_m": float("nan")})
    with pytest.raises(ArtifactError, match="table_height_m has NaN"):
        bad.save(tmp_path / "task")
