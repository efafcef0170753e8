"""``rsl_rl``'s ``VecEnv`` over the batched task, with automatic resets.

Observation groups: ``policy`` (what the robot can measure) and ``critic`` (plus
privileged state: object velocity, true pose, contact forces, randomized parameters) —
an asymmetric actor-critic. ``extras["log"]`` carries every reward term (``/reward/<name>``), the
keypoint distance, the diverged worlds, the success rate of finished episodes and, on
Warp, the worlds that may have lost contacts or constraint rows (``nconmax``/``njmax``).

One path for both backends: the CPU backend's numpy arrays become torch tensors without
a copy (``torch.from_numpy``), the GPU backend's already are; finished worlds are reset by
mask and the logged values stay tensors (rsl-rl averages them at the end of an
iteration), so nothing waits for the device during collection.
"""

from __future__ import annotations

import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from h2s2r.core.env import BatchedEnv

# Finished episodes are few per step: the logged success rate is over the episodes that
# ended in about the last 100 policy steps (counts decayed by this factor per step).
SUCCESS_DECAY = 0.99


def _tensor(x) -> torch.Tensor:
    return torch.from_numpy(x) if isinstance(x, np.ndarray) else x


def env_device(env: BatchedEnv) -> str:
    """The torch device of ``env``'s arrays: ``cpu`` for numpy, else the tensors' device."""
    arrays = getattr(env, "arrays", None)
    if arrays is None or not arrays.torch:
        return "cpu"
    return str(arrays.device)


class RslVecEnv(VecEnv):
    """A :class:`h2s2r.core.env.BatchedEnv` as rsl-rl's ``VecEnv``: torch tensors on the
    env's device, and the worlds that finished an episode reset before they are observed."""

    def __init__(self, env: BatchedEnv):
        self.env = env
        self.num_envs = env.num_envs
        self.num_actions = env.action_dim
        self.max_episode_length = env.max_steps
        self.device = env_device(env)
        self.cfg = {"task": env.name, "randomization": env.cfg.randomization}
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self._obs = self._to_td(env.observe())
        self._success = torch.zeros((), device=self.device)
        self._finished = torch.zeros((), device=self.device)

    def _to_td(self, obs: dict) -> TensorDict:
        return TensorDict(
            {k: _tensor(v) for k, v in obs.items()},
            batch_size=[self.num_envs],
            device=self.device,
        )

    def get_observations(self) -> TensorDict:
        return self._obs

    def step(self, actions: torch.Tensor):
        a = actions.detach()
        arrays = getattr(self.env, "arrays", None)
        if arrays is None or not arrays.torch:
            a = a.cpu().numpy().astype(np.float64)
        # Observed once, after the finished worlds are reset.
        _, reward, terminated, truncated, info = self.env.step(a, observe=False)
        done = terminated | truncated
        # Read before the reset clears the marks of the worlds that finished.
        dropped = getattr(getattr(self.env, "sim", None), "dropped", None)
        dropped = None if dropped is None else _tensor(dropped()).sum().float()
        self.env.reset(done)
        obs = self.env.observe()
        done, truncated, terminated = _tensor(done), _tensor(truncated), _tensor(terminated)
        success = _tensor(info["success"]) & truncated
        self._success = SUCCESS_DECAY * self._success + success.sum()
        self._finished = SUCCESS_DECAY * self._finished + done.sum()
        self.episode_length_buf = _tensor(self.env.steps).clone()
        self._obs = self._to_td(obs)
        log = {f"/reward/{k}": _tensor(v).mean() for k, v in info["reward_terms"].items()}
        stable = ~_tensor(info["unstable"])  # a diverged world has no distance
        d = _tensor(info["keypoint_distance"])
        log["/task/keypoint_distance_m"] = (d * stable).sum() / stable.sum().clamp(min=1)
        log["/task/goal_progress"] = _tensor(info["goal_progress"]).mean()
        log["/task/diverged_worlds"] = _tensor(info["unstable"]).sum().float()  # reset at once
        log["/task/episode_success"] = self._success / self._finished.clamp(min=1e-6)
        if dropped is not None:  # Warp: worlds that may have lost contacts or rows
            log["/task/contact_overflow_worlds"] = dropped
        extras = {"time_outs": truncated & ~terminated, "log": log}
        return self._obs, _tensor(reward).float(), done, extras
