"""Many worlds of one MuJoCo model on MuJoCo Warp: the state stays on the device.

The same ``MjModel`` the CPU backend steps goes to ``mujoco_warp`` (``put_model``) with
``nworld`` worlds. The task reads and writes the state through torch tensors that share
memory with the Warp arrays (``wp.to_torch``: no copies), so actions, observations,
rewards and resets never leave the device. A policy step is ``S`` physics steps, each with
its slice of the interpolated joint targets; on a CUDA device the ``S`` steps are
captured once as a CUDA graph and replayed.

Domain randomization: the model fields in which the randomized copies (``variants``)
differ (friction, masses, inertias, gains and what ``mj_setConst`` derives from them)
are batched per world (Warp's ``batch_sizes``), and ``assign_variants`` writes the rows
of the variant each world steps.

Warp's CPU device runs the same kernels (slowly, after a compile of about a minute the
first time; the kernel cache then makes it seconds), which is how this backend is tested
on machines without a GPU.

Shapes: ``B`` worlds, ``S`` substeps per policy step, ``nu`` actuators, ``ns`` sensor
values.
"""

from __future__ import annotations

import copy
import dataclasses

import mujoco
import numpy as np

from h2s2r.core.errors import H2S2RError
from h2s2r.core.xp import Arrays

INSTALL_HINT = (
    "the warp backend needs mujoco-warp and warp-lang: pip install 'h2s2r[warp]' "
    "(or, offline, the wheels from a local folder: bench/gpu_check.sh)"
)


def import_warp():
    try:
        import warp as wp
    except ImportError as e:
        raise H2S2RError(f"--backend warp: {e.name} is not installed; {INSTALL_HINT}") from e
    if not hasattr(wp, "config") or not hasattr(wp, "get_device"):
        where = getattr(wp, "__file__", None) or "a namespace package"
        raise H2S2RError(
            f"--backend warp: `import warp` found {where}, not NVIDIA Warp — rename that "
            "module or take its folder off PYTHONPATH / the working directory"
        )
    try:
        import mujoco_warp as mjw
        import torch
    except ImportError as e:
        raise H2S2RError(f"--backend warp: {e.name} is not installed; {INSTALL_HINT}") from e
    wp.config.quiet = True  # no banner on every command (wp.get_device() names the device)
    return wp, mjw, torch


def default_device() -> str:
    """``cuda:0`` where Warp sees a CUDA device, else ``cpu``."""
    wp, _, _ = import_warp()
    wp.init()
    return "cuda:0" if wp.is_cuda_available() else "cpu"


def warp_device(wp, device: str):
    """Warp's device ``device``, or an error naming ``--device`` and the devices there are
    (``cuda:0`` on a machine without a GPU, ``cuda:3`` on one with two)."""
    wp.init()
    try:
        return wp.get_device(device)
    except (ValueError, RuntimeError) as e:
        names = ", ".join(d.alias for d in wp.get_devices())
        hint = "" if wp.is_cuda_available() else " (Warp finds no CUDA GPU or driver here)"
        raise H2S2RError(
            f"--device {device}: not a device of this machine{hint}; use one of: {names} ({e})"
        ) from e


