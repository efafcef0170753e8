"""One hand size per video and the plausibility gate: known-size rendered hands under
RealSense-like depth noise, impossible skeletons, and real MediaPipe hands."""

from __future__ import annotations

import json

import numpy as np
import pytest

from h2s2r.core.artifacts import Capture, GroundTruth
from h2s2r.core.geometry import project_points
from h2s2r.perception.hand_track.lift import lift_sequence
from h2s2r.perception.hand_track.skeleton import (
    BONES,
    GATE_BITS,
    HAND_LENGTH_RANGE_M,
    bone_lengths,
    describe_gate,
    hand_length,
    keypoint_gate,
    rebuild,
    shape_gate,
)
from tests.conftest import SHARED_DATA

REAL = SHARED_DATA / "hand_keypoints" / "human_joint_right.npz"
JSONS = sorted((SHARED_DATA / "hands").glob("*/*.mediapipe.json"))


@pytest.fixture(scope="module")
def real_joints() -> np.ndarray:
    return np.load(REAL)["joints"].astype(float)


@pytest.fixture(scope="module")
def noisy_can(tmp_path_factory):
    """A can_lift demo with RealSense-like depth (noise ∝ z², holes) and the can in front
    of the fingers: its true hand has a known, constant size."""
    from h2s2r.sim.synth import SynthConfig, run_synth

    return run_synth(
        SynthConfig(task="can_lift", seed=4, frames=40, noise=True),
        tmp_path_factory.mktemp("ws") / "can",
    )


# ------------------------------------------------------------------------ the gate
def test_the_gate_passes_real_hands(real_joints):
    """621 frames of one real hand (MediaPipe world landmarks) and the 7 real photos'
    recorded landmarks: all pass the shape gate."""
    codes = [shape_gate(j, "right")[0] for j in real_joints]
    assert sum(c != 0 for c in codes) == 0, [describe_gate(c) for c in codes if c]
    assert JSONS
    for f in JSONS:
        for h in json.loads(f.read_text())["hands"]:
            w = np.asarray(h["world_landmarks_m_xyz"], dtype=float)
            code, why = shape_gate(w, h["handedness"].lower())
            assert code == 0, (f.name, why)


