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

# The options that change what a checkpoint holds (its tensors' shapes, or the meaning of
# its inputs and outputs): a run resumes only with the ones it was trained with.
SHAPE_OPTIONS = ("task", "action_mode", "recurrent", "hidden_dims")


def check_resume_options(folder: Path, cfg: TrainConfig) -> None:
    """Refuse ``--resume`` when ``cfg`` builds another network than the run in ``folder``
    (its ``config.json``): naming each differing option, how to resume, and how to start
    a new run instead. Nothing in ``folder`` is touched."""
    from h2s2r.policy.config import saved_train_config

    ws = folder.parent
    new_run = (
        f"start a new run: move train/ away (`mv {folder} {ws / 'train_old'}`) and train "
        "without --resume"
    )
    meta, task_meta = folder / "meta.json", ws / "task" / "meta.json"
    if meta.is_file() and task_meta.is_file():
        import json

        from h2s2r.core.artifacts.base import sha256_file

        try:
            upstream = json.loads(meta.read_text()).get("upstream", {})
        except (json.JSONDecodeError, AttributeError):
            upstream = {}
        trained_on = upstream.get("task/meta.json")
        if trained_on and trained_on != sha256_file(task_meta):
            raise H2S2RError(
                f"--resume: {ws / 'task'} changed since this run was trained (retarget, "
                f"another robot or demo): the run would continue on another task — {new_run}"
            )
    if not (folder / "config.json").is_file():
        return  # a run killed before it wrote its config: the load says what differs
    saved = saved_train_config(ws)
    if saved.backend != cfg.backend:
        raise H2S2RError(
            f"--resume: {folder / 'config.json'} was trained with --backend {saved.backend}"
            f" (now {cfg.backend}): pass --backend {saved.backend} to continue it as "
            f"trained, or {new_run} on {cfg.backend}"
        )
    diff = [
        f"{name} {_shown(getattr(saved, name))} (now {_shown(getattr(cfg, name))})"
        for name in SHAPE_OPTIONS
        if getattr(saved, name) != getattr(cfg, name)
    ]
    if diff:
        raise H2S2RError(
            f"--resume: {folder / 'config.json'} was trained with {'; '.join(diff)}: its "
            "checkpoints cannot continue as another network — resume with the run's "
            f"options (drop the flags or --config that change them), or {new_run}"
        )


def _shown(value) -> str:
    return str(list(value)) if isinstance(value, tuple) else repr(value)


def resume_newest_readable(runner, folder: Path, log=print) -> Path:
    """Load the newest checkpoint of ``folder`` that loads, and return it. A newer one that
    cannot be read (a truncated or corrupt file) is renamed ``*.pt.unreadable`` and said,
    so that neither this run nor ``eval`` picks it up again. A readable one that does not
    fit the runner's network (other options) is an error, and nothing is renamed."""
    import torch

    tried = []
    for ck in reversed(periodic_checkpoints(folder)):
        try:
            saved = torch.load(ck, weights_only=False, map_location="cpu")
            if not isinstance(saved, dict) or "actor_state_dict" not in saved:
                raise ValueError("not an rsl-rl checkpoint")
        except Exception as e:  # torch raises several types for a damaged file
            tried.append(f"{ck.name} ({type(e).__name__}: {str(e).splitlines()[0][:80]})")
            ck.rename(ck.with_name(ck.name + UNREADABLE))
            continue
        try:
            runner.load(str(ck), map_location=str(runner.device))
        except Exception as e:  # readable, but another network: the run's, not the file's
            first = str(e).strip().splitlines()
            raise H2S2RError(
                f"--resume: {ck} does not fit the network these options build "
                f"({type(e).__name__}: {' '.join(first[:3])[:160]}) — resume with the options "
                f"of {folder / 'config.json'}, or start a new run: move train/ away and train "
                "without --resume"
            ) from None
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


def nonfinite_weights(state: dict) -> tuple[int, int]:
    """``(non-finite, all)`` values over the floating-point tensors of the actor and
    critic in a saved dict (``runner.alg.save()``)."""
    import torch

    bad = total = 0
    for key in ("actor_state_dict", "critic_state_dict"):
        for v in (state.get(key) or {}).values():
            if torch.is_tensor(v) and torch.is_floating_point(v):
                bad += int((~torch.isfinite(v)).sum())
                total += v.numel()
    return bad, total


