"""The policy's observation: one function builds it, one table describes it.

The simulator's task, ``h2s2r export`` (which writes the table into ``policy.json``) and
the deploy policy node all call :func:`policy_observation` with the same named inputs, so
the vector a policy trained on is the vector it runs on; nothing retypes it by hand.

The table (:func:`policy_layout`) lists the blocks in order, each with its size, units,
frame and exact encoding. Rotations are encoded as "rot6d": the first two columns of the
rotation matrix ``R`` (frame → base), row by row, i.e. ``R00 R01 R10 R11 R20 R21``.

Shapes: ``B`` worlds (or robots), ``n`` robot joints, ``A`` action size, ``k`` fingertips;
positions in metres in the robot base frame, quaternions wxyz.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from h2s2r.core.geometry import quat_to_matrix
from h2s2r.core.goal import NEXT_GOAL_S
from h2s2r.core.robots import RobotSpec
from h2s2r.core.xp import namespace

ROT6D = "first two columns of R (frame → base), row by row: R00 R01 R10 R11 R20 R21"


@dataclass(frozen=True)
class ObsBlock:
    """One block of the observation vector."""

    name: str
    size: int
    units: str
    frame: str
    encoding: str  # how the entries are computed from the named inputs, exactly


def policy_layout(n_joints: int, action_dim: int, n_fingertips: int) -> tuple[ObsBlock, ...]:
    """The blocks of the ``policy`` observation, in order, for a robot with ``n_joints``
    joints, ``n_fingertips`` fingertips and an ``action_dim``-D action."""
    return (
        ObsBlock("joint_pos", n_joints, "rad", "joints, registry order", "q"),
        ObsBlock("joint_vel", n_joints, "0.1 rad/s", "joints, registry order", "0.1 * qdot"),
        ObsBlock("previous_action", action_dim, "1", "action", "the last action sent, in [-1, 1]"),
        ObsBlock(
            "fingertips_minus_object",
            3 * n_fingertips,
            "m",
            "base",
            "p_tip[i] - p_obj per fingertip (registry order), x y z each",
        ),
        ObsBlock("palm_minus_object", 3, "m", "base", "p_palm - p_obj"),
        ObsBlock("object_pos", 3, "m", "base", "p_obj (as observed)"),
        ObsBlock("object_rot6d", 6, "1", "base", f"R_base_obj: {ROT6D}"),
        ObsBlock("goal_pos_minus_object", 3, "m", "base", "p_goal - p_obj"),
        ObsBlock("goal_rot6d", 6, "1", "base", f"R_base_goal: {ROT6D}"),
        ObsBlock(
            "next_goal_pos_minus_object",
            3,
            "m",
            "base",
            f"p_next_goal - p_obj; the goal {NEXT_GOAL_S} s ahead on the demo path",
        ),
        ObsBlock("next_goal_rot6d", 6, "1", "base", f"R_base_next_goal: {ROT6D}"),
        ObsBlock("progress", 1, "1", "-", "goal time / demo duration, clipped to [0, 1]"),
    )


def robot_policy_layout(robot: RobotSpec, action_dim: int) -> tuple[ObsBlock, ...]:
    """:func:`policy_layout` for a registry robot and an action size."""
    return policy_layout(len(robot.joint_names), action_dim, len(robot.fingertips))


def layout_size(layout: tuple[ObsBlock, ...]) -> int:
    return sum(b.size for b in layout)


def layout_slices(layout: tuple[ObsBlock, ...]) -> dict[str, slice]:
    """Each block's slice of the observation vector."""
    out, start = {}, 0
    for b in layout:
        out[b.name] = slice(start, start + b.size)
        start += b.size
    return out


def layout_table(layout: tuple[ObsBlock, ...]) -> list[dict]:
    """The table as JSON rows (``policy.json``'s ``observation_layout``), with offsets."""
    slices = layout_slices(layout)
    return [asdict(b) | {"offset": slices[b.name].start} for b in layout]


def rot6d(quat_wxyz: np.ndarray) -> np.ndarray:
    """``(..., 6)`` rot6d encoding (:data:`ROT6D`) of wxyz quaternions ``(..., 4)``."""
    R = quat_to_matrix(quat_wxyz)
    return namespace(R).reshape(R[..., :2], (*R.shape[:-2], 6))


@dataclass(frozen=True)
class PolicyInputs:
    """What the policy observes, as measured (or, in simulation, with its noise)."""

    joint_pos: np.ndarray  # (B, n) rad
    joint_vel: np.ndarray  # (B, n) rad/s
    previous_action: np.ndarray  # (B, A)
    fingertip_pos: np.ndarray  # (B, k, 3) m, base frame
    palm_pos: np.ndarray  # (B, 3) m, base frame
    object_pos: np.ndarray  # (B, 3) m, base frame (as observed)
    object_quat_wxyz: np.ndarray  # (B, 4) (as observed)
    goal_pos: np.ndarray  # (B, 3) m, the current goal on the demo path
    goal_quat_wxyz: np.ndarray  # (B, 4)
    next_goal_pos: np.ndarray  # (B, 3) m, the goal NEXT_GOAL_S later
    next_goal_quat_wxyz: np.ndarray  # (B, 4)
    progress: np.ndarray  # (B,) goal time / demo duration in [0, 1]


def policy_observation(x: PolicyInputs) -> np.ndarray:
    """The ``policy`` observation ``(B, P)`` float32, blocks as :func:`policy_layout`
    (numpy, or torch on the inputs' device)."""
    xp = namespace(x.joint_pos)
    n = x.joint_pos.shape[0]
    obj = x.object_pos
    # The three rotations in one conversion (this runs every control step).
    r6 = rot6d(xp.stack([x.object_quat_wxyz, x.goal_quat_wxyz, x.next_goal_quat_wxyz]))
    obs = xp.concat(
        [
            x.joint_pos,
            0.1 * x.joint_vel,
            x.previous_action,
            xp.reshape(x.fingertip_pos - obj[:, None], (n, -1)),
            x.palm_pos - obj,
            obj,
            r6[0],
            x.goal_pos - obj,
            r6[1],
            x.next_goal_pos - obj,
            r6[2],
            x.progress[:, None],
        ],
        axis=1,
    )
    return xp.astype(obs, xp.float32)


__all__ = [
    "ROT6D",
    "ObsBlock",
    "PolicyInputs",
    "layout_size",
    "layout_slices",
    "layout_table",
    "policy_layout",
    "policy_observation",
    "robot_policy_layout",
    "rot6d",
]
