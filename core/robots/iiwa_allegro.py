"""KUKA LBR iiwa 14 + Wonik Allegro right hand (23 joints): the anchor's embodiment.

Numbers come from the Menagerie models and the manufacturers' data sheets:
iiwa 14 torque limits (320, 320, 176, 176, 110, 40, 40) N·m and speed limits
(85, 85, 100, 75, 130, 135, 135) °/s; Allegro joint torque about 0.7 N·m, and a
conservative 3 rad/s command speed limit for its joints. The Allegro palm body's own
frame already follows the palm convention of :mod:`h2s2r.core.robots.spec` (x out of the palm,
y to the index side, z to the fingers); its palm box spans z ∈ [-0.095, 0] and its
inner face is at x = +0.0111.
"""

import math

from h2s2r.core.robots.spec import JointGroupGains, MenagerieModel, RobotSpec, SiteSpec

_ARM_FORCE_LIMITS = (320.0, 320.0, 176.0, 176.0, 110.0, 40.0, 40.0)  # N·m
_ARM_VELOCITY_LIMITS = tuple(math.radians(v) for v in (85, 85, 100, 75, 130, 135, 135))
ARM_JOINTS = tuple(f"joint{i}" for i in range(1, 8))
ARM_HOME = (0.0, 0.6, 0.0, -1.2, 0.0, 0.9, 0.0)

IIWA_ALLEGRO = RobotSpec(
    name="iiwa_allegro",
    arm=MenagerieModel("kuka_iiwa_14", "iiwa14"),
    hand=MenagerieModel("wonik_allegro", "right_hand"),
    joint_names=ARM_JOINTS
    + tuple(f"hand/{f}j{i}" for f in ("ff", "mf", "rf", "th") for i in range(4)),
    handedness="right",
    attach_site="attachment_site",
    hand_root_body="palm",
    # Palm base (z = -0.095 in the palm frame) on the flange, fingers along the flange axis.
    mount_pos=(0.0, 0.0, 0.095),
    mount_quat_wxyz=(1.0, 0.0, 0.0, 0.0),
    palm=SiteSpec(body="palm", pos=(0.0111, 0.0, -0.0475)),
    fingertips={
        "ff": SiteSpec(body="ff_tip", pos=(0.0, 0.0, 0.029)),
        "mf": SiteSpec(body="mf_tip", pos=(0.0, 0.0, 0.029)),
        "rf": SiteSpec(body="rf_tip", pos=(0.0, 0.0, 0.029)),
        "th": SiteSpec(body="th_tip", pos=(0.0, 0.0, 0.043)),
    },
    finger_map={"thumb": "th", "index": "ff", "middle": "mf", "ring": "rf"},
    # Fingertip targets are the human's, spread 1.2× about the palm: the Allegro's fingers
    # are 1.6× longer (0.19 vs 0.12 m palm to middle tip), and the palm backs off the rest.
    retarget_scale=1.2,
    arm_gains=tuple(
        JointGroupGains(
            kp=2000.0,
            kd=200.0,
            armature=0.1,
            force_limit=f,
            velocity_limit=v,
            # Deploy's command limit: the ramp of one policy step, 2 cm of palm in 67 ms,
            # reaches it at its start; the arm's controller may limit more.
            acceleration_limit=40.0,
        )
        for f, v in zip(_ARM_FORCE_LIMITS, _ARM_VELOCITY_LIMITS, strict=True)
    ),
    hand_gains=JointGroupGains(
        kp=3.0,
        kd=0.1,
        armature=0.01,
        force_limit=0.7,
        velocity_limit=3.0,
        acceleration_limit=200.0,
    ),
    # Arm: hand in front of the base, palm down; fingers slightly curled, thumb opposed.
    home_qpos=ARM_HOME + (0.0, 0.3, 0.3, 0.3) * 3 + (0.5, 0.3, 0.3, 0.3),
    # The model mounts the palm straight on the flange (the real hand sits on an adapter
    # plate), so the thumb's base links overlap link7 in many postures (th_proximal in 62
    # of 300 random hand postures; in training it pressed on link7 in half the states).
    exclude_contacts=(
        ("link7", "palm"),
        ("link6", "palm"),
        ("link7", "th_base"),
        ("link7", "th_proximal"),
    ),
)