def save_atomically(runner) -> None:
    """Make ``runner.save`` (rsl-rl's periodic, validation and final checkpoints) write a
    temporary sibling and rename it into place: a kill leaves the old file or the new.
    Weights with NaN or infinite values (training diverged) are never saved, and a write
    that fails (a full disk: torch raises ``RuntimeError``, not ``OSError``) is one line
    naming the file."""
    save = runner.save

    def save_atomic(path: str, infos: dict | None = None) -> None:
        path = Path(path)
        bad, total = nonfinite_weights(runner.alg.save())
        if bad:
            kept = [p.name for p in periodic_checkpoints(path.parent)]
            raise H2S2RError(
                f"training diverged: the policy's weights hold {bad} NaN or infinite values "
                f"(of {total}) at iteration {runner.current_learning_iteration}; {path} was "
                f"not written — resume from the newest finite checkpoint "
                f"({kept[-1] if kept else 'none yet'}) with a lower --learning-rate: "
                f"`h2s2r train {path.parent.parent} --resume --learning-rate 3e-4`"
            )
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            save(str(tmp), infos)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except (OSError, RuntimeError) as e:
            reason = getattr(e, "strerror", None) or str(e).strip().splitlines()[-1][:120]
            raise H2S2RError(
                f"{path}: could not be written ({reason}): the disk is probably full (or a "
                f"file-size limit was reached) — free disk space, then continue with "
                f"`h2s2r train {path.parent.parent} --resume`"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)

    runner.save = save_atomic


def policy_checkpoint(ws: Path, which: str = "best", listed: tuple[str, ...] | None = None) -> Path:
    """The checkpoint ``eval`` and ``export`` use: ``best`` (the best validation run in
    training; the latest when training ran no validation), ``latest``, or a file in
    ``train/``: its name, or a path to it (``WS/train/model_N.pt``, what tab completion
    gives; relative to the current folder or to the workspace)."""
    folder = Path(ws) / "train"
    if which == "best" and (folder / BEST).is_file():
        return folder / BEST
    if which in ("best", "latest"):
        ck = latest_checkpoint(folder)
        if ck is None:
            raise H2S2RError(f"{folder} holds no checkpoint: run `h2s2r train {ws}` first")
        return ck
    names = sorted(p.name for p in folder.glob("*.pt"))
    name = _name_in(folder, which)
    if name is None or not (folder / name).is_file():
        raise H2S2RError(
            f"--checkpoint {which}: not a checkpoint of {folder} — best, latest or one of "
            f"{names} (a checkpoint of another run does not match this workspace's task)"
        )
    if listed is not None and name not in listed:
        raise H2S2RError(
            f"--checkpoint {which}: {folder / 'meta.json'} does not list it (it was not "
            f"written by this run, so its hash is unchecked) — use one of {list(listed)}"
        )
    return folder / name


def _name_in(folder: Path, which: str) -> str | None:
    """``which``'s file name when it names a file directly in ``folder`` (a bare name, or
    a path that resolves into it, from the current folder or the workspace); else None."""
    p = Path(which).expanduser()
    if p.name == which:
        return which
    here = folder.resolve()
    for candidate in (p, folder.parent / p):
        if candidate.resolve().parent == here:
            return candidate.name
    return None


def make_runner(env: BatchedEnv, cfg: TrainConfig, log_dir: Path | None = None):
    """rsl-rl's on-policy runner (PPO with its actor and critic) over ``env``, on the env's
    device (the CPU for ``mujoco``, the GPU of ``warp``); under ``torchrun`` one process of
    a data-parallel job (:mod:`h2s2r.policy.distributed`)."""
    from h2s2r.policy.distributed import runner_class
    from h2s2r.policy.rsl_env import RslVecEnv

    vec = RslVecEnv(env)
    runner = runner_class()(
        vec,
        ppo_config(cfg),
        log_dir=None if log_dir is None else str(log_dir),
        device=vec.device,
    )
    save_atomically(runner)
    return runner


def load_runner(env: BatchedEnv, cfg: TrainConfig, checkpoint: Path):
    """A runner over ``env`` with the weights (and normalizers) of ``checkpoint``."""
    runner = make_runner(env, cfg)
    # A run trained on a GPU loads on any device (and the other way round).
    try:
        runner.load(str(checkpoint), map_location=str(runner.device))
    except RuntimeError as e:  # the network built from the saved options does not fit
        first = str(e).strip().splitlines()[0]
        raise H2S2RError(
            f"{checkpoint}: does not fit the network of this run's options ({first}); "
            "train/config.json (or train/meta.json) must be the run's own — copy train/ "
            "whole, or re-run `h2s2r train DIR`"
        ) from e
    return runner


def actor(runner, num_envs: int) -> Callable[[dict, int], np.ndarray]:
    """``act(obs, step) -> actions (B, A)``: the runner's deterministic policy."""
    import torch
    from tensordict import TensorDict

    policy = runner.get_inference_policy()

    def act(obs: dict, step: int) -> np.ndarray:
        with torch.inference_mode():
            td = TensorDict(
                {k: torch.as_tensor(v) for k, v in obs.items()}, batch_size=[num_envs]
            ).to(runner.device)
            return policy(td).cpu().numpy().astype(np.float64)

    return act


__all__ = [
    "BEST",
    "SHAPE_OPTIONS",
    "actor",
    "check_resume_options",
    "latest_checkpoint",
    "load_runner",
    "make_runner",
    "nonfinite_weights",
    "periodic_checkpoints",
    "policy_checkpoint",
    "resume_newest_readable",
    "save_atomically",
]
