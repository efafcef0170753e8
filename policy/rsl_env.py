"""``rsl_rl``'s ``VecEnv`` over the batched numpy task, with automatic resets.

Observation groups: ``policy`` (what the robot can measure) and ``critic`` (plus
privileged state: object velocity, true pose, contact forces, randomized parameters) —
an asymmetric actor-critic. ``extras["log"]`` carries every reward term (``/reward/<name>``), the
keypoint distance and the success rate of finished episodes.
"""

from __future__ import annotations

import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from h2s2r.core.env import BatchedEnv


class RslVecEnv(VecEnv):
    """A :class:`h2s2r.core.env.BatchedEnv` as rsl-rl's ``VecEnv``: torch tensors, and the
    worlds that finished an episode reset before they are observed."""

    def __init__(self, env: BatchedEnv, device: str = "cpu"):
        self.env = env
        self.num_envs = env.num_envs
        self.num_actions = env.action_dim
        self.max_episode_length = env.max_steps
        self.device = device
        self.cfg = {"task": env.name, "randomization": env.cfg.randomization}
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long)
        self._obs = self._to_td(env.observe())
        self.finished_success: list[float] = []

    def _to_td(self, obs: dict[str, np.ndarray]) -> TensorDict:
        return TensorDict(
            {k: torch.from_numpy(v) for k, v in obs.items()},
            batch_size=[self.num_envs],
            device=self.device,
        )

    def get_observations(self) -> TensorDict:
        return self._obs

    def step(self, actions: torch.Tensor):
        a = actions.detach().cpu().numpy().astype(np.float64)
        # Observed once, after the finished worlds are reset.
        _, reward, terminated, truncated, info = self.env.step(a, observe=False)
        done = terminated | truncated
        ids = np.nonzero(done)[0]
        success = info["success"][ids] & truncated[ids]
        if len(ids):
            self.env.reset(ids)
        obs = self.env.observe()
        self.episode_length_buf = torch.from_numpy(self.env.steps.copy())
        self._obs = self._to_td(obs)
        log = {f"/reward/{k}": float(np.mean(v)) for k, v in info["reward_terms"].items()}
        log["/task/keypoint_distance_m"] = float(np.mean(info["keypoint_distance"]))
        log["/task/goal_progress"] = float(np.mean(info["goal_progress"]))
        log["/task/diverged_worlds"] = float(np.sum(info["unstable"]))  # reset at once
        if len(ids):
            log["/task/episode_success"] = float(np.mean(success))
        extras = {"time_outs": torch.from_numpy(truncated & ~terminated), "log": log}
        return (
            self._obs,
            torch.from_numpy(reward.astype(np.float32)),
            torch.from_numpy(done),
            extras,
        )
