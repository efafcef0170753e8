"""Simulation tasks (one file each) built from the ``task/`` artifact, and their registry.

``make_env`` is this backend's :data:`h2s2r.core.env.EnvFactory`: the command line hands
it to the policy stage, which asks for environments with an
:class:`h2s2r.core.env.EnvRequest`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from h2s2r.core.artifacts import ObjectMesh, Task
from h2s2r.core.config import apply_overrides
from h2s2r.core.env import EnvRequest
from h2s2r.core.errors import H2S2RError, RegistryError
from h2s2r.sim.tasks.track_demo import TaskConfig, TrackDemoEnv, make_task_cfg


@dataclass(frozen=True)
class TaskEntry:
    """A registered task: its environment class and its config factory."""

    env: Callable[..., Any]  # (task, mesh, cfg, num_envs, nthread, seed, physics_seed)
    make_config: Callable[..., Any]  # (randomization, action_mode, synergy_scale) → config


TASKS: dict[str, TaskEntry] = {
    "track_demo": TaskEntry(env=TrackDemoEnv, make_config=make_task_cfg),
}
# Options a request sets with its own fields (the train/eval flags), not in task_config.
_REQUEST_FIELDS = {"randomization": "--randomization"}
_CONTROLLER_REQUEST_FIELDS = {"mode": "--action-mode", "synergy_scale": "--synergy-scale"}


def get_task(name: str) -> TaskEntry:
    """The registry entry ``name``; the error lists the valid names."""
    try:
        return TASKS[name]
    except KeyError:
        raise RegistryError("task", name, list(TASKS)) from None


def task_config(
    name: str,
    randomization: str = "none",
    action_mode: str = "palm_synergy",
    synergy_scale: float = 1.0,
    overrides: Mapping[str, Any] | None = None,
    where: str = "task_config",
) -> TaskConfig:
    """The resolved config of task ``name``: its defaults, the preset and action options,
    then ``overrides`` (a nested mapping, e.g. ``{"rewards": {"action_rate": -0.02}}``),
    each checked against the config's fields and types."""
    entry = get_task(name)
    overrides = dict(overrides or {})
    for key, flag in _REQUEST_FIELDS.items():
        if key in overrides:
            raise H2S2RError(f"{where}: set {key} with {flag}, not in task_config")
    for key, flag in _CONTROLLER_REQUEST_FIELDS.items():
        if key in (overrides.get("controller") or {}):
            raise H2S2RError(f"{where}: set controller.{key} with {flag}, not in task_config")
    try:
        base = entry.make_config(randomization, action_mode, synergy_scale)
    except ValueError as e:
        raise H2S2RError(f"{where}: {e}") from e
    return apply_overrides(base, overrides, where)


def make_env(req: EnvRequest) -> TrackDemoEnv:
    """An environment for ``req`` (the :data:`h2s2r.core.env.EnvFactory` of this backend)."""
    entry = get_task(req.task)
    cfg = task_config(
        req.task, req.randomization, req.action_mode, req.synergy_scale, req.task_config
    )
    ws = req.workspace
    return entry.env(
        Task.load(ws / "task"),
        ObjectMesh.load(ws / "object"),
        cfg,
        num_envs=req.num_envs,
        nthread=req.threads or os.cpu_count(),
        seed=req.seed,
        physics_seed=req.physics_seed,
        backend=req.backend,
        device=req.device or None,
    )


__all__ = ["TASKS", "TaskEntry", "get_task", "make_env", "task_config"]
