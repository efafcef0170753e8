"""Checkpoints in ``train/``: which one, and a learner loaded from it (one place).

``best_model.pt`` is the best validation run of training (``best.json`` says which
iteration); ``model_<iteration>.pt`` are the periodic ones. ``eval`` and ``export`` use the
best by default: late in training, neighbouring checkpoints differ by up to 15 points of
success.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from h2s2r.core.env import BatchedEnv
from h2s2r.core.errors import H2S2RError
from h2s2r.policy.config import TrainConfig, ppo_config

BEST = "best_model.pt"


def periodic_checkpoints(folder: Path) -> list[Path]:
    """``model_<iteration>.pt`` in ``folder``, oldest first."""
    return sorted(
        (p for p in folder.glob("model_*.pt") if re.fullmatch(r"model_\d+", p.stem)),
        key=lambda p: int(p.stem.removeprefix("model_")),
    )


def latest_checkpoint(folder: Path) -> Path | None:
    """The periodic checkpoint of the highest iteration in ``folder``, if any."""
    ckpts = periodic_checkpoints(folder)
    return ckpts[-1] if ckpts else None


UNREADABLE = ".unreadable"  # suffix given to a checkpoint that --resume could not load


def resume_newest_readable(runner, folder: Path, log=print) -> Path:
    """Load the newest checkpoint of ``folder`` that loads, and return it. A newer one that
    does not (a truncated or corrupt file) is renamed ``*.pt.unreadable`` and said, so that
    neither this run nor ``eval`` picks it up again."""
    tried = []
    for ck in reversed(periodic_checkpoints(folder)):
        try:
            runner.load(str(ck))
        except Exception as e:  # torch raises several types for a damaged file
            tried.append(f"{ck.name} ({type(e).__name__}: {str(e).splitlines()[0][:80]})")
            ck.rename(ck.with_name(ck.name + UNREADABLE))
            continue
        if tried:
            log(
                f"--resume: {'; '.join(tried)} could not be read (renamed *{UNREADABLE}); "
                f"resuming from {ck.name}, the newest readable checkpoint"
            )
        return ck
    raise H2S2RError(
        f"--resume: no readable checkpoint in {folder}"
        + (f" ({'; '.join(tried)})" if tried else "")
        + " — delete train/ to start over"
    )


def save_atomically(runner) -> None:
    """Make ``runner.save`` (rsl-rl's periodic, validation and final checkpoints) write a
    temporary sibling and rename it into place: a kill leaves the old file or the new."""
    save = runner.save

    def save_atomic(path: str, infos: dict | None = None) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            save(str(tmp), infos)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    runner.save = save_atomic


def policy_checkpoint(ws: Path, which: str = "best", listed: tuple[str, ...] | None = None) -> Path:
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
    names = sorted(p.name for p in folder.glob("*.pt"))
    if Path(which).name != which or not (folder / which).is_file():
        raise H2S2RError(
            f"--checkpoint {which}: not a checkpoint of {folder} — best, latest or one of "
            f"{names} (a checkpoint of another run does not match this workspace's task)"
        )
    if listed is not None and which not in listed:
        raise H2S2RError(
            f"--checkpoint {which}: {folder / 'meta.json'} does not list it (it was not "
            f"written by this run, so its hash is unchecked) — use one of {list(listed)}"
        )
    return folder / which


def make_runner(env: BatchedEnv, cfg: TrainConfig, log_dir: Path | None = None):
    """rsl-rl's on-policy runner (PPO with its actor and critic) over ``env``."""
    from rsl_rl.runners import OnPolicyRunner

    from h2s2r.policy.rsl_env import RslVecEnv

    runner = OnPolicyRunner(
        RslVecEnv(env),
        ppo_config(cfg),
        log_dir=None if log_dir is None else str(log_dir),
        device="cpu",
    )
    save_atomically(runner)
    return runner


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


__all__ = [
    "BEST",
    "actor",
    "latest_checkpoint",
    "load_runner",
    "make_runner",
    "periodic_checkpoints",
    "policy_checkpoint",
    "resume_newest_readable",
    "save_atomically",
]
