"""Episodes in batched worlds: the one rollout loop of validation and evaluation.

A policy is ``act(obs, step) -> actions (B, A)``; a replay baseline is
``targets(step) -> joint targets (B, n)``. Each world runs one episode from a reset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from h2s2r.core.env import BatchedEnv, as_host


class Episodes(NamedTuple):
    """What :func:`run_episodes` measured, one entry per world."""

    success: np.ndarray  # (B,) bool
    tracking_err: np.ndarray  # (B,) mean keypoint distance along the episode (m)
    frames: list  # qpos of the recorded world, one per policy step
    diverged: np.ndarray  # (B,) bool: the physics diverged (the episode counts as failed)


def run_episodes(
    env: BatchedEnv,
    act: Callable[[dict, int], np.ndarray] | None,
    targets: Callable[[int], np.ndarray] | None = None,
    record_world: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Episodes:
    """One episode per world. Either ``act(obs, step)`` gives actions, or ``targets(step)``
    gives joint targets directly. Success counts only for episodes that ran to their time
    limit without a termination. Runs on the host (numpy), whatever the env's device."""
    env = as_host(env)
    env.reset(np.arange(env.num_envs))
    obs = env.observe()
    done = np.zeros(env.num_envs, dtype=bool)
    success = np.zeros(env.num_envs, dtype=bool)
    diverged = np.zeros(env.num_envs, dtype=bool)
    err_sum = np.zeros(env.num_envs)
    err_n = np.zeros(env.num_envs)
    frames = []
    step = 0
    while not done.all():
        if act is not None:
            obs, _, term, trunc, info = env.step(act(obs, step))
        else:
            obs, _, term, trunc, info = env.step_targets(targets(step))
        live = ~done
        measured = live & ~info["unstable"]  # a diverged world's last step has no distance
        err_sum[measured] += info["keypoint_distance"][measured]
        err_n[measured] += 1
        if record_world is not None and not done[record_world]:
            frames.append(env.qpos()[record_world])
        ended = live & (term | trunc)
        success[ended] = info["success"][ended] & trunc[ended] & ~term[ended]
        diverged[ended] = info["unstable"][ended]
        done |= term | trunc
        step += 1
        if progress is not None:
            progress(step, env.max_steps)
    return Episodes(success, err_sum / np.maximum(err_n, 1), frames, diverged)


__all__ = ["Episodes", "run_episodes"]