class WarpSim:
    """``B`` worlds of ``model`` on a Warp device (the ``warp`` backend).

    ``nconmax`` / ``njmax``: contacts (pooled over the worlds) and constraint rows (each
    world's own) allocated per world; what does not fit is dropped, :meth:`dropped` marks
    the worlds concerned and the trainer logs how many (``/task/contact_overflow_worlds``).
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        num_worlds: int,
        variants: list[mujoco.MjModel] | None = None,
        device: str | None = None,
        nconmax: int = 64,
        njmax: int = 256,
        graph: bool = True,
    ):
        wp, mjw, torch = import_warp()
        self.wp, self.mjw, self.torch = wp, mjw, torch
        self.model = model
        # Warp never resets a diverged world by itself (the NaN stays, as the task wants)
        # and refuses the flag that asks MuJoCo for that: the device copy goes without.
        device_model = copy.copy(model)
        device_model.opt.disableflags &= ~int(mujoco.mjtDisableBit.mjDSBL_AUTORESET)
        self.num_worlds = B = num_worlds
        device = device or default_device()
        self.wp_device = warp_device(wp, device)
        self.arrays = Arrays(str(device), "float32")
        self.variants = variants or [model]
        data = mujoco.MjData(model)
        if model.nkey:
            mujoco.mj_resetDataKeyframe(model, data, 0)
        mujoco.mj_forward(model, data)
        self._template_qpos = data.qpos.copy()
        self.batched = _differing_fields(self.variants)
        with wp.ScopedDevice(self.wp_device):
            self.m = mjw.put_model(device_model, batch_sizes={f: B for f in self.batched})
            self.d = mjw.put_data(device_model, data, nworld=B, nconmax=nconmax, njmax=njmax)
        # A Newton line search that stops at its iteration limit (about 0.1 % of worlds
        # and steps here) is harmless and would print from the kernel at every step;
        # contact and constraint overflows still print (and ``dropped`` marks them).
        self.m.opt.warn_overflow &= ~int(mjw.OverflowType.LS_ITERATIONS)
        o = mjw.OverflowType
        # Lost constraint rows (per world) or contacts (the pool all worlds share: a full
        # pool marks every world); not the solver's iteration limits or sensor buffers.
        self._drop_bits = int(
            o.NEFC | o.NJMAX_NNZ | o.BROADPHASE | o.NARROWPHASE | o.CCD | o.HFIELD
        )
        t = wp.to_torch
        self._qpos, self._qvel = t(self.d.qpos), t(self.d.qvel)
        self._ctrl, self._sensordata = t(self.d.ctrl), t(self.d.sensordata)
        self._overflow = t(self.d.overflow) if hasattr(self.d, "overflow") else None
        dev = self.arrays.device
        # Per-world rows of each batched field, and each variant's values of it.
        self._fields = {f: t(getattr(self.m, f)) for f in self.batched}
        self._tables = {
            f: torch.stack(
                [
                    torch.as_tensor(np.asarray(getattr(v, f)), dtype=self._fields[f].dtype).reshape(
                        self._fields[f].shape[1:]
                    )
                    for v in self.variants
                ]
            ).to(dev)
            for f in self.batched
        }
        self._plan = None  # (S, B, nu) joint targets of the current policy step
        self._graph = None
        self._use_graph = graph and self.wp_device.is_cuda

    # ------------------------------------------------------------------ state
    @property
    def template_qpos(self) -> np.ndarray:
        """``(nq,)`` positions every world starts from (the model's first keyframe)."""
        return self._template_qpos

    def qpos(self):
        """``(B, nq)`` positions: a torch view of the device state."""
        return self._qpos

    def qvel(self):
        return self._qvel

    @property
    def sensordata(self):
        """``(B, ns)`` sensors of the last substep (a torch view)."""
        return self._sensordata

    def finite(self):
        torch = self.torch
        return torch.isfinite(self._qpos).all(dim=1) & torch.isfinite(self._qvel).all(dim=1)

    def dropped(self):
        """``(B,)`` bool: worlds that may have lost contacts or constraint rows since their
        last reset (a torch tensor on the device, no sync): their own rows ran out
        (``njmax``), or the contact pool all worlds share (``nconmax`` × worlds) was full
        during one of their steps, which Warp marks on every world (which world lost the
        contacts is not known). Solver and line-search iteration limits drop nothing and
        are not counted."""
        if self._overflow is None:
            return self.torch.zeros(
                self.num_worlds, dtype=self.torch.bool, device=self.arrays.device
            )
        return (self._overflow & self._drop_bits) != 0

    def overflowed(self) -> int:
        """How many worlds :meth:`dropped` contacts or constraints (a host sync: for
        logging)."""
        return int(self.dropped().sum())

    # ------------------------------------------------------------------ variants, reset
    def assign_variants(self, mask, variant) -> None:
        """Worlds in ``mask`` step the randomized copy ``variant[b]`` from now on."""
        for f, view in self._fields.items():
            rows = self._tables[f][variant]
            m = mask.reshape((-1,) + (1,) * (view.dim() - 1))
            view.copy_(self.torch.where(m, rows, view))

    def reset(self, mask, qpos) -> None:
        """Reset the worlds in ``mask`` (``(B,)`` bool) to rest at ``qpos (B, nq)`` (their
        rows) and recompute their sensors; other worlds keep their state and sensors."""
        torch = self.torch
        wp_mask = self.wp.from_torch(mask.contiguous(), dtype=self.wp.bool)
        with self.wp.ScopedDevice(self.wp_device):
            self.mjw.reset_data(self.m, self.d, reset=wp_mask)
            self._qpos.copy_(torch.where(mask[:, None], qpos.to(self._qpos.dtype), self._qpos))
            sensors = self._sensordata.clone()
            self.mjw.forward(self.m, self.d)
        self._sensordata.copy_(torch.where(mask[:, None], self._sensordata, sensors))

    # ------------------------------------------------------------------ step
    def step(self, ctrl):
        """Advance every world ``S`` physics steps with ``ctrl (B, S, nu)`` (a torch tensor
        on the device)."""
        plan = ctrl.to(self._ctrl.dtype).permute(1, 0, 2).contiguous()  # (S, B, nu)
        if self._plan is None or self._plan.shape != plan.shape:
            self._plan = plan
            self._plan_wp = [self.wp.from_torch(plan[s]) for s in range(plan.shape[0])]
            self._graph = None
        else:
            self._plan.copy_(plan)
        wp = self.wp
        with wp.ScopedDevice(self.wp_device):
            if not self._use_graph:
                self._substeps()
            else:
                if self._graph is None:
                    self._substeps()  # compile and warm up outside the capture
                    with wp.ScopedCapture() as capture:
                        self._substeps()
                    self._graph = capture.graph
                wp.capture_launch(self._graph)

    def _substeps(self) -> None:
        ctrl = self.d.ctrl
        for plan_s in self._plan_wp:
            self.wp.copy(ctrl, plan_s)
            self.mjw.step(self.m, self.d)

    def close(self) -> None:
        self._graph = None


def _differing_fields(variants: list[mujoco.MjModel]) -> list[str]:
    """Names of the per-world (batchable) ``mujoco_warp`` model fields in which the
    ``variants`` differ."""
    if len(variants) < 2:
        return []
    from mujoco_warp._src import types, warp_util

    out = []
    for f in dataclasses.fields(types.Model):
        spec = getattr(f.type, "shape", ())
        if not (warp_util.is_array_spec(f.type) and spec and spec[0] == "*"):
            continue
        if not hasattr(variants[0], f.name):
            continue
        first = np.asarray(getattr(variants[0], f.name))
        if any(not np.array_equal(first, np.asarray(getattr(v, f.name))) for v in variants[1:]):
            out.append(f.name)
    return out


__all__ = ["INSTALL_HINT", "WarpSim", "default_device", "import_warp", "warp_device"]
