"""The observation contract: each input lands where the table says, encoded as it says,
and the table matches the vector the task builds."""

from __future__ import annotations

import numpy as np
import pytest

from h2s2r.core.geometry import quat_to_matrix, random_quat
from h2s2r.core.goal import NEXT_GOAL_S
from h2s2r.core.observation import (
    PolicyInputs,
    layout_size,
    layout_slices,
    layout_table,
    policy_layout,
    policy_observation,
    robot_policy_layout,
    rot6d,
)
from h2s2r.core.robots import ROBOTS

B, N, A, K = 3, 23, 11, 4


def distinct_inputs(rng) -> PolicyInputs:
    """Every input filled with values no other input has (a different integer range)."""

    def block(k: int, shape) -> np.ndarray:
        return 1000.0 * k + rng.uniform(0, 1, shape)

    return PolicyInputs(
        joint_pos=block(1, (B, N)),
        joint_vel=block(2, (B, N)),
        previous_action=block(3, (B, A)),
        fingertip_pos=block(4, (B, K, 3)),
        palm_pos=block(5, (B, 3)),
        object_pos=block(0, (B, 3)) * 1e-3,  # small: subtracting it keeps blocks apart
        object_quat_wxyz=random_quat(rng, B),
        goal_pos=block(6, (B, 3)),
        goal_quat_wxyz=random_quat(rng, B),
        next_goal_pos=block(7, (B, 3)),
        next_goal_quat_wxyz=random_quat(rng, B),
        progress=rng.uniform(0, 1, B),
    )


def test_each_input_lands_at_its_offsets():
    x = distinct_inputs(np.random.default_rng(0))
    layout = policy_layout(N, A, K)
    obs = policy_observation(x)
    assert obs.dtype == np.float32 and obs.shape == (B, layout_size(layout))
    at = layout_slices(layout)
    obj = x.object_pos
    want = {
        "joint_pos": x.joint_pos,
        "joint_vel": 0.1 * x.joint_vel,
        "previous_action": x.previous_action,
        "fingertips_minus_object": (x.fingertip_pos - obj[:, None]).reshape(B, -1),
        "palm_minus_object": x.palm_pos - obj,
        "object_pos": obj,
        "object_rot6d": rot6d(x.object_quat_wxyz),
        "goal_pos_minus_object": x.goal_pos - obj,
        "goal_rot6d": rot6d(x.goal_quat_wxyz),
        "next_goal_pos_minus_object": x.next_goal_pos - obj,
        "next_goal_rot6d": rot6d(x.next_goal_quat_wxyz),
        "progress": x.progress[:, None],
    }
    assert list(at) == list(want)  # the table's order is the vector's order
    for name, value in want.items():
        np.testing.assert_array_equal(obs[:, at[name]], value.astype(np.float32), err_msg=name)
    # Each block's values come from its own input alone: the integer part says which.
    for name, k in (("joint_pos", 1), ("previous_action", 3), ("fingertips_minus_object", 4)):
        assert np.all(np.floor(obs[:, at[name]] / 1000) == k), name
    # Fingertips are x y z per fingertip, in order.
    np.testing.assert_allclose(
        obs[0, at["fingertips_minus_object"]][3:6], x.fingertip_pos[0, 1] - obj[0], rtol=1e-6
    )


def test_rot6d_is_the_first_two_columns_row_by_row():
    q = random_quat(np.random.default_rng(1), 5)
    R = quat_to_matrix(q)
    r6 = rot6d(q)
    np.testing.assert_array_equal(r6, R[:, :, :2].reshape(5, 6))
    np.testing.assert_array_equal(r6[:, [0, 2, 4]], R[:, :, 0])  # R00 R10 R20: column 0
    np.testing.assert_array_equal(r6[:, [1, 3, 5]], R[:, :, 1])
    # A 90° turn about z: x → y, y → -x.
    np.testing.assert_allclose(
        rot6d(np.array([np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])),
        [0, -1, 1, 0, 0, 0],
        atol=1e-12,
    )


def test_table_says_sizes_offsets_units_and_frames():
    table = layout_table(policy_layout(N, A, K))
    assert [r["offset"] for r in table] == list(np.cumsum([0] + [r["size"] for r in table])[:-1])
    assert sum(r["size"] for r in table) == 2 * N + A + 3 * K + 3 + 3 + 6 + 3 + 6 + 3 + 6 + 1
    for r in table:
        assert set(r) == {"name", "size", "units", "frame", "encoding", "offset"}
        assert r["units"] and r["frame"] and r["encoding"], r
    rows = {r["name"]: r for r in table}
    assert "R00 R01 R10 R11 R20 R21" in rows["object_rot6d"]["encoding"]
    assert f"{NEXT_GOAL_S} s ahead" in rows["next_goal_pos_minus_object"]["encoding"]


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_robot_layout_sizes(robot):
    spec = ROBOTS[robot]
    layout = robot_policy_layout(spec, 11)
    assert layout[0].size == len(spec.joint_names)
    assert layout_slices(layout)["fingertips_minus_object"].stop - layout_slices(layout)[
        "fingertips_minus_object"
    ].start == 3 * len(spec.fingertips)
