"""``h2s2r train``: PPO (``rsl-rl-lib``) on the demo's task in parallel simulation.

Example::

    h2s2r train runs/box --num-envs 256 --budget-min 20          # 20 minutes of training
    h2s2r train runs/box --total-steps 2000000 --resume           # continue a killed run

Writes ``train/``: checkpoints ``model_<iteration>.pt``, TensorBoard logs, the config, and
``run.json`` (the ``TrainRun`` artifact). Resume picks the newest checkpoint.

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
import json
import os
import re
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from pipeline.artifacts import ObjectMesh, Provenance, Task, TrainRun
from pipeline.errors import H2S2RError


@dataclass(frozen=True)
class TrainConfig:
    """Options of ``h2s2r train``."""

    backend: str = "mujoco"  # simulation backend: mujoco (CPU)
    num_envs: int = 256  # parallel worlds
    total_steps: int = 0  # stop after this many env-steps (0: use --budget-min)
    budget_min: float = 20.0  # stop after this many minutes of wall clock
    resume: bool = False  # continue from the newest checkpoint in train/
    randomization: str = "medium"  # domain randomization in training: none|small|medium|large
    action_mode: str = "palm_synergy"  # palm_synergy (11-D) | joint_delta (23-D)
    synergy_scale: float = 1.0  # synergy span at |a| = 1, in units of ± 2σ of real hands
    recurrent: bool = False  # an LSTM policy instead of an MLP
    steps_per_env: int = 16  # rollout length per PPO iteration
    hidden_dims: tuple[int, ...] = (128, 64, 32)  # actor and critic MLP layers
    learning_rate: float = 1e-3
    entropy_coef: float = 0.005
    threads: int = 0  # simulation threads (0: all cores)
    update_threads: int = 0  # torch threads for the PPO update, when the simulation idles (0: all)
    seed: int = 0
    save_every: int = 20  # iterations between checkpoints
    validate_every: int = 50  # iterations between validation runs (0: none; keep the latest)
    validate_episodes: int = 64  # validation worlds (their own start poses, not eval's)


VALIDATION_SEED = 1_000_003  # + the training seed: start poses neither train nor eval draw
BEST = "best_model.pt"


class _BudgetReachedError(Exception):
    """Raised from the per-iteration hook when the step or time budget is spent."""


def ppo_config(cfg: TrainConfig) -> dict:
    model = "RNNModel" if cfg.recurrent else "MLPModel"
    common = {
        "class_name": model,
        "hidden_dims": list(cfg.hidden_dims),
        "activation": "elu",
        "obs_normalization": True,
    }
    if cfg.recurrent:
        common.update(rnn_type="lstm", rnn_hidden_dim=128, rnn_num_layers=1)
    return {
        "num_steps_per_env": cfg.steps_per_env,
        "save_interval": cfg.save_every,
        "obs_groups": {"actor": ["policy"], "critic": ["critic"]},
        "algorithm": {
            "class_name": "PPO",
            "num_learning_epochs": 5,
            "num_mini_batches": 4,
            "clip_param": 0.2,
            "gamma": 0.99,
            "lam": 0.95,
            "value_loss_coef": 1.0,
            "entropy_coef": cfg.entropy_coef,
            "learning_rate": cfg.learning_rate,
            "max_grad_norm": 1.0,
            "schedule": "adaptive",
            "desired_kl": 0.01,
        },
        "actor": {
            **common,
            "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": 0.5},
        },
        "critic": dict(common),
        "logger": "tensorboard",
        "multi_gpu": None,
        "check_for_nan": True,
    }


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


def saved_train_config(ws: Path) -> TrainConfig:
    """The ``TrainConfig`` a workspace was trained with (``train/config.json``), so that
    evaluation and export build the same task (action semantics, synergy span); the
    defaults when it was never trained."""
    path = Path(ws) / "train" / "config.json"
    if not path.is_file():
        return TrainConfig()
    config = json.loads(path.read_text())
    saved = config["train"]
    if "hidden_dims" not in saved:  # runs from before the option: the network they built
        saved["hidden_dims"] = config["ppo"]["actor"]["hidden_dims"]
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k in known}
    )


def latest_checkpoint(folder: Path) -> Path | None:
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


class Validator:
    """Runs the deterministic policy on its own worlds and keeps the best checkpoint."""

    def __init__(self, ws: Path, cfg: TrainConfig, out: Path):
        self.cfg, self.out, self.seed = cfg, out, VALIDATION_SEED + cfg.seed
        self.env = make_env(ws, cfg, num_envs=cfg.validate_episodes, seed=self.seed)
        best, hist = out / "best.json", out / "validation.json"
        self.best = json.loads(best.read_text()) if best.is_file() else None
        self.history = json.loads(hist.read_text()) if hist.is_file() else []

    def __call__(self, runner, iteration: int, env_steps: int, wall_s: float) -> dict:
        import torch
        from tensordict import TensorDict

        from policy.evaluate import run_episodes

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

        self.env.rng = np.random.default_rng(self.seed)  # the same episodes every time
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
        (self.out / "validation.json").write_text(json.dumps(self.history, indent=1))
        key = (row["success"], -row["tracking_err_m"])
        if self.best is None or key > (self.best["success"], -self.best["tracking_err_m"]):
            self.best = row
            runner.save(str(self.out / BEST))
            (self.out / "best.json").write_text(json.dumps(row, indent=2))
        writer = runner.logger.writer
        if writer is not None:
            writer.add_scalar("Validation/success", row["success"], iteration)
            writer.add_scalar("Validation/tracking_err_m", row["tracking_err_m"], iteration)
            writer.add_scalar("Validation/best_success", self.best["success"], iteration)
        return row

    def close(self) -> None:
        self.env.close()


def make_env(
    ws: Path,
    cfg: TrainConfig,
    randomization: str | None = None,
    num_envs=None,
    seed=None,
    physics_seed: int | None = None,
):
    from sim.tasks.track_demo import TrackDemoEnv, make_task_cfg

    task = Task.load(ws / "task")
    mesh = ObjectMesh.load(ws / "object")
    task_cfg = make_task_cfg(randomization or cfg.randomization, cfg.action_mode, cfg.synergy_scale)
    return TrackDemoEnv(
        task,
        mesh,
        task_cfg,
        num_envs=num_envs or cfg.num_envs,
        nthread=cfg.threads or os.cpu_count(),
        seed=cfg.seed if seed is None else seed,
        physics_seed=physics_seed,
    )


def run_train(
    ws: str | Path, cfg: TrainConfig = TrainConfig(), progress=None, log=print
) -> TrainRun:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    from rsl_rl.runners import OnPolicyRunner

    from policy.rsl_env import RslVecEnv

    if cfg.backend != "mujoco":
        raise H2S2RError(f"--backend {cfg.backend!r}: only 'mujoco' (CPU) exists so far")
    ws = Path(ws)
    out = ws / "train"
    if out.exists() and latest_checkpoint(out) is not None and not cfg.resume:
        raise H2S2RError(
            f"{out} already holds a training run — pass --resume to continue "
            "it, or delete train/ to start over"
        )
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(1)  # the simulation's threads need the cores
    env = make_env(ws, cfg)
    venv = RslVecEnv(env)
    train_cfg = ppo_config(cfg)
    out.mkdir(parents=True, exist_ok=True)
    runner = OnPolicyRunner(venv, train_cfg, log_dir=str(out), device="cpu")
    runner.logger.log_dir = str(out)
    use_fused_adam(runner.alg)
    state_path = out / "state.json"
    env_steps, wall = 0, 0.0
    per_it = cfg.num_envs * cfg.steps_per_env
    if cfg.resume:
        ck = latest_checkpoint(out)
        if ck is None:
            raise H2S2RError(f"--resume: no checkpoint in {out}")
        runner.load(str(ck))
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
    (out / "config.json").write_text(json.dumps({"train": asdict(cfg), "ppo": train_cfg}, indent=2))
    t_start = time.perf_counter() - wall
    done_steps = env_steps
    original_log = runner.logger.log
    validator = Validator(ws, cfg, out) if cfg.validate_every else None

    def log_and_check(*args, **kwargs):
        # rsl-rl prints a table every iteration: keep it in train/console.log, show a bar.
        nonlocal env_steps, wall
        with open(out / "console.log", "a") as f, contextlib.redirect_stdout(f):
            original_log(*args, **kwargs)
        env_steps += per_it
        wall = time.perf_counter() - t_start
        it = runner.current_learning_iteration
        if validator is not None and (it + 1) % cfg.validate_every == 0:
            validator(runner, it, env_steps, wall)
            wall = time.perf_counter() - t_start  # validation is part of the budget
        state_path.write_text(
            json.dumps(
                {
                    "env_steps": env_steps,
                    "wall_time_s": wall,
                    "iteration": runner.current_learning_iteration,
                }
            )
        )
        if progress:
            if cfg.total_steps:
                progress(env_steps, cfg.total_steps)
            else:
                progress(int(wall), int(cfg.budget_min * 60))
        if (cfg.total_steps and env_steps >= cfg.total_steps) or (
            not cfg.total_steps and wall >= cfg.budget_min * 60
        ):
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
    with (
        open(out / "console.log", "a") as f,
        contextlib.redirect_stdout(f),
        contextlib.suppress(_BudgetReachedError),
    ):
        runner.learn(max(iterations, 1), init_at_random_ep_len=done_steps == 0)
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
    best = validator.best if validator is not None else None
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
