"""The paper's baselines, in the same simulator as the policy.

- **replay**: the retargeted robot trajectory of the demo (``task/``'s ``replay_qpos``),
  open loop at the demo's timing;
- **object-aware replay**: the same palm path re-anchored to where the object actually
  starts (its start pose is randomized), tracked with the same differential IK as the
  controller's, fingers from the replay.

Each is ``targets(step) -> joint targets (B, n)`` for :func:`h2s2r.policy.rollout.run_episodes`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from h2s2r.core.artifacts import Task
from h2s2r.core.control import damped_least_squares, palm_pose
from h2s2r.core.env import BatchedEnv, as_host
from h2s2r.core.geometry import T_from_pos_quat, T_inv, so3_log


def _replay_index(env: BatchedEnv, task: Task) -> Callable[[int], int]:
    """The replay waypoint of a policy step (the demo's timing)."""
    fps = 1.0 / float(np.median(np.diff(task.t)))
    last = len(task.replay_qpos) - 1
    return lambda step: min(round(step * env.cfg.ctrl_dt_s * fps), last)


def replay_targets(env: BatchedEnv, task: Task) -> Callable[[int], np.ndarray]:
    """Open-loop joint targets of the retargeted demo, resampled to the policy rate."""
    q, index = task.replay_qpos, _replay_index(env, task)

    def targets(step: int) -> np.ndarray:
        return np.tile(q[index(step)], (env.num_envs, 1))

    return targets


def object_aware_targets(
    env: BatchedEnv, task: Task, iters: int = 8
) -> Callable[[int], np.ndarray]:
    """The replay re-anchored to the object's actual start: each demo palm pose is moved
    by the transform from the demo's first object pose to the episode's, and the arm
    joints that reach it are solved kinematically (damped least squares, ``iters`` steps
    from the replay's own joints, warm-started from the last step's offset). The hand
    joints and everything else follow the replay, so with the object exactly at the
    demo's start this is the replay itself.

    The targets are joint positions, like the replay's, not joints measured this step
    plus an IK step: with those the PD error, and so the force the arm pushes with, is
    reset every step, and the replay no longer behaves like the replay."""
    env = as_host(env)
    q, index = task.replay_qpos, _replay_index(env, task)
    ctrl = env.controller
    palm = palm_pose(ctrl, q)  # (M, 4, 4) demo palm poses (base)
    T_demo0 = T_from_pos_quat(task.object_pos_base[0], task.object_quat_wxyz_base[0])
    n_arm, damping = ctrl.n_arm, 0.02
    state = {}

    def targets(step: int) -> np.ndarray:
        i = index(step)
        out = np.tile(q[i], (env.num_envs, 1))
        if step == 0:
            pos, quat = env.object_pose()
            state["adj"] = T_from_pos_quat(pos, quat) @ T_inv(T_demo0)  # (B, 4, 4)
            state["offset"] = np.zeros((env.num_envs, n_arm))
        desired = state["adj"] @ palm[i]
        out[:, :n_arm] += state["offset"]
        full = np.zeros((env.num_envs, ctrl.model.nq))
        for _ in range(iters):
            full[:, ctrl.info.qpos_adr] = out
            T, J = ctrl.palm_chain(full)
            twist = np.concatenate(
                [
                    desired[:, :3, 3] - T[:, :3, 3],
                    so3_log(desired[:, :3, :3] @ np.swapaxes(T[:, :3, :3], 1, 2)),
                ],
                axis=1,
            )
            dq = damped_least_squares(J, twist, damping)
            out[:, :n_arm] = np.clip(out[:, :n_arm] + dq, ctrl.lo[:n_arm], ctrl.hi[:n_arm])
        state["offset"] = out[:, :n_arm] - q[i, :n_arm]
        return np.clip(out, ctrl.lo, ctrl.hi)

    return targets


__all__ = ["object_aware_targets", "replay_targets"]
