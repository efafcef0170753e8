"""Synthetic demos: valid workspaces, exact ground truth, reproducible bytes, sensor noise."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import binary_erosion

from h2s2r.core.artifacts import Capture, GroundTruth, ObjectMesh
from h2s2r.core.geometry import T_inv, backproject_depth, transform_points
from h2s2r.core.workspace import validate_workspace
from h2s2r.sim.synth import SynthConfig, run_synth
from h2s2r.sim.synth.hand import FINGER_GEOMETRY
from h2s2r.sim.synth.synth import Timeline, sample_camera
from h2s2r.sim.synth.tasks import BOX_SIZE, CAN_HEIGHT, CAN_RADIUS


def _surface_distance(task: str, p_obj: np.ndarray) -> np.ndarray:
    """|signed distance| of object-frame points to the analytic object surface (m)."""
    if task == "box_push":
        q = np.abs(p_obj) - np.asarray(BOX_SIZE) / 2
        outside = np.linalg.norm(np.maximum(q, 0), axis=1)
        return np.abs(outside + np.minimum(q.max(axis=1), 0))
    r = np.linalg.norm(p_obj[:, :2], axis=1) - CAN_RADIUS
    a = np.abs(p_obj[:, 2]) - CAN_HEIGHT / 2
    q = np.stack([r, a], axis=1)
    return np.abs(np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0))


@pytest.mark.parametrize("fixture", ["synth_box", "synth_can"])
def test_synth_workspace_validates(fixture, request):
    ws: Path = request.getfixturevalue(fixture)
    loaded = validate_workspace(ws)
    assert set(loaded) == {"capture", "object", "ground_truth"}
    cap, gt = loaded["capture"], loaded["ground_truth"]
    assert (cap.width, cap.height, cap.fps, cap.num_frames) == (640, 480, 30.0, 40)
    assert gt.num_frames == 40 and gt.handedness == "right"
    mesh = loaded["object"]
    assert isinstance(mesh, ObjectMesh) and mesh.extents_m.max() < 0.25


@pytest.mark.parametrize(
    ("fixture", "task"), [("synth_box", "box_push"), ("synth_can", "can_lift")]
)
def test_backprojected_object_pixels_match_ground_truth(fixture, task, request):
    """Object pixels (found by colour), lifted with depth and K, lie on the posed mesh."""
    ws: Path = request.getfixturevalue(fixture)
    cap = Capture.load(ws / "capture")
    gt = GroundTruth.load(ws / "ground_truth")
    for i in (0, gt.start_idx + 3, (gt.start_idx + gt.release_idx) // 2, cap.num_frames - 1):
        rgb = cap.read_rgb(i).astype(np.float32)
        mask = (rgb[..., 0] > 1.8 * rgb[..., 1]) & (rgb[..., 0] > 1.8 * rgb[..., 2])
        mask &= rgb[..., 0] > 40
        mask = binary_erosion(mask, iterations=2)  # away from silhouette edges
        depth = cap.read_depth_m(i)
        mask &= depth > 0
        assert mask.sum() > 200, f"frame {i}: object barely visible ({mask.sum()} px)"
        pts_cam = backproject_depth(cap.K, depth)[mask]
        d = _surface_distance(task, transform_points(T_inv(gt.T_cam_obj[i]), pts_cam))
        assert np.median(d) < 0.001 and np.percentile(d, 95) < 0.002, (
            f"frame {i}: median {np.median(d) * 1e3:.2f} mm, p95 "
            f"{np.percentile(d, 95) * 1e3:.2f} mm"
        )


def test_ground_truth_timeline_and_hand(synth_box):
    gt = GroundTruth.load(synth_box / "ground_truth")
    T = gt.T_cam_obj
    tl = Timeline.of(gt.num_frames)
    assert (gt.start_idx, gt.release_idx) == (tl.start, tl.release)
    assert gt.pre_manip_idx == gt.start_idx - 1
    moved = np.linalg.norm(T[:, :3, 3] - T[0, :3, 3], axis=1)
    assert np.all(moved[: gt.start_idx] == 0.0)  # at rest up to the pre-manipulation frame
    assert moved[gt.start_idx] > 0.0005  # visibly moving in the first frame of motion
    assert abs(moved[-1] - 0.25) < 1e-6  # pushed 0.25 m
    assert np.all(moved[gt.release_idx - 1 :] == moved[-1])  # at rest after the release
    kp = gt.hand_keypoints_cam
    wrist_to_middle = np.linalg.norm(kp[:, 9] - kp[:, 0], axis=1)
    expected = np.linalg.norm(FINGER_GEOMETRY["middle"].mcp_pos)
    np.testing.assert_allclose(wrist_to_middle, expected, atol=1e-6)  # rigid
    assert 0.07 < expected < 0.11  # adult wrist to middle knuckle
    # At the pre-manipulation frame the palm touches the object: the middle knuckle is
    # within a few cm of the box surface.
    p_obj = transform_points(T_inv(T[gt.pre_manip_idx]), kp[gt.pre_manip_idx])
    assert _surface_distance("box_push", p_obj[[5, 9, 13]]).max() < 0.03


def test_can_is_lifted_and_placed(synth_can):
    gt = GroundTruth.load(synth_can / "ground_truth")
    T_base_obj = gt.T_base_cam @ gt.T_cam_obj
    z = T_base_obj[:, 2, 3]
    assert abs(z[0] - CAN_HEIGHT / 2) < 1e-9
    assert abs((z.max() - z[0]) - 0.15) < 0.005
    assert abs(z[-1] - z[0]) < 1e-9
    assert abs(np.linalg.norm(T_base_obj[-1, :2, 3] - T_base_obj[0, :2, 3]) - 0.10) < 1e-6


def test_same_seed_same_bytes(tmp_path):
    def digest(ws: Path) -> dict[str, str]:
        return {
            str(p.relative_to(ws)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(ws.rglob("*"))
            if p.is_file()
        }

    cfg = SynthConfig(task="box_push", seed=11, frames=30, noise=True)
    a = digest(run_synth(cfg, tmp_path / "a"))
    b = digest(run_synth(cfg, tmp_path / "b"))
    # frames, cam_K, mesh, gt.npz, 3 meta.json, 3 lists of the files written
    assert a == b and len(a) == 2 * 30 + 6 + 3
    c = digest(run_synth(SynthConfig(task="box_push", seed=12, frames=30), tmp_path / "c"))
    assert a["capture/rgb/000000.png"] != c["capture/rgb/000000.png"]


def test_camera_pose_range_over_seeds():
    cfg = SynthConfig()
    target = np.array([0.6, 0.0, 0.03])
    for seed in range(50):
        T = sample_camera(cfg, np.random.default_rng(seed), target)
        offset = T[:3, 3] - target
        dist = np.linalg.norm(offset)
        elevation = np.degrees(np.arcsin(offset[2] / dist))
        assert 0.6 <= dist <= 1.2 and 30.0 <= elevation <= 60.0
        assert np.linalg.norm(transform_points(T_inv(T), target[None])[0, :2]) < 1e-9


def test_noise_model(synth_box, tmp_path):
    noisy = run_synth(
        SynthConfig(task="box_push", seed=7, frames=40, noise=True), tmp_path / "noisy"
    )
    clean_cap, noisy_cap = Capture.load(synth_box / "capture"), Capture.load(noisy / "capture")
    d0, d1 = clean_cap.read_depth_m(0), noisy_cap.read_depth_m(0)
    both = (d0 > 0) & (d1 > 0)
    err = (d1 - d0)[both]
    z = d0[both]
    expected = np.sqrt((0.001 + 0.0015 * z**2) ** 2 + 0.001**2 / 12)  # noise + mm rounding
    assert 0.8 < np.std(err / expected) < 1.2
    assert ((d0 > 0) & (d1 == 0)).mean() > 0.002  # holes appeared
    rgb_diff = np.abs(noisy_cap.read_rgb(0).astype(int) - clean_cap.read_rgb(0).astype(int))
    assert 0.5 < rgb_diff.mean() < 3.0


def test_existing_output_is_not_overwritten(synth_box):
    from h2s2r.core.errors import H2S2RError

    # The fix is said for `synth --out DIR` and for `demo DIR` (which has no --out; probe
    # round 7: `demo` with another --task was told to choose a new --out folder).
    with pytest.raises(H2S2RError) as e:
        run_synth(SynthConfig(task="box_push", frames=30), synth_box)
    assert str(e.value).startswith(f"{synth_box} already holds capture, object, ground_truth/")
    assert "`h2s2r synth --out NEW_DIR`, `h2s2r demo NEW_DIR`) or delete" in str(e.value)
