"""The hand as a skeleton: bones, one size per video, and what a human hand cannot do.

Anthropometric prior (the one size of a video's hand)
-----------------------------------------------------
*Hand length* (wrist crease to the tip of the middle finger, hand flat) of British adults
aged 19–65, from Pheasant & Haslegrave, *Bodyspace* (3rd ed., 2006), the hand table:
men 5th/50th/95th percentile 173/189/205 mm (SD 10), women 159/174/189 mm (SD 9). (The
numbers were taken from that table as published; this session could not re-open the book
to re-check them.) On MediaPipe's skeleton the same length is the straight middle finger's
chain wrist → middle knuckle → … → tip (keypoints 0-9-10-11-12); the real hand of
``shared/data/hand_keypoints`` (621 MediaPipe frames) measures 0.189 m median along it.

- prior (a weak Gaussian on the video's size): mean 0.182 m (between the men's and
  women's medians), SD 0.013 m (so that the women's 5th and men's 95th percentiles lie
  at ±1.7 SD);
- plausible range (outside it the hand is flagged ``size_prior``): 0.140–0.235 m, about
  2 cm beyond the women's 5th and the men's 95th percentile — a child's hand or a
  wrong depth scale falls outside.

Plausibility gate
-----------------
Bone-length *ratios* to the palm (wrist → middle knuckle) and joint angles are
scale-free, so they check MediaPipe's relative 3D landmarks before any lifting. Nominal
ratios are the medians of the 621 real frames above; a palm bone (wrist → knuckle) may
differ by ×0.75–1.33, a finger bone by ×0.1–3 (MediaPipe shortens a fingertip seen end-on:
down to ×0.26 in those frames, ×0.21 in a real photo of shared/data/hands). A finger
joint may flex up to 130° (anatomy: ~90–110°) and extend backwards at most 50° (the real
frames: at most 22°); the thumb bends at most 120° at any joint.
"""

from __future__ import annotations

import numpy as np

# (parent, child) of MediaPipe's 21 keypoints, parents before children.
BONES = tuple((0 if j == 0 else 4 * f + j, 4 * f + j + 1) for f in range(5) for j in range(4))
PALM = BONES.index((0, 9))  # wrist → middle knuckle
HAND_LENGTH_BONES = tuple(BONES.index(b) for b in ((0, 9), (9, 10), (10, 11), (11, 12)))
PALM_BONES = tuple(BONES.index((0, k)) for k in (5, 9, 13, 17))

HAND_LENGTH_PRIOR_M = (0.182, 0.013)  # mean, SD (Pheasant & Haslegrave; module docstring)
HAND_LENGTH_RANGE_M = (0.140, 0.235)
# Median bone / palm ratios of the 621 real MediaPipe frames (shared/data/hand_keypoints).
NOMINAL_RATIO = np.array(
    [0.43, 0.35, 0.37, 0.31, 1.02, 0.30, 0.21, 0.31, 1.00, 0.40,
     0.27, 0.29, 0.97, 0.33, 0.25, 0.26, 0.88, 0.23, 0.23, 0.21]
)  # fmt: skip
PALM_RATIO_TOL = (0.75, 1.33)
FINGER_RATIO_TOL = (0.1, 3.0)
MAX_FLEX_DEG = 130.0
MAX_HYPEREXT_DEG = 50.0
MAX_THUMB_BEND_DEG = 120.0

# Gate reasons: bits of the per-frame ``gate`` code (0: the frame passed).
GATE_BITS = {
    "no_hand": 1,  # MediaPipe found no hand of the requested side
    "no_depth": 2,  # fewer than 3 keypoints with depth under them
    "bone_ratio": 4,  # bone lengths no human hand has
    "joint_angle": 8,  # a finger bent backwards or folded beyond its limit
    "size_2d": 16,  # the 2D hand at its measured depth is larger than any adult's
    "frame_size": 32,  # this frame's depth says another size than the video's hand
    "reprojection": 64,  # the video's hand does not fit this frame's 2D keypoints
    "depth_outliers": 128,  # under 3 keypoints agree with the depth after the fit
    "size_prior": 256,  # the video's hand size is outside the adult range
    # Imported 3D keypoints (--method hamer) against the camera and its depth image:
    "behind_camera": 512,  # a keypoint at z <= 0 (behind the camera)
    "off_image": 1024,  # fewer than 3 keypoints project into the image
    "depth_mismatch": 2048,  # under 3 keypoints agree with the depth measured under them
}


def describe_gate(code: int) -> str:
    """``"bone_ratio+joint_angle"`` for a gate code; ``"ok"`` for 0."""
    names = [n for n, b in GATE_BITS.items() if int(code) & b]
    return "+".join(names) if names else "ok"


def bone_lengths(kp: np.ndarray) -> np.ndarray:
    """(…, 20) bone lengths of (…, 21, 3) keypoints."""
    p = [b[0] for b in BONES]
    c = [b[1] for b in BONES]
    return np.linalg.norm(kp[..., c, :] - kp[..., p, :], axis=-1)


def hand_length(lengths: np.ndarray) -> float:
    """Wrist to middle fingertip along the straight finger (the anthropometric hand length)."""
    return float(np.sum(np.asarray(lengths)[list(HAND_LENGTH_BONES)]))