def _bend(kp: np.ndarray, joint: int, deg: float) -> np.ndarray:
    """Rotate the chain distal to ``joint`` about the across-palm axis by ``deg``."""
    from scipy.spatial.transform import Rotation

    a = kp[5] - kp[17]
    a /= np.linalg.norm(a)
    R = Rotation.from_rotvec(np.radians(deg) * a).as_matrix()
    out = kp.copy()
    tip = 4 * ((joint - 1) // 4) + 4
    out[joint + 1 : tip + 1] = (kp[joint + 1 : tip + 1] - kp[joint]) @ R.T + kp[joint]
    return out


def test_impossible_skeletons_are_flagged_with_the_reason(real_joints):
    hand = real_joints[0]
    assert shape_gate(hand, "right")[0] == 0
    # A finger bent backwards 80° at its PIP joint (flexion is towards the palm).
    back = _bend(hand, 6, -80.0)  # index PIP
    code, why = shape_gate(back, "right")
    assert code == GATE_BITS["joint_angle"] and "index PIP bent backwards" in why
    assert shape_gate(_bend(hand, 6, +60.0), "right")[0] == 0  # flexing it is fine
    # Swapped joints: the index knuckle and fingertip exchanged.
    swapped = hand.copy()
    swapped[[5, 8]] = swapped[[8, 5]]
    code, why = shape_gate(swapped, "right")
    assert code & (GATE_BITS["joint_angle"] | GATE_BITS["bone_ratio"]), why
    # A middle finger twice its length.
    long = hand.copy()
    long[10:13] = hand[9] + 4.0 * (hand[10:13] - hand[9])
    assert shape_gate(long, "right")[0] == GATE_BITS["bone_ratio"]
    # A 2.4 cm wrist-to-middle-knuckle hand (the egocentric detections): the shape
    # is human, the size is not.
    lengths = bone_lengths(hand)
    tiny = hand * (0.024 / lengths[BONES.index((0, 9))])
    code, why = keypoint_gate(tiny, "right", np.ones(21, bool))
    assert code == GATE_BITS["size_prior"] and "outside an adult's" in why
    assert keypoint_gate(hand, "right", np.ones(21, bool))[0] == 0
    # With HaMeR's 8 keypoints only the palm's size is checked.
    present = np.zeros(21, bool)
    present[[0, 4, 5, 8, 9, 12, 13, 16]] = True
    assert keypoint_gate(tiny, "right", present)[0] == GATE_BITS["size_prior"]
    assert keypoint_gate(hand, "right", present)[0] == 0
    assert describe_gate(GATE_BITS["joint_angle"] | GATE_BITS["size_prior"]) == (
        "joint_angle+size_prior"
    )


def test_the_real_video_skeleton_is_a_plausible_adult_hand(real_joints):
    """The real hand's one skeleton (median bones over 621 frames) has an adult's hand
    length, and rebuilding every frame on it makes every frame's bones identical."""
    template = np.median(bone_lengths(real_joints), axis=0)
    lo, hi = HAND_LENGTH_RANGE_M
    assert lo < hand_length(template) < hi
    rebuilt = np.stack([rebuild(j, template) for j in real_joints])
    spread = bone_lengths(rebuilt).max(axis=0) - bone_lengths(rebuilt).min(axis=0)
    assert spread.max() < 1e-9
    # Per frame, MediaPipe's own bones vary (that is what the one skeleton removes).
    own = bone_lengths(real_joints)
    assert (own.max(axis=0) - own.min(axis=0)).max() > 0.01


# ------------------------------------------------------------- one size per video
def _mediapipe_like(ws, rng, size_error: float):
    """MediaPipe-like inputs from a demo's true hand: 2D keypoints with 1.5 px noise, and
    a relative 3D shape of the wrong size (× ``size_error``) with noisy bone directions."""
    cap = Capture.load(ws / "capture")
    gt = GroundTruth.load(ws / "ground_truth")
    kp = gt.hand_keypoints_cam
    px = project_points(cap.K, kp) + rng.normal(0, 1.5, (len(kp), 21, 2))
    world = size_error * (kp - kp.mean(axis=1, keepdims=True))
    world += rng.normal(0, 0.002, world.shape)
    return cap, gt, px, world


def test_one_size_per_video_within_5_percent(noisy_can):
    """A rendered hand of known size (hand length 18.8 cm), depth with RealSense-like noise
    and holes, the can hiding fingers, MediaPipe's shape 15 % too large: the lifted hand is
    within 5 % of the true size, and every frame's bones are the same."""
    rng = np.random.default_rng(0)
    cap, gt, px, world = _mediapipe_like(noisy_can, rng, 1.15)
    n = cap.num_frames
    depths = [lambda i=i: cap.read_depth_m(i) for i in range(n)]
    res = lift_sequence(px, world, depths, cap.K, np.ones(n, bool))
    assert res.lifted.all()
    true_len = hand_length(bone_lengths(gt.hand_keypoints_cam[0]))
    got = hand_length(res.bone_lengths_m)
    assert abs(got / true_len - 1) < 0.05, (got, true_len)
    per_frame = bone_lengths(res.keypoints_cam)
    assert (per_frame.max(axis=0) - per_frame.min(axis=0)).max() < 1e-9
    np.testing.assert_allclose(per_frame[0], res.bone_lengths_m, atol=1e-9)
    err = np.linalg.norm(res.keypoints_cam - gt.hand_keypoints_cam, axis=-1)
    assert err.mean() < 0.015
    assert np.nanmax(np.abs(res.frame_scale_ratio - 1)) < 0.33


def test_a_false_detection_gets_another_frame_size(noisy_can):
    """Three frames whose 2D hand is shrunk to a quarter (a false detection at the depth of
    what lies under it: the issue's 2.4 cm hands) do not move the video's size, and their
    own size disagrees with it."""
    rng = np.random.default_rng(1)
    cap, gt, px, world = _mediapipe_like(noisy_can, rng, 1.0)
    bad = [10, 11, 12]
    for i in bad:
        c = px[i].mean(axis=0)
        px[i] = c + 0.25 * (px[i] - c)
    n = cap.num_frames
    depths = [lambda i=i: cap.read_depth_m(i) for i in range(n)]
    res = lift_sequence(px, world, depths, cap.K, np.ones(n, bool))
    true_len = hand_length(bone_lengths(gt.hand_keypoints_cam[0]))
    assert abs(hand_length(res.bone_lengths_m) / true_len - 1) < 0.05
    assert (res.frame_scale_ratio[bad] < 0.5).all()
    good = np.setdiff1d(np.arange(n), bad)
    assert (np.abs(res.frame_scale_ratio[good] - 1) < 0.33).all()


@pytest.mark.parametrize("fraction", [0.3, 0.6])
def test_background_seen_past_the_fingers_does_not_inflate_the_hand(noisy_can, fraction):
    """The issue's real-stereo fault (a hand 11.3 cm wrist to knuckle): at thin fingers the
    depth under a keypoint is often the background, 20 cm behind. Per-frame lifting took
    that for a hand floating in free space and made it larger (measured: +12 % at 30 % of
    the finger keypoints, +21 % at 60 %); the video's one size, fitted on the palm first,
    stays within 5 %."""
    rng = np.random.default_rng(2)
    cap, gt, px, world = _mediapipe_like(noisy_can, rng, 1.0)
    fingers = [k for k in range(21) if k not in (0, 1, 5, 9, 13, 17)]
    depths = []
    for i in range(cap.num_frames):
        d = cap.read_depth_m(i).copy()
        sel = [k for k in fingers if rng.random() < fraction]
        for u, v in np.rint(px[i, sel]).astype(int):
            d[v - 2 : v + 3, u - 2 : u + 3] += 0.20
        depths.append(d)
    res = lift_sequence(px, world, depths, cap.K, np.ones(cap.num_frames, bool))
    true_len = hand_length(bone_lengths(gt.hand_keypoints_cam[0]))
    assert abs(hand_length(res.bone_lengths_m) / true_len - 1) < 0.05
