"""Simulation backends for the policy stage: the application layer picks one and passes
its environment factory down (the policy stage imports no simulator)."""

from __future__ import annotations

from h2s2r.core.env import EnvFactory
from h2s2r.core.errors import H2S2RError

BACKENDS = ("mujoco", "warp", "isaaclab")


def env_factory(backend: str) -> EnvFactory:
    """The :data:`h2s2r.core.env.EnvFactory` of ``backend``: the sim stage's task registry
    serves both (the request names the backend and its device); ``warp`` needs its extra,
    checked here so that a missing package fails before any set-up."""
    if backend not in BACKENDS:
        raise H2S2RError(f"--backend {backend!r}: one of {list(BACKENDS)}")
    if backend == "warp":
        from h2s2r.sim.backends.mujoco_warp import import_warp

        import_warp()
    if backend == "isaaclab":
        from h2s2r.sim.backends.isaaclab.env import import_isaaclab

        import_isaaclab()
    from h2s2r.sim.tasks import make_env

    return make_env


def check_task_config(cfg, where: str) -> None:
    """Fail now, not after minutes of set-up, if a ``TrainConfig``'s task, preset, action
    options or ``task_config`` are not valid for its backend's task."""
    env_factory(cfg.backend)
    from h2s2r.sim.tasks import task_config

    task_config(
        cfg.task,
        cfg.randomization,
        cfg.action_mode,
        cfg.synergy_scale,
        cfg.task_config,
        where=f"{where}: task_config",
    )


__all__ = ["BACKENDS", "check_task_config", "env_factory"]
