"""``TrainConfig``: what ``h2s2r train`` runs, and the environment request it implies.

The config is written, with the resolved task config and the PPO settings, into
``train/config.json``; ``eval`` and ``export`` read it back (:func:`saved_train_config`) so
that they build the task exactly as it was trained.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from h2s2r.core.config import check_options, option
from h2s2r.core.control import ACTION_MODES
from h2s2r.core.env import EnvRequest
from h2s2r.core.errors import ArtifactError, H2S2RError

BACKENDS = ("mujoco", "warp", "isaaclab")
# Isaac Lab runs one simulation per process: the environments a run needs besides the one
# it trains in (validation, export's check) are the same task on MuJoCo.
ONE_SIM_PER_PROCESS = ("isaaclab",)


@dataclass(frozen=True)
class TrainConfig:
    """Options of ``h2s2r train``."""

    # simulation backend: mujoco (CPU threads) | warp (MuJoCo Warp on a GPU)
    backend: str = option("mujoco", choices=BACKENDS)
    # the warp backend's device: cuda:0, cuda:1…, cpu (slow: tests) ('': the GPU if any)
    device: str = ""
    task: str = "track_demo"  # simulation task (the sim stage's registry)
    num_envs: int = option(256, lo=1)  # parallel worlds
    total_steps: int = option(0, lo=0)  # stop after this many env-steps (0: use --budget-min)
    budget_min: float = option(20.0, above=0.0)  # stop after this many minutes of wall clock
    resume: bool = False  # continue from the newest checkpoint in train/
    randomization: str = "medium"  # domain randomization in training: none|small|medium|large
    # palm_synergy (11-D) | joint_delta (23-D)
    action_mode: str = option("palm_synergy", choices=ACTION_MODES)
    # synergy span at |a| = 1, in units of ± 2σ of real hands
    synergy_scale: float = option(1.0, above=0.0)
    recurrent: bool = False  # an LSTM policy instead of an MLP
    steps_per_env: int = option(16, lo=2, hi=10_000)  # rollout length per PPO iteration
    # actor and critic MLP layers (each at least one unit wide)
    hidden_dims: tuple[int, ...] = option((128, 64, 32), lo=1, hi=65536)
    # mini-batches per PPO epoch (0: auto, growing with the worlds: see ppo_config)
    mini_batches: int = option(0, lo=0, hi=4096)
    learning_rate: float = option(1e-3, above=0.0, hi=1.0)
    entropy_coef: float = option(0.005, lo=0.0)
    threads: int = option(0, lo=0, hi=1024)  # simulation threads (0: all cores)
    # torch threads for the PPO update, when the simulation idles (0: all)
    update_threads: int = option(0, lo=0, hi=1024)
    seed: int = option(0, lo=0)  # random seed: initial weights, start poses, noise, variants
    save_every: int = option(20, lo=1)  # iterations between checkpoints
    # iterations between validation runs (0: none; keep the latest)
    validate_every: int = option(50, lo=0)
    # validation worlds (their own start poses, not eval's)
    validate_episodes: int = option(64, lo=1)
    # Task options beyond the flags above (YAML only): reward weights, gates, success
    # thresholds…, e.g. {rewards: {action_rate: -0.02}, success_pos_m: 0.02}.
    task_config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_options(self)
        if self.device and not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise H2S2RError(
                f"--device {self.device!r}: cpu, cuda or cuda:N (e.g. cuda:0); one device "
                "per process — for several GPUs start one process each with "
                "`torchrun --nproc-per-node N h2s2r train …` (docs/gpu.md)"
            )
        samples = self.num_envs * self.steps_per_env
        if self.mini_batches > samples:
            raise H2S2RError(
                f"--mini-batches {self.mini_batches}: more than the {samples} samples of an "
                f"iteration (--num-envs {self.num_envs} × --steps-per-env "
                f"{self.steps_per_env}); use at most {samples}, or 0 (automatic)"
            )
        if self.device and self.backend not in ("warp", "isaaclab"):
            raise H2S2RError(
                f"--device {self.device}: only the warp and isaaclab backends run on a "
                "device (pass --backend warp, or drop --device)"
            )

    def env_request(
        self,
        ws: Path,
        *,
        randomization: str | None = None,
        num_envs: int | None = None,
        seed: int | None = None,
        physics_seed: int | None = None,
        backend: str | None = None,
    ) -> EnvRequest:
        """The environment this run trains on, or one like it (evaluation changes the
        randomization, the worlds and the seeds, never the task)."""
        return EnvRequest(
            workspace=Path(ws),
            num_envs=num_envs or self.num_envs,
            task=self.task,
            randomization=randomization or self.randomization,
            action_mode=self.action_mode,
            synergy_scale=self.synergy_scale,
            task_config=dict(self.task_config),
            seed=self.seed if seed is None else seed,
            physics_seed=physics_seed,
            threads=self.threads,
            backend=backend or self.backend,
            device=self.device if (backend or self.backend) != "mujoco" else "",
        )

    def side_backend(self) -> str:
        """The backend of a second environment in this process (validation, export):
        this run's, except where only one simulation fits in a process (MuJoCo then)."""
        return "mujoco" if self.backend in ONE_SIM_PER_PROCESS else self.backend


# Auto mini-batches: at least 4 (the setting tuned at 256 worlds × 16 steps: 1,024
# samples each) and otherwise about this many samples each, so that thousands of worlds
# get more gradient steps per iteration instead of 4 very large ones (2,048 worlds with 4
# mini-batches were still at 0 % validation success after 2.1M env-steps, where 256
# worlds reach 90 %). Not yet measured on a GPU at 4k–16k worlds.
MINI_BATCH_SAMPLES = 8192


def mini_batches(cfg: TrainConfig) -> int:
    """Mini-batches per PPO epoch: ``cfg.mini_batches``, or the automatic choice."""
    if cfg.mini_batches:
        return cfg.mini_batches
    samples = cfg.num_envs * cfg.steps_per_env
    return min(max(4, samples // MINI_BATCH_SAMPLES), samples)


def ppo_config(cfg: TrainConfig) -> dict:
    """rsl-rl's runner configuration for ``cfg``."""
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
            "num_mini_batches": mini_batches(cfg),
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


def saved_train_config(ws: Path) -> TrainConfig:
    """The ``TrainConfig`` a workspace was trained with (``train/config.json``), so that
    evaluation and export build the same task (action semantics, synergy span, task
    options); without ``config.json`` (a ``train/`` copied with only the files its
    ``meta.json`` lists), the options ``meta.json`` records; the defaults when it was never
    trained."""
    path = Path(ws) / "train" / "config.json"
    meta = path.with_name("meta.json")
    if not path.is_file():
        if not meta.is_file():
            return TrainConfig()
        try:
            saved = dict(json.loads(meta.read_text())["config"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ArtifactError(meta, f"cannot be read ({e})", "re-run `h2s2r train DIR`") from e
    else:
        try:
            config = json.loads(path.read_text())
            saved = dict(config["train"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ArtifactError(path, f"cannot be read ({e})", "re-run `h2s2r train DIR`") from e
        if "hidden_dims" not in saved:  # runs from before the option: the network they built
            saved["hidden_dims"] = config["ppo"]["actor"]["hidden_dims"]
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k in known}
    )


__all__ = ["BACKENDS", "TrainConfig", "mini_batches", "ppo_config", "saved_train_config"]
