"""An articulated human right hand authored from capsules, with MediaPipe keypoint sites.

Hand frame (origin at the wrist, same convention as the ``palm`` frame of the robots):
x out of the palm, y toward the thumb side, z toward the fingers. Proportions are those
of an adult hand (wrist to middle knuckle 9.4 cm, middle finger 9.4 cm).

Finger flexion rotates about +y (curling the finger toward +x, the palm side); abduction
rotates about +x. The thumb chain has its own frame whose z points along the thumb.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from h2s2r.core.geometry import matrix_to_quat

# MediaPipe hand landmark order.
KEYPOINT_NAMES = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)  # fmt: skip
FINGERS = ("index", "middle", "ring", "pinky")


@dataclass(frozen=True)
class FingerGeometry:
    mcp_pos: tuple[float, float, float]  # in the hand frame, metres
    lengths: tuple[float, float, float]  # proximal, middle, distal phalanx, metres
    radius: float  # proximal phalanx radius; tapers 10 % per segment


# Adult hand (about the 50th percentile of adult men).
FINGER_GEOMETRY = {
    "index": FingerGeometry((0.0, 0.030, 0.090), (0.040, 0.024, 0.020), 0.0095),
    "middle": FingerGeometry((0.0, 0.008, 0.094), (0.045, 0.028, 0.021), 0.0095),
    "ring": FingerGeometry((0.0, -0.013, 0.088), (0.042, 0.026, 0.020), 0.0090),
    "pinky": FingerGeometry((0.0, -0.032, 0.078), (0.033, 0.019, 0.018), 0.0080),
}
THUMB_CMC_POS = (0.012, 0.024, 0.026)
THUMB_LENGTHS = (0.045, 0.032, 0.027)  # metacarpal, proximal, distal
THUMB_RADIUS = 0.0110
# Thumb rest direction in the hand frame (toward the thumb side and the fingers).
_THUMB_DIR = np.array([0.30, 0.70, 0.65])
PALM_HALF_SIZE = (0.014, 0.043, 0.045)  # x (thickness), y (width), z (length)
PALM_CENTER = (0.0, -0.001, 0.050)
FOREARM_LENGTH = 0.22
FOREARM_RADIUS = 0.030

SKIN_RGBA = (0.87, 0.67, 0.55, 1.0)
SLEEVE_RGBA = (0.20, 0.30, 0.55, 1.0)


def thumb_frame() -> np.ndarray:
    """Rotation of the thumb chain's rest frame in the hand frame (z along the thumb)."""
    z = _THUMB_DIR / np.linalg.norm(_THUMB_DIR)
    toward = np.array([1.0, -0.6, 0.0])  # thumb flexion: toward the palm and across it
    x = toward - z * (toward @ z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def joint_names() -> tuple[str, ...]:
    """Hinge joints of the hand in qpos order."""
    names = ["thumb_cmc_abd", "thumb_cmc_flex", "thumb_mcp_flex", "thumb_ip_flex"]
    for f in FINGERS:
        names += [f"{f}_mcp_abd", f"{f}_mcp_flex", f"{f}_pip_flex", f"{f}_dip_flex"]
    return tuple(names)


def add_hand(parent: mujoco.MjsBody, name: str = "hand") -> mujoco.MjsBody:
    """Add the hand under ``parent`` (a mocap body at the wrist); returns the root body."""
    root = parent.add_body(name=f"{name}/wrist")
    kp = {}
    kp["wrist"] = root.add_site(name=f"{name}/kp/wrist", size=[0.003] * 3)

    def capsule(body, p0, p1, radius, rgba=SKIN_RGBA):
        g = body.add_geom(type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[radius, 0, 0], rgba=rgba)
        g.fromto = list(np.r_[p0, p1])
        g.contype = 0
        g.conaffinity = 0
        return g

    def hinge(body, joint: str, axis, lo: float, hi: float):
        body.add_joint(
            name=f"{name}/{joint}", type=mujoco.mjtJoint.mjJNT_HINGE, axis=axis, range=[lo, hi]
        )

    palm = root.add_geom(
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=list(PALM_HALF_SIZE),
        pos=list(PALM_CENTER),
        rgba=SKIN_RGBA,
    )
    palm.contype = palm.conaffinity = 0
    # Rounded palm edges and the heel of the hand.
    capsule(root, (0, 0.030, 0.012), (0, -0.030, 0.012), 0.016)
    for g in FINGER_GEOMETRY.values():  # metacarpals
        capsule(root, (0, g.mcp_pos[1] * 0.6, 0.02), g.mcp_pos, g.radius * 1.1)
    capsule(root, (0, 0, 0), (0, 0, -FOREARM_LENGTH), FOREARM_RADIUS, SLEEVE_RGBA)

    for f, g in FINGER_GEOMETRY.items():
        body = root.add_body(name=f"{name}/{f}_proximal", pos=list(g.mcp_pos))
        hinge(body, f"{f}_mcp_abd", [1, 0, 0], -0.35, 0.35)
        hinge(body, f"{f}_mcp_flex", [0, 1, 0], -0.3, 1.6)
        kp[f"{f}_mcp"] = body.add_site(name=f"{name}/kp/{f}_mcp", size=[0.003] * 3)
        r = g.radius
        for length, joint_name in zip(g.lengths, ("pip", "dip", None), strict=True):
            # The distal capsule ends inside the fingertip so the tip site is on the skin.
            capsule(body, (0, 0, 0), (0, 0, length - (r * 0.9 if joint_name is None else 0)), r)
            if joint_name is None:
                kp[f"{f}_tip"] = body.add_site(
                    name=f"{name}/kp/{f}_tip", pos=[0, 0, length], size=[0.003] * 3
                )
                break
            body = body.add_body(name=f"{name}/{f}_{joint_name}", pos=[0, 0, length])
            hinge(body, f"{f}_{joint_name}_flex", [0, 1, 0], -0.2, 1.9)
            kp[f"{f}_{joint_name}"] = body.add_site(
                name=f"{name}/kp/{f}_{joint_name}", size=[0.003] * 3
            )
            r *= 0.9

    # Thumb: CMC with abduction and flexion, then MCP and IP flexion.
    tb = root.add_body(
        name=f"{name}/thumb_metacarpal",
        pos=list(THUMB_CMC_POS),
        quat=list(matrix_to_quat(thumb_frame())),
    )
    hinge(tb, "thumb_cmc_abd", [1, 0, 0], -0.6, 0.8)
    hinge(tb, "thumb_cmc_flex", [0, 1, 0], -0.4, 1.2)
    kp["thumb_cmc"] = tb.add_site(name=f"{name}/kp/thumb_cmc", size=[0.003] * 3)
    r = THUMB_RADIUS
    capsule(tb, (0, 0, 0), (0, 0, THUMB_LENGTHS[0]), r * 1.1)
    body = tb
    for length, jn, kpn in zip(THUMB_LENGTHS[1:], ("mcp", "ip"), ("mcp", "ip"), strict=True):
        body = body.add_body(
            name=f"{name}/thumb_{jn}",
            pos=[0, 0, THUMB_LENGTHS[0] if jn == "mcp" else THUMB_LENGTHS[1]],
        )
        hinge(body, f"thumb_{jn}_flex", [0, 1, 0], -0.3, 1.5)
        kp[f"thumb_{kpn}"] = body.add_site(name=f"{name}/kp/thumb_{kpn}", size=[0.003] * 3)
        r *= 0.9
        capsule(body, (0, 0, 0), (0, 0, length - (r * 0.9 if jn == "ip" else 0)), r)
        if jn == "ip":
            kp["thumb_tip"] = body.add_site(
                name=f"{name}/kp/thumb_tip", pos=[0, 0, length], size=[0.003] * 3
            )
    for s in kp.values():
        s.group = 5
    return root


@dataclass(frozen=True)
class HandShape:
    """Joint angles (rad) of a hand posture, by joint name; missing joints are 0."""

    angles: dict[str, float]

    def vector(self) -> np.ndarray:
        return np.array([self.angles.get(n, 0.0) for n in joint_names()])


def finger_shape(
    mcp: float, pip: float, dip: float, thumb=(0.0, 0.0, 0.0, 0.0), spread: float = 0.0
) -> HandShape:
    """Same flexion on all four fingers; ``spread`` fans them (rad, index positive)."""
    a = {}
    for i, f in enumerate(FINGERS):
        a[f"{f}_mcp_abd"] = spread * (1.5 - i) / 1.5
        a[f"{f}_mcp_flex"], a[f"{f}_pip_flex"], a[f"{f}_dip_flex"] = mcp, pip, dip
    for n, v in zip(
        ("thumb_cmc_abd", "thumb_cmc_flex", "thumb_mcp_flex", "thumb_ip_flex"), thumb, strict=True
    ):
        a[n] = v
    return HandShape(a)


OPEN = finger_shape(0.15, 0.20, 0.10, thumb=(-0.2, -0.1, 0.1, 0.1), spread=0.12)


def wrap_angles(
    mcp_xz: np.ndarray,
    lengths: tuple[float, ...],
    center_xz: np.ndarray,
    radius: float,
    max_flex: float = 1.6,
) -> tuple[float, ...]:
    """Flexion angles that wrap a finger chain around a circle (e.g. a can's cross-section).

    Works in the finger's flexion plane: x is the palm normal, z the finger direction.
    Each joint bends just enough for the next joint to land on the circle (if it can).
    """
    p = np.asarray(mcp_xz, dtype=np.float64)
    heading = 0.0  # angle of the segment from +z toward +x
    angles = []
    for length in lengths:
        best = max_flex
        for a in np.linspace(0.0, max_flex, 321):
            h = heading + a
            q = p + length * np.array([np.sin(h), np.cos(h)])
            if np.linalg.norm(q - center_xz) <= radius:
                best = a
                break
        angles.append(float(best))
        heading += best
        p = p + length * np.array([np.sin(heading), np.cos(heading)])
    return tuple(angles)
