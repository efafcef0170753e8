"""Many MuJoCo worlds stepped in parallel on the CPU, with no per-world Python loop.

``mujoco.rollout`` advances every world ``nsub`` physics steps under a given control
sequence in C++ threads (a persistent pool), from and to full physics states, and
returns the sensor readings of each substep. A policy step is one call: the joint targets
of all worlds, interpolated across the substeps (a target that jumps at the start of a
policy step makes the palm kick the object).

Shapes: ``B`` worlds, ``S`` substeps per policy step, ``nstate`` MuJoCo full-physics
state size, ``nu`` actuators, ``ns`` sensor values.
"""

from __future__ import annotations

import os

import mujoco
import numpy as np
from mujoco import rollout

from h2s2r.core.xp import Arrays
from h2s2r.sim.backends.common import keep_divergence

STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS


class BatchedSim:
    """``B`` copies of one model, stepped together (the ``mujoco`` backend: numpy state,
    float64, :mod:`h2s2r.sim.backends` describes the interface).

    Attributes:
        state: ``(B, nstate)`` full physics state of each world.
        sensordata: ``(B, ns)`` sensors after the last substep.
    """

    arrays = Arrays("numpy", "float64")

    def __init__(
        self,
        model: mujoco.MjModel,
        num_worlds: int,
        nthread: int | None = None,
        variants: list[mujoco.MjModel] | None = None,
    ):
        # A world whose physics blows up must keep its NaN so the caller sees it: MuJoCo's
        # default silently resets such a world to qpos0 in mid-rollout (a teleported
        # object, an episode that looks merely failed). Per-world models (``models``)
        # need the same flag: :func:`keep_divergence`.
        keep_divergence(model)
        self.model = model
        self.num_worlds = num_worlds
        self.nthread = nthread or os.cpu_count() or 1
        self.datas = [mujoco.MjData(model) for _ in range(self.nthread)]
        self.nstate = mujoco.mj_stateSize(model, STATE)
        base = mujoco.MjData(model)
        if model.nkey:
            mujoco.mj_resetDataKeyframe(model, base, 0)
        mujoco.mj_forward(model, base)
        self._template = np.empty(self.nstate)
        mujoco.mj_getState(model, base, self._template, STATE)
        self.state = np.tile(self._template, (num_worlds, 1))
        self.sensordata = np.tile(base.sensordata, (num_worlds, 1))
        self.runner = rollout.Rollout(nthread=self.nthread)
        # Randomized copies of ``model`` (domain randomization) and the one each world
        # steps (``assign_variants``); None: all worlds share ``model``.
        self.variants = variants or [model]
        self.models: list[mujoco.MjModel] | None = None

    def step(self, ctrl: np.ndarray) -> np.ndarray:
        """Advance every world ``S`` physics steps with ``ctrl (B, S, nu)``.

        Returns the sensor readings of every substep, ``(B, S, ns)``.
        """
        S = ctrl.shape[1]
        models = self.models if self.models is not None else self.model
        states, sensors = self.runner.rollout(models, self.datas, self.state, ctrl, nstep=S)
        self.state = states[:, -1].copy()
        self.sensordata = sensors[:, -1].copy()
        return sensors

    @property
    def template_qpos(self) -> np.ndarray:
        """``(nq,)`` positions every world starts from (the model's first keyframe)."""
        return self._template[1 : 1 + self.model.nq]

    def qpos(self) -> np.ndarray:
        """``(B, nq)`` joint positions (a view into the state; after the time value)."""
        return self.state[:, 1 : 1 + self.model.nq]

    def qvel(self) -> np.ndarray:
        nq = self.model.nq
        return self.state[:, 1 + nq : 1 + nq + self.model.nv]

    def finite(self) -> np.ndarray:
        """``(B,)`` whether each world's state is free of NaN and infinity."""
        return np.isfinite(self.state).all(axis=1)

    def assign_variants(self, mask: np.ndarray, variant: np.ndarray) -> None:
        """World ``b`` steps ``variants[variant[b]]`` from now on (``mask``: the worlds
        that changed; every world is set here, it costs a list)."""
        if len(self.variants) > 1 or self.models is not None:
            self.models = [self.variants[k] for k in variant]

    def reset(
        self, worlds: np.ndarray, qpos: np.ndarray | None = None, qvel: np.ndarray | None = None
    ) -> None:
        """Reset the given worlds (indices or a ``(B,)`` bool mask) to the template state,
        then optional positions/velocities (``(B, nq)`` for a mask: the masked rows are
        used; else one row per world).

        Their ``sensordata`` is recomputed at the new state (``mj_forward``), so that the
        first observation of an episode does not show the last one's sensors."""
        worlds = np.asarray(worlds)
        if worlds.dtype == bool:
            if qpos is not None:
                qpos = qpos[worlds]
            if qvel is not None:
                qvel = qvel[worlds]
            worlds = np.nonzero(worlds)[0]
        worlds = np.atleast_1d(np.arange(self.num_worlds)[worlds])
        if len(worlds) == 0:
            return
        self.state[worlds] = self._template
        nq, nv = self.model.nq, self.model.nv
        if qpos is not None:
            self.state[worlds, 1 : 1 + nq] = qpos
        if qvel is not None:
            self.state[worlds, 1 + nq : 1 + nq + nv] = qvel
        d = self.datas[0]
        for w in worlds:
            m = self.models[w] if self.models is not None else self.model
            mujoco.mj_setState(m, d, self.state[w], STATE)
            mujoco.mj_forward(m, d)
            self.sensordata[w] = d.sensordata

    def close(self) -> None:
        """Stop the worker threads."""
        self.runner.close()

    def __enter__(self) -> BatchedSim:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
