"""``h2s2r train``: PPO (``rsl-rl-lib``) on the demo's task in parallel simulation.

Example::

    h2s2r train runs/box --num-envs 256 --budget-min 20          # 20 minutes of training
    h2s2r train runs/box --total-steps 2000000 --resume           # continue a killed run
    h2s2r train runs/box --config configs/train/large_network.yaml

Writes ``train/``: checkpoints ``model_<iteration>.pt``, TensorBoard logs, ``config.json``
(this run's options, the resolved task config and the PPO settings), ``run.json``
(the ``TrainRun`` artifact) and ``progress.jsonl`` (one line per iteration: wall clock,
env-steps, mean episode return and each reward term; the report plots it). Resume picks
the newest checkpoint. The simulation comes from the environment factory the caller
passes (the command line passes the ``sim`` stage's), so this stage imports no simulator.

Validation: every ``validate_every`` iterations the deterministic policy runs one episode
on each of ``validate_episodes`` worlds of its own (same randomization as training; start
poses, noise and latencies that neither training nor ``h2s2r eval`` draw, the same ones
every time so that iterations compare fairly, and physics variants of their own).
The best one (success, then keypoint error) is kept as ``best_model.pt`` with
``best.json``; the curve goes to ``validation.json`` and TensorBoard. ``eval`` and
``export`` use the best by default: late in training, neighbouring checkpoints differ by
up to 15 points of success.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from h2s2r.core.artifacts import Provenance, TrainRun
from h2s2r.core.artifacts.base import atomic_write, to_jsonable
from h2s2r.core.env import ROLLOUT_STEP_BYTES, WORLD_BYTES, EnvFactory, check_memory
from h2s2r.core.errors import H2S2RError
from h2s2r.policy.checkpoints import (
    BEST,
    check_resume_options,
    latest_checkpoint,
    make_runner,
    resume_newest_readable,
)
from h2s2r.policy.config import BACKENDS, TrainConfig, ppo_config
from h2s2r.policy.distributed import (
    SEED_STRIDE,
    Rank,
    broadcast_flag,
    current_rank,
    local_device,
)
from h2s2r.policy.rollout import run_episodes

VALIDATION_SEED = 1_000_003  # + the training seed: start poses neither train nor eval draw


class _BudgetReachedError(Exception):
    """Raised from the per-iteration hook when the step or time budget is spent."""


class TrainingInterruptedError(H2S2RError):
    """Ctrl-C during training, after a checkpoint and ``meta.json`` were saved."""

    exit_code = 130


def _write_json(path: Path, data, indent: int = 2) -> None:
    atomic_write(path, json.dumps(to_jsonable(data), indent=indent).encode())


def use_fused_adam(alg) -> None:
    """Swap the PPO learner's Adam for torch's fused CPU kernel: the same update rule in
    one pass over all parameters instead of a Python loop over them (about 6 % of a PPO
    update here). Before any checkpoint is loaded: the optimizer state loads into it."""
    import torch

    opt = alg.optimizer
    if type(opt) is torch.optim.Adam and len(opt.param_groups) == 1:
        group = opt.param_groups[0]
        alg.optimizer = torch.optim.Adam(
            group["params"], lr=group["lr"], betas=group["betas"], eps=group["eps"], fused=True
        )


PROGRESS = "progress.jsonl"  # one line per iteration: wall clock, return, reward terms


def _reward_terms(logger) -> dict[str, float]:
    """Mean episode return and the mean of each reward term (``/reward/<name>``) over the
    iteration's steps, from rsl-rl's logger buffers."""
    import statistics

    import torch

    rows = getattr(logger, "ep_extras", None) or []
    terms: dict[str, float] = {}
    for key in dict.fromkeys(k for row in rows for k in row):
        if key.startswith("/reward/"):
            vals = [
                torch.as_tensor(row[key], dtype=torch.float32).reshape(())
                for row in rows
                if key in row
            ]
            terms[key.removeprefix("/reward/")] = float(torch.stack(vals).mean())
    returns = list(getattr(logger, "rewbuffer", []))
    if returns:
        terms["episode_return"] = statistics.mean(returns)
    return terms


def _append_progress(path: Path, it: int, env_steps: int, wall: float, terms: dict) -> None:
    row = {"iteration": it, "env_steps": env_steps, "wall_time_s": round(wall, 2)}
    row["terms"] = {k: round(v, 6) for k, v in terms.items()}
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


class Validator:
    """Runs the deterministic policy on its own worlds and keeps the best checkpoint."""

    def __init__(self, ws: Path, cfg: TrainConfig, out: Path, make_env: EnvFactory):
        self.cfg, self.out, self.seed = cfg, out, VALIDATION_SEED + cfg.seed
        # On Isaac Lab (one simulation per process) validation runs the task on MuJoCo.
        self.env = make_env(
            cfg.env_request(
                ws, num_envs=cfg.validate_episodes, seed=self.seed, backend=cfg.side_backend()
            )
        )
        best, hist = out / "best.json", out / "validation.json"
        self.best = json.loads(best.read_text()) if best.is_file() else None
        self.history = json.loads(hist.read_text()) if hist.is_file() else []

    def __call__(self, runner, iteration: int, env_steps: int, wall_s: float) -> dict:
        import torch
        from tensordict import TensorDict

        # The learner's own policy, in eval mode (its normalizer frozen) and, if recurrent,
        # with a fresh hidden state; both are put back afterwards.
        policy = runner.alg.get_policy()
        hidden, was_training = policy.get_hidden_state(), policy.training
        policy.eval()
        policy.reset()
        n = self.env.num_envs

        def act(obs: dict, step: int) -> np.ndarray:
            td = TensorDict({k: torch.from_numpy(v) for k, v in obs.items()}, batch_size=[n])
            return policy(td).numpy().astype(np.float64)

        self.env.seed(self.seed)  # the same episodes every time
        try:
            with torch.inference_mode():
                success, err, _, _ = run_episodes(self.env, act)
        finally:
            policy.reset(hidden_state=hidden)
            policy.train(was_training)
        row = {
            "iteration": iteration,
            "env_steps": env_steps,
            "wall_time_s": round(wall_s, 1),
            "success": float(success.mean()),
            "tracking_err_m": float(err.mean()),
        }
        self.history.append(row)
        _write_json(self.out / "validation.json", self.history, indent=1)
        key = (row["success"], -row["tracking_err_m"])
        if self.best is None or key > (self.best["success"], -self.best["tracking_err_m"]):
            self.best = row
            runner.save(str(self.out / BEST))
            _write_json(self.out / "best.json", row)
        writer = runner.logger.writer
        if writer is not None:
            writer.add_scalar("Validation/success", row["success"], iteration)
            writer.add_scalar("Validation/tracking_err_m", row["tracking_err_m"], iteration)
            writer.add_scalar("Validation/best_success", self.best["success"], iteration)
        return row

    def close(self) -> None:
        self.env.close()


def run_train(
    ws: str | Path,
    cfg: TrainConfig,
    make_env: EnvFactory,
    progress=None,
    log=print,
) -> TrainRun | None:
    """Train PPO on the workspace's task in environments from ``make_env`` (the
    simulation backend's factory: :func:`h2s2r.sim.tasks.make_env`). Under ``torchrun``
    (:mod:`h2s2r.policy.distributed`) rank 0 returns the run and the other ranks None."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    if cfg.backend not in BACKENDS:
        raise H2S2RError(f"--backend {cfg.backend!r}: one of {list(BACKENDS)}")
    ws = Path(ws)
    rank = current_rank()
    if rank.world_size > 1:
        if cfg.backend == "warp":
            cfg = replace(cfg, device=local_device(cfg.device, rank))
        if not rank.main:
            return _follow(ws, cfg, make_env, rank)
        log(
            f"data-parallel training: {rank.world_size} processes × {cfg.num_envs} worlds, "
            "gradients all-reduced; this process (rank 0) writes train/"
        )
    out = ws / "train"
    if out.exists() and latest_checkpoint(out) is not None and not cfg.resume:
        raise H2S2RError(
            f"{out} already holds a training run — pass --resume to continue "
            "it, or delete train/ to start over"
        )
    if cfg.recurrent:
        log("note: a recurrent policy can be evaluated (h2s2r eval) but not exported yet")
    resume = cfg.resume
    if resume and (not out.is_dir() or latest_checkpoint(out) is None):
        log(f"--resume: {out} holds no checkpoint yet: starting a new run")
        resume = False
    if resume:
        check_resume_options(out, cfg)  # before anything in train/ is touched
    elif out.is_dir() and any(out.iterdir()):
        # An attempt that stopped before its first checkpoint (a full disk, a crash): its
        # validation history, best_model.pt and logs belong to no run; start clean.
        log(f"{out}: the remains of an attempt without checkpoints are removed")
        shutil.rmtree(out)
    per_world = WORLD_BYTES + cfg.steps_per_env * ROLLOUT_STEP_BYTES
    check_memory(cfg.num_envs, per_world, "--num-envs", log)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(1)  # the simulation's threads need the cores
    env = make_env(cfg.env_request(ws))
    train_cfg = ppo_config(cfg)
    out.mkdir(parents=True, exist_ok=True)
    runner = make_runner(env, cfg, log_dir=out)
    runner.logger.log_dir = str(out)
    use_fused_adam(runner.alg)
    state_path = out / "state.json"
    env_steps, wall = 0, 0.0
    per_it = cfg.num_envs * cfg.steps_per_env * rank.world_size  # env-steps of all ranks
    if resume:
        ck = resume_newest_readable(runner, out, log)
        # The run is open again: until it ends, meta.json would list checkpoints that
        # change; without it, eval and export say to continue with --resume.
        (out / "meta.json").unlink(missing_ok=True)
        lost = 0
        if state_path.is_file():
            st = json.loads(state_path.read_text())
            # A killed run logged iterations after its last checkpoint: they are done again
            # from the checkpoint, so their env-steps do not count; their time does.
            lost = max(int(st["iteration"]) - runner.current_learning_iteration, 0)
            env_steps = int(st["env_steps"]) - lost * per_it
            wall = float(st["wall_time_s"])
        log(
            f"resuming from {ck.name} ({env_steps:,} env-steps in it"
            + (f"; {lost} iterations after it are done again)" if lost else ")")
        )
    config = {"train": asdict(cfg), "task": to_jsonable(env.cfg), "ppo": train_cfg}
    _write_json(out / "config.json", config)
    t_start = time.perf_counter() - wall
    done_steps = env_steps
    original_log = runner.logger.log
    validator = Validator(ws, cfg, out, make_env) if cfg.validate_every else None

    def log_and_check(*args, **kwargs):
        # rsl-rl prints a table every iteration: keep it in train/console.log, show a bar.
        nonlocal env_steps, wall
        terms = _reward_terms(runner.logger)  # before the logger clears its buffers
        with open(out / "console.log", "a") as f, contextlib.redirect_stdout(f):
            original_log(*args, **kwargs)
        env_steps += per_it
        wall = time.perf_counter() - t_start
        it = runner.current_learning_iteration
        _append_progress(out / PROGRESS, it, env_steps, wall, terms)
        if validator is not None and (it + 1) % cfg.validate_every == 0:
            validator(runner, it, env_steps, wall)
            wall = time.perf_counter() - t_start  # validation is part of the budget
        _write_json(
            state_path,
            {
                "env_steps": env_steps,
                "wall_time_s": wall,
                "iteration": runner.current_learning_iteration,
            },
            indent=None,
        )
        if progress:
            if cfg.total_steps:
                progress(env_steps, cfg.total_steps)
            else:
                progress(int(wall), int(cfg.budget_min * 60))
        spent = (cfg.total_steps and env_steps >= cfg.total_steps) or (
            not cfg.total_steps and wall >= cfg.budget_min * 60
        )
        if broadcast_flag(bool(spent)):  # the other ranks of a torchrun job stop with it
            raise _BudgetReachedError

    runner.logger.log = log_and_check
    # Collection runs the policy on one torch thread beside MuJoCo's threads; the update
    # has the cores to itself.
    update, update_threads = runner.alg.update, cfg.update_threads or os.cpu_count() or 1

    def update_on_all_cores(*args, **kwargs):
        torch.set_num_threads(update_threads)
        try:
            return update(*args, **kwargs)
        finally:
            torch.set_num_threads(1)

    runner.alg.update = update_on_all_cores
    iterations = 10**9 if not cfg.total_steps else -(-(cfg.total_steps - done_steps) // per_it)
    interrupted = False
    with (
        open(out / "console.log", "a") as f,
        contextlib.redirect_stdout(f),
        contextlib.suppress(_BudgetReachedError),
    ):
        try:
            with _stop_signals_interrupt():
                runner.learn(max(iterations, 1), init_at_random_ep_len=done_steps == 0)
        except KeyboardInterrupt:
            # Ctrl-C: the weights of the last finished update are a valid policy; save
            # them and meta.json as at the end of a run, so eval, export and --resume work.
            interrupted = True
    ck = out / f"model_{runner.current_learning_iteration}.pt"
    runner.save(str(ck))
    env.close()
    if validator is not None:
        validator.close()
    ckpts = tuple(p.name for p in sorted(out.glob("model_*.pt")))
    ckpts += (BEST,) if (out / BEST).is_file() else ()
    art = TrainRun(
        checkpoints=ckpts,
        env_steps=env_steps,
        wall_time_s=wall,
        backend=cfg.backend,
        provenance=Provenance.of_files(
            ws, [ws / "task" / "meta.json", ws / "object" / "meta.json"], config=asdict(cfg)
        ),
    )
    art.save(out)
    if interrupted:
        raise TrainingInterruptedError(
            f"training interrupted after {env_steps:,} env-steps: saved {out / ck.name} and "
            f"{out / 'meta.json'} (eval and export can use them); continue with "
            f"`h2s2r train {ws} --resume`"
        )
    best = validator.best if validator is not None else None
    _leave_process_group()
    log(
        f"trained {env_steps:,} env-steps in {wall / 60:.1f} min "
        f"({env_steps / max(wall, 1e-9):,.0f} env-steps/s incl. learning); latest {ck.name}"
        + (
            f"; best validation {best['success']:.0%} at iteration {best['iteration']} ({BEST})"
            if best
            else ""
        )
    )
    return art


def _follow(ws: Path, cfg: TrainConfig, make_env: EnvFactory, rank: Rank) -> None:
    """A process of rank > 0 in a ``torchrun`` job: its own worlds (seeds offset by the
    rank), the same updates as rank 0 (gradients all-reduced), no files; it stops when
    rank 0 says the budget is spent."""
    import torch

    cfg = replace(cfg, seed=cfg.seed + SEED_STRIDE * rank.rank)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(1)
    env = make_env(cfg.env_request(ws))
    runner = make_runner(env, cfg)  # no log_dir: rank 0 writes train/
    use_fused_adam(runner.alg)

    def follow(*args, **kwargs):
        if broadcast_flag(False):
            raise _BudgetReachedError

    runner.logger.log = follow
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(_BudgetReachedError):
        runner.learn(10**9, init_at_random_ep_len=True)
    env.close()
    _leave_process_group()


@contextlib.contextmanager
def _stop_signals_interrupt():
    """SIGTERM (a scheduler, ``kill``) and SIGHUP (a closed terminal or ssh session) end
    training the way Ctrl-C does: with a checkpoint and ``meta.json``, so ``--resume``,
    ``eval``, ``export`` and ``h2s2r run`` go on from there."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    old = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _leave_process_group() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
