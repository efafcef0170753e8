"""KUKA LBR iiwa 14 + LEAP right hand: the second registry entry, proving the seam.

The LEAP palm body's frame has the fingers along +x and the palm facing -z, so the palm
site is rotated by +90° about y to follow the palm convention of :mod:`h2s2r.core.robots.spec`.
LEAP's Dynamixel XC330 servos give about 0.9 N·m and 10 rad/s unloaded; commands are
limited to 6 rad/s.
"""

from h2s2r.core.robots.iiwa_allegro import ARM_HOME, ARM_JOINTS, IIWA_ALLEGRO
from h2s2r.core.robots.spec import JointGroupGains, MenagerieModel, RobotSpec, SiteSpec

_S = 0.7071067811865476

IIWA_LEAP = RobotSpec(
    name="iiwa_leap",
    arm=MenagerieModel("kuka_iiwa_14", "iiwa14"),
    hand=MenagerieModel("leap_hand", "right_hand"),
    joint_names=ARM_JOINTS
    + tuple(f"hand/{f}_{j}" for f in ("if", "mf", "rf") for j in ("mcp", "rot", "pip", "dip"))
    + tuple(f"hand/th_{j}" for j in ("cmc", "axl", "mcp", "ipl")),
    handedness="right",
    attach_site="attachment_site",
    hand_root_body="palm",
    # Rotate -90° about y (fingers along the flange axis); the wrist edge of the palm,
    # (-0.105, -0.035, -0.01) in the palm body, sits on the flange.
    mount_pos=(-0.01, 0.035, 0.105),
    mount_quat_wxyz=(_S, 0.0, -_S, 0.0),
    palm=SiteSpec(body="palm", pos=(-0.05, -0.03, -0.035), quat_wxyz=(_S, 0.0, _S, 0.0)),
    fingertips={
        "if": SiteSpec(body="if_ds", geom="if_tip"),
        "mf": SiteSpec(body="mf_ds", geom="mf_tip"),
        "rf": SiteSpec(body="rf_ds", geom="rf_tip"),
        "th": SiteSpec(body="th_ds", geom="th_tip"),
    },
    finger_map={"thumb": "th", "index": "if", "middle": "mf", "ring": "rf"},
    retarget_scale=1.15,
    arm_gains=IIWA_ALLEGRO.arm_gains,
    hand_gains=JointGroupGains(
        kp=3.0,
        kd=0.1,
        armature=0.005,
        force_limit=0.9,
        velocity_limit=6.0,
        acceleration_limit=200.0,
    ),
    # Fingers (mcp, rot, pip, dip) slightly curled; thumb (cmc, axl, mcp, ipl) opposed.
    home_qpos=ARM_HOME + (0.3, 0.0, 0.3, 0.3) * 3 + (0.5, 0.3, 0.3, 0.3),
    # As for the Allegro (no adapter plate in the model): the thumb chain overlaps link7
    # in 10-15 % of random hand postures.
    exclude_contacts=(
        ("link7", "palm"),
        ("link6", "palm"),
        *(("link7", b) for b in ("th_bs", "th_px", "th_mp", "th_ds")),
    ),
)
