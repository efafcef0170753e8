"""Simulation backends: many worlds of one model stepped in parallel.

- ``mujoco`` (:class:`~h2s2r.sim.backends.mujoco_cpu.BatchedSim`): MuJoCo on CPU threads,
  numpy state (float64);
- ``warp`` (:class:`~h2s2r.sim.backends.mujoco_warp.WarpSim`): MuJoCo Warp on a GPU (or
  Warp's CPU device), torch tensors sharing memory with the device state (float32);
- ``isaaclab`` (:class:`~h2s2r.sim.backends.isaaclab.env.IsaacLabSim`): Isaac Lab 3 on
  Newton (kit-less; its own Python 3.12 environment, ``make isaaclab-env``), the scene
  converted to USD from the same ``MjSpec``.

The task (:mod:`h2s2r.sim.tasks.track_demo`) is written once against what both offer:
``arrays`` (the array namespace, device and float type), ``qpos()``, ``qvel()``,
``sensordata``, ``finite()``, ``step(ctrl (B, S, nu))``, ``reset(mask, qpos)``,
``assign_variants(mask, variant)``, ``template_qpos``, ``model`` and ``close()``.
"""

from __future__ import annotations

import mujoco

from h2s2r.core.errors import RegistryError
from h2s2r.sim.backends.common import interpolate_targets, keep_divergence

BACKENDS = ("mujoco", "warp", "isaaclab")


def make_sim(
    backend: str,
    model: mujoco.MjModel,
    variants: list[mujoco.MjModel],
    num_worlds: int,
    nthread: int | None = None,
    device: str | None = None,
    scene=None,
):
    """``num_worlds`` worlds of ``model`` (each stepping one of ``variants``) on
    ``backend``; ``nthread`` for ``mujoco``, ``device`` (``cuda:0``, ``cpu``) for
    ``warp`` and ``isaaclab``; ``scene`` (the :class:`~h2s2r.sim.scene.TaskScene`, its
    ``MjSpec``) for ``isaaclab``."""
    if backend == "mujoco":
        from h2s2r.sim.backends.mujoco_cpu import BatchedSim

        return BatchedSim(model, num_worlds, nthread=nthread, variants=variants)
    if backend == "warp":
        from h2s2r.sim.backends.mujoco_warp import WarpSim

        return WarpSim(model, num_worlds, variants=variants, device=device)
    if backend == "isaaclab":
        from h2s2r.sim.backends.isaaclab.env import IsaacLabSim

        return IsaacLabSim(model, num_worlds, variants=variants, device=device, scene=scene)
    raise RegistryError("backend", backend, list(BACKENDS))


__all__ = ["BACKENDS", "interpolate_targets", "keep_divergence", "make_sim"]
