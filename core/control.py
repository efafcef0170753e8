"""The action → joint-target controller, one function for simulation and deployment.

Default action (11-D, each in [-1, 1], the anchor's parametrisation):

- ``a[0:3]``: palm translation per policy step, × ``max_step_m`` (base frame, **delta**);
- ``a[3:6]``: palm rotation per policy step as a rotation vector, × ``max_step_rad``
  (base frame, **delta**);
- ``a[6:11]``: five hand-synergy coefficients, **absolute** around the pre-manipulation
  hand posture: ``q_hand = q_hand_pre + S @ (a[6:11] × synergy_scale)``, where the columns
  of ``S`` are the principal components of real human hand poses retargeted to this robot
  hand, each at ± 2σ of the data (:mod:`h2s2r.core.robots.synergies`).

The palm delta becomes arm joint targets by damped least squares on the palm Jacobian
(differential IK), from the *measured* joint positions; targets are clipped to the joint
limits. No smoothing here: the simulator interpolates targets across its substeps and the
deploy command node rate-limits them.

``joint_delta`` mode (23-D): ``q_target = q + a × max_joint_step_rad``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from h2s2r.core.ranges import check_number
from h2s2r.core.robots import RobotSpec, build_robot_model
from h2s2r.core.robots.kinematics import SiteChain
from h2s2r.core.robots.synergies import load_synergies
from h2s2r.core.xp import is_torch, namespace

ACTION_MODES = ("palm_synergy", "joint_delta")


@dataclass(frozen=True)
class ControllerConfig:
    """Action semantics (also written into the exported policy's header)."""

    mode: str = "palm_synergy"  # palm_synergy (11-D) | joint_delta (23-D)
    max_step_m: float = 0.02  # palm translation per policy step at |a| = 1
    max_step_rad: float = 0.1  # palm rotation per policy step at |a| = 1
    synergy_scale: float = 1.0  # × the synergies' ± 2σ span at |a| = 1 (unitless)
    max_joint_step_rad: float = 0.1  # joint_delta mode
    damping: float = 0.05  # differential-IK damping (m / rad)

    def __post_init__(self) -> None:
        if self.mode not in ACTION_MODES:
            raise ValueError(f"action mode {self.mode!r}: one of {list(ACTION_MODES)}")
        degrees = "in radians: degrees? 0.1 rad = 5.7°"
        check_number(
            "max_step_m", self.max_step_m, 0.0, 0.1, lo_open=True, unit="m",
            hint="palm translation per policy step at |a| = 1, in metres: centimetres? 2 cm = 0.02",
        )  # fmt: skip
        check_number(
            "max_step_rad", self.max_step_rad, 0.0, math.pi, lo_open=True, unit="rad",
            hint=f"palm rotation per policy step at |a| = 1, {degrees}",
        )  # fmt: skip
        check_number(
            "synergy_scale", self.synergy_scale, 0.0, lo_open=True,
            hint="× the synergies' ± 2σ span at |a| = 1",
        )  # fmt: skip
        check_number(
            "max_joint_step_rad", self.max_joint_step_rad, 0.0, math.pi, lo_open=True,
            unit="rad", hint=f"joint step per policy step at |a| = 1, {degrees}",
        )  # fmt: skip
        check_number(
            "damping", self.damping, 0.0, 1.0, lo_open=True,
            hint="differential-IK damping λ; 0 makes it singular near the arm's limits",
        )  # fmt: skip


@dataclass
class Controller:
    """Turns actions into joint targets for a registry robot (batched)."""

    robot: RobotSpec
    cfg: ControllerConfig = field(default_factory=ControllerConfig)

    def __post_init__(self) -> None:
        self.model, self.info = build_robot_model(self.robot)
        self.n_arm = sum(
            1 for n in self.robot.joint_names if not n.startswith(self.robot.hand_prefix)
        )
        self.arm_joints = np.array(
            [self.model.joint(n).id for n in self.robot.joint_names[: self.n_arm]]
        )
        self.synergies = load_synergies(self.robot.name).matrix  # (n_hand, 5)
        if self.synergies.shape[0] != len(self.robot.joint_names) - self.n_arm:
            raise ValueError(f"{self.robot.name}: synergies do not match the hand's joints")
        self.lo, self.hi = self.info.joint_range[:, 0], self.info.joint_range[:, 1]
        self.palm_chain = SiteChain(self.model, self.info.palm_site, self.arm_joints)
        self._device_constants: dict = {}

    @property
    def action_dim(self) -> int:
        return 6 + self.synergies.shape[1] if self.cfg.mode == "palm_synergy" else len(self.lo)

    def _constants(self, like) -> tuple:
        """Joint limits and synergies as arrays like ``like`` (numpy, or torch on its
        device and float type), converted once per kind."""
        if not is_torch(like):
            return self.lo, self.hi, self.synergies
        key = (str(like.device), like.dtype)
        if key not in self._device_constants:
            import torch

            self._device_constants[key] = tuple(
                torch.as_tensor(a, device=like.device, dtype=like.dtype)
                for a in (self.lo, self.hi, self.synergies)
            )
        return self._device_constants[key]

    def __call__(self, q: np.ndarray, action: np.ndarray, q_hand_ref: np.ndarray) -> np.ndarray:
        """Joint targets ``(B, n)`` from measured joints ``q (B, n)`` and ``action (B, A)``;
        ``q_hand_ref (B, n_hand)`` is the hand posture the synergies are relative to.
        Numpy arrays, or torch tensors on one device (the GPU backend)."""
        if is_torch(q):
            xp = namespace(q)
            q = q[None] if q.ndim == 1 else q
            a = xp.clip(xp.astype(action, q.dtype), -1.0, 1.0)
        else:
            xp = np
            a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
            q = np.atleast_2d(q)
        lo, hi, synergies = self._constants(q)
        if self.cfg.mode == "joint_delta":
            return xp.clip(q + a * self.cfg.max_joint_step_rad, lo, hi)
        # The palm chain reads the arm's joints only: qpos addresses of the robot model.
        full = xp.zeros((q.shape[0], self.model.nq), dtype=q.dtype, device=_device(q))
        full[:, self._qpos_adr(q)] = q
        _, J = self.palm_chain(full)
        twist = xp.concat(
            [a[:, :3] * self.cfg.max_step_m, a[:, 3:6] * self.cfg.max_step_rad], axis=1
        )
        dq_arm = damped_least_squares(J, twist, self.cfg.damping)
        hand = q_hand_ref + (a[:, 6:] * self.cfg.synergy_scale) @ xp.matrix_transpose(synergies)
        target = xp.concat([q[:, : self.n_arm] + dq_arm, hand], axis=1)
        return xp.clip(target, lo, hi)

    def _qpos_adr(self, like):
        if not is_torch(like):
            return self.info.qpos_adr
        import torch

        return torch.as_tensor(np.asarray(self.info.qpos_adr), device=like.device)


def _device(x):
    return getattr(x, "device", None) if is_torch(x) else "cpu"


def damped_least_squares(J: np.ndarray, twist: np.ndarray, damping: float) -> np.ndarray:
    """Joint steps ``(B, n)`` for twists ``(B, 6)`` through Jacobians ``(B, 6, n)``:
    ``dq = Jᵀ (J Jᵀ + λ² I)⁻¹ twist`` per world."""
    xp = namespace(J)
    Jt = xp.matrix_transpose(J)
    eye = xp.eye(6, dtype=J.dtype, device=_device(J))
    JJt = J @ Jt + damping**2 * eye
    return (Jt @ xp.linalg.solve(JJt, twist[..., None]))[..., 0]


def palm_pose(controller: Controller, q: np.ndarray) -> np.ndarray:
    """``(B, 4, 4)`` palm poses in the base frame for joint positions ``q (B, n)``."""
    full = np.zeros((np.atleast_2d(q).shape[0], controller.model.nq))
    full[:, controller.info.qpos_adr] = np.atleast_2d(q)
    T, _ = controller.palm_chain(full)
    return T


__all__ = [
    "ACTION_MODES",
    "Controller",
    "ControllerConfig",
    "damped_least_squares",
    "palm_pose",
]
