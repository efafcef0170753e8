"""Checkpoints in ``train/``: which one, and a learner loaded from it (one place).

``best_model.pt`` is the best validation run of training (``best.json`` says which
iteration); ``model_<iteration>.pt`` are the periodic ones. ``eval`` and ``export`` use the
best by default: late in training, neighbouring checkpoints differ by up to 15 points of
success.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from h2s2r.core.env import BatchedEnv
from h2s2r.core.errors import H2S2RError
from h2s2r.policy.config import TrainConfig, ppo_config

BEST = "best_model.pt"


def latest_checkpoint(folder: Path) -> Path | None:
    """The periodic checkpoint of the highest iteration in ``folder``, if any."""
    ckpts = sorted(folder.glob("model_*.pt"), key=lambda p: int(re.findall(r"\d+", p.stem)[0]))
    return ckpts[-1] if ckpts else None


def policy_checkpoint(ws: Path, which: str = "best") -> Path:
    """The checkpoint ``eval`` and ``export`` use: ``best`` (the best validation run in
    training; the latest when training ran no validation), ``latest``, or a file name in
    ``train/``."""
    folder = Path(ws) / "train"
    if which == "best" and (folder / BEST).is_file():
        return folder / BEST
    if which in ("best", "latest"):
        ck = latest_checkpoint(folder)
        if ck is None:
            raise H2S2RError(f"{folder} holds no checkpoint: run `h2s2r train {ws}` first")
        return ck
    if not (folder / which).is_file():
        names = sorted(p.name for p in folder.glob("*.pt"))
        raise H2S2RError(
            f"{folder / which} does not exist: --checkpoint is best, latest or one of {names}"
        )
    return folder / which


def make_runner(env: BatchedEnv, cfg: TrainConfig, log_dir: Path | None = None):
    """rsl-rl's on-policy runner (PPO with its actor and critic) over ``env``."""
    from rsl_rl.runners import OnPolicyRunner

    from h2s2r.policy.rsl_env import RslVecEnv

    return OnPolicyRunner(
        RslVecEnv(env),
        ppo_config(cfg),
        log_dir=None if log_dir is None else str(log_dir),
        device="cpu",
    )


def load_runner(env: BatchedEnv, cfg: TrainConfig, checkpoint: Path):
    """A runner over ``env`` with the weights (and normalizers) of ``checkpoint``."""
    runner = make_runner(env, cfg)
    runner.load(str(checkpoint))
    return runner


def actor(runner, num_envs: int) -> Callable[[dict, int], np.ndarray]:
    """``act(obs, step) -> actions (B, A)``: the runner's deterministic policy."""
    import torch
    from tensordict import TensorDict

    policy = runner.get_inference_policy()

    def act(obs: dict, step: int) -> np.ndarray:
        with torch.inference_mode():
            td = TensorDict({k: torch.from_numpy(v) for k, v in obs.items()}, batch_size=[num_envs])
            return policy(td).numpy().astype(np.float64)

    return act


__all__ = ["BEST", "actor", "latest_checkpoint", "load_runner", "make_runner", "policy_checkpoint"]
