"""The batched-environment contract between the simulator and the learner.

A simulation backend (the ``sim`` stage) builds environments; the ``policy`` stage trains,
validates, evaluates and exports through them. Neither imports the other: the command
line passes a backend's :data:`EnvFactory` to the policy stage, which asks it for an
environment with an :class:`EnvRequest` and uses only the :class:`BatchedEnv` methods.

Shapes: ``B`` worlds, ``A`` action size, ``P`` / ``C`` policy / critic observation sizes,
``n`` robot joints, ``nq`` model positions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from h2s2r.core.artifacts import Task
from h2s2r.core.control import Controller
from h2s2r.core.errors import H2S2RError
from h2s2r.core.xp import is_torch, to_numpy


@dataclass(frozen=True)
class EnvRequest:
    """What the learner asks a backend for."""

    workspace: Path  # a demo workspace with task/ and object/
    num_envs: int  # parallel worlds
    task: str = "track_demo"  # the sim stage's task registry name
    randomization: str = "none"  # domain randomization preset
    action_mode: str = "palm_synergy"  # controller action semantics
    synergy_scale: float = 1.0  # synergy span at |a| = 1
    # Further task options (nested mapping: reward weights, gates, success thresholds…);
    # the backend validates them against its task config.
    task_config: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0  # episode randomness: start poses, noise, latencies
    physics_seed: int | None = None  # physics variants (None: ``seed``)
    threads: int = 0  # simulation threads (0: all cores)
    backend: str = "mujoco"  # mujoco (CPU threads) | warp (MuJoCo Warp, state on the device)
    device: str = ""  # the warp backend's device: cuda:0, cpu ('': a GPU if there is one)


class TaskConfigLike(Protocol):
    """The resolved task config a :class:`BatchedEnv` exposes as ``cfg``."""

    ctrl_dt_s: float  # policy period (s)
    physics_dt_s: float  # physics step (s)
    randomization: str


class BatchedEnv(Protocol):
    """``B`` worlds of one task, numpy in and out.

    ``step`` returns ``(obs, reward (B,), terminated (B,), truncated (B,), info)``; ``obs``
    is ``{"policy": (B, P), "critic": (B, C)}`` float32 (None with ``observe=False``) and
    ``info`` holds ``reward_terms`` ``{name: (B,)}``, ``keypoint_distance`` ``(B,)`` m,
    ``success``, ``unstable`` (the physics diverged: terminated, reward 0; reset at once,
    or with ``observe=False`` by the caller's reset of the finished worlds) and
    ``goal_progress`` ``(B,)``.
    """

    name: str  # the task registry name
    num_envs: int
    action_dim: int
    max_steps: int  # policy steps of the longest episode
    steps: np.ndarray  # (B,) policy steps into each world's episode
    cfg: TaskConfigLike  # resolved task config (a frozen dataclass)
    task: Task  # the demo-derived task artifact
    controller: Controller  # actions → joint targets
    model: Any  # the unrandomized mujoco.MjModel (for rendering)

    def seed(self, seed: int) -> None:
        """Restart episode randomness (start poses, noise, latencies) from ``seed``."""

    def reset(self, ids: np.ndarray) -> None:
        """Start new episodes in worlds ``ids``."""

    def observe(self) -> dict[str, np.ndarray]: ...

    def step(self, action: np.ndarray, observe: bool = True) -> tuple: ...

    def step_targets(
        self, target: np.ndarray, action: np.ndarray | None = None, observe: bool = True
    ) -> tuple:
        """One policy step toward joint targets ``(B, n)`` (a replay's, not the policy's)."""

    def object_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Object positions ``(B, 3)`` and wxyz orientations ``(B, 4)``, base frame."""

    def qpos(self) -> np.ndarray:
        """``(B, nq)`` model positions (for rendering a world)."""

    def close(self) -> None: ...


EnvFactory = Callable[[EnvRequest], BatchedEnv]


def _host(x: Any) -> Any:
    """``x`` with every torch tensor in it (dicts, tuples) as a host numpy array."""
    if isinstance(x, dict):
        return {k: _host(v) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(_host(v) for v in x)
    return to_numpy(x) if is_torch(x) else x


class HostEnv:
    """A :class:`BatchedEnv` seen from the host: whatever device its arrays live on
    (the warp backend's torch tensors), ``step``, ``observe``, ``object_pose``… return
    numpy. For validation, evaluation and baselines, which run a few hundred worlds and
    read results on the host; training collects from the env itself."""

    def __init__(self, env: BatchedEnv):
        self.env = env

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.env, name)
        if callable(value) and name in _HOST_METHODS:
            return lambda *a, **k: _host(value(*a, **k))
        return _host(value) if name == "steps" else value


_HOST_METHODS = {"step", "step_targets", "observe", "object_pose", "qpos", "robot_q"}


def as_host(env: BatchedEnv) -> BatchedEnv:
    """``env``, or a :class:`HostEnv` over it when its arrays are not numpy."""
    arrays = getattr(env, "arrays", None)
    if isinstance(env, HostEnv) or arrays is None or not arrays.torch:
        return env
    return HostEnv(env)  # type: ignore[return-value]


# Memory one world holds while it steps (its state, observations, rewards, info): 13 kB
# measured for iiwa_allegro's track_demo (peak RSS, 256 vs 4096 worlds), with a margin.
WORLD_BYTES = 20_000
# One stored PPO rollout step of one world: policy and critic observations (~230 floats),
# actions, their mean and std, rewards, values, returns, advantages; float32, with a margin.
ROLLOUT_STEP_BYTES = 2_000


def available_memory_bytes() -> int:
    """Memory the system can give without swapping (``MemAvailable``), or the physical
    memory where that is unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(worlds: int, bytes_per_world: int, flag: str, log=print) -> None:
    """Stop before building ``worlds`` worlds that would not fit in memory (the error names
    ``flag`` and the most that fit); say the estimate when it is large."""
    need, free = worlds * bytes_per_world, available_memory_bytes()
    fit = int(0.8 * free) // bytes_per_world
    if need > 0.8 * free:
        raise H2S2RError(
            f"{flag} {worlds:,} needs about {need / 1e9:.1f} GB of memory "
            f"({bytes_per_world / 1e3:.0f} kB per world) but {free / 1e9:.1f} GB are "
            f"available; use at most {fit:,}"
        )
    if need > 1e9:
        log(f"{worlds:,} worlds: about {need / 1e9:.1f} GB of {free / 1e9:.1f} GB available")


__all__ = [
    "ROLLOUT_STEP_BYTES",
    "WORLD_BYTES",
    "BatchedEnv",
    "EnvFactory",
    "EnvRequest",
    "HostEnv",
    "TaskConfigLike",
    "as_host",
    "available_memory_bytes",
    "check_memory",
]