def rebuild(kp: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The skeleton with ``lengths`` along ``kp``'s bone directions, wrist kept: every
    frame built so has the same bones exactly."""
    out = np.empty_like(kp)
    out[0] = kp[0]
    for (p, c), ell in zip(BONES, lengths, strict=True):
        d = kp[c] - kp[p]
        n = np.linalg.norm(d)
        out[c] = out[p] + ell * (d / n if n > 1e-12 else np.array([0.0, 0.0, 1.0]))
    return out


def flexion_deg(kp: np.ndarray, handedness: str) -> np.ndarray:
    """(4, 3) signed bend at the MCP, PIP and DIP joints of index … pinky (degrees):
    positive towards the palm, negative bent backwards."""
    a = kp[5] - kp[17]  # across the palm, pinky → index knuckle
    a = a / max(np.linalg.norm(a), 1e-12)
    sign = 1.0 if handedness == "right" else -1.0  # a mirror image flips the cross product
    out = np.zeros((4, 3))
    for f in range(1, 5):
        chain = [0, 4 * f + 1, 4 * f + 2, 4 * f + 3, 4 * f + 4]
        for j in range(1, 4):
            b1 = kp[chain[j]] - kp[chain[j - 1]]
            b2 = kp[chain[j + 1]] - kp[chain[j]]
            out[f - 1, j - 1] = np.degrees(np.arctan2(sign * np.cross(b1, b2) @ a, b1 @ b2))
    return out


def thumb_bend_deg(kp: np.ndarray) -> np.ndarray:
    """(3,) unsigned bend at the thumb's three joints (degrees)."""
    chain = [0, 1, 2, 3, 4]
    out = np.zeros(3)
    for j in range(1, 4):
        b1 = kp[chain[j]] - kp[chain[j - 1]]
        b2 = kp[chain[j + 1]] - kp[chain[j]]
        out[j - 1] = np.degrees(np.arctan2(np.linalg.norm(np.cross(b1, b2)), b1 @ b2))
    return out


def shape_gate(kp: np.ndarray, handedness: str) -> tuple[int, str]:
    """Scale-free plausibility of one hand's 21 3D keypoints (any unit): the gate bits
    (``bone_ratio``, ``joint_angle``) and a short reason naming the worst offender."""
    code, why = 0, []
    lengths = bone_lengths(kp)
    palm = lengths[PALM]
    if not np.isfinite(lengths).all() or palm <= 1e-9:
        return GATE_BITS["bone_ratio"], "degenerate skeleton (joints on top of each other)"
    rel = lengths / palm / NOMINAL_RATIO
    for b, r in enumerate(rel):
        lo, hi = PALM_RATIO_TOL if b in PALM_BONES else FINGER_RATIO_TOL
        if not lo <= r <= hi:
            code |= GATE_BITS["bone_ratio"]
            p, c = BONES[b]
            why.append(f"bone {p}-{c} is {r:.2f}× its usual share of the palm")
            break
    flex = flexion_deg(kp, handedness)
    names = ("index", "middle", "ring", "pinky")
    joints = ("MCP", "PIP", "DIP")
    f, j = np.unravel_index(np.argmin(flex), flex.shape)
    if flex[f, j] < -MAX_HYPEREXT_DEG:
        code |= GATE_BITS["joint_angle"]
        why.append(f"{names[f]} {joints[j]} bent backwards {-flex[f, j]:.0f}°")
    f, j = np.unravel_index(np.argmax(flex), flex.shape)
    if flex[f, j] > MAX_FLEX_DEG:
        code |= GATE_BITS["joint_angle"]
        why.append(f"{names[f]} {joints[j]} folded {flex[f, j]:.0f}°")
    thumb = thumb_bend_deg(kp)
    if thumb.max() > MAX_THUMB_BEND_DEG:
        code |= GATE_BITS["joint_angle"]
        why.append(f"thumb joint {int(np.argmax(thumb)) + 1} folded {thumb.max():.0f}°")
    return code, "; ".join(why)


def size_gate(lengths_m: np.ndarray) -> tuple[int, str]:
    """The ``size_prior`` bit when the hand length (metres) is outside the adult range."""
    h = hand_length(lengths_m)
    lo, hi = HAND_LENGTH_RANGE_M
    if lo <= h <= hi:
        return 0, ""
    return GATE_BITS["size_prior"], (
        f"hand length (wrist to middle fingertip) {h * 100:.1f} cm, outside an adult's "
        f"{lo * 100:.0f}–{hi * 100:.1f} cm"
    )


def keypoint_gate(kp_m: np.ndarray, handedness: str, present: np.ndarray) -> tuple[int, str]:
    """Shape and size of one hand's lifted keypoints (metres). With only some keypoints
    (HaMeR gives 8 of 21) only the palm's size is checked."""
    present = np.asarray(present, dtype=bool)
    if present.all():
        code, why = shape_gate(kp_m, handedness)
        c2, w2 = size_gate(bone_lengths(kp_m))
        return code | c2, "; ".join(x for x in (why, w2) if x)
    palm = float(np.linalg.norm(kp_m[9] - kp_m[0]))
    share = hand_length(NOMINAL_RATIO)  # hand length / palm, usually
    lo, hi = (x / share for x in HAND_LENGTH_RANGE_M)
    if lo <= palm <= hi:
        return 0, ""
    return GATE_BITS["size_prior"], (
        f"wrist to middle knuckle {palm * 100:.1f} cm, outside an adult's "
        f"{lo * 100:.1f}–{hi * 100:.1f} cm"
    )
