"""The command node's work, without ROS: safe joint commands at the robot's rate.

Between the policy (a target every control period) and the robot's drivers (a command
every ``1 / rate_hz``), in this order:

- **Lifecycle**: nothing is commanded until :meth:`activate` (which needs a joint state:
  the command starts at the measured joints, so activation never jumps);
  :meth:`estop` deactivates at once.
- **Messages** are checked: NaN or infinite values, unknown or missing joint names and
  wrong sizes are rejected, with the reason (an event).
- **Targets**: clamped to the joint limits (an event); refused when forward kinematics
  puts an arm or hand link, or a fingertip, below the table top (more than
  ``table_margin_m``) over the table, or outside the workspace box (an event; the last
  accepted target stays).
- **Interpolation**: each new target is reached by a linear ramp over one control period
  (as the simulator ramps targets over its substeps), then limited per tick by the
  joints' velocity and acceleration limits.
- **Watchdog**: joint states or object poses older than ``watchdog_s`` hold the current
  command (it stops moving) and say so once; fresh inputs resume the ramp from there.

Times are seconds on one clock (the node's); ``n`` joints in registry order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import mujoco
import numpy as np

from h2s2r.core.robot_io import CommandConfig
from h2s2r.core.robots import RobotSpec, build_robot_model
from h2s2r.core.table import Table


@dataclass
class Event:
    t: float
    kind: str  # rejected | clamped | refused | watchdog | resumed | estop | activated | …
    detail: str


@dataclass
class CommandCore:
    robot: RobotSpec
    table: Table
    cfg: CommandConfig = field(default_factory=CommandConfig)
    period_s: float = 1.0 / 15.0  # the policy's control period (the ramp's length)

    def __post_init__(self) -> None:
        self.model, self.info = build_robot_model(self.robot)
        self._data = mujoco.MjData(self.model)
        self.names = tuple(self.robot.joint_names)
        self._index = {n: i for i, n in enumerate(self.names)}
        self.lo, self.hi = self.info.joint_range[:, 0], self.info.joint_range[:, 1]
        self.v_max = self.info.velocity_limit * self.cfg.velocity_scale
        self.a_max = self.info.acceleration_limit * self.cfg.acceleration_scale
        # Checked points: every robot body's origin and the fingertip sites.
        robot_bodies = [b for b in range(1, self.model.nbody)]
        self._bodies = np.array(robot_bodies)
        self._tips = np.array(list(self.info.fingertip_sites.values()))
        self.dt = 1.0 / self.cfg.rate_hz
        self.events: list[Event] = []
        self.active = False
        self.q_meas: np.ndarray | None = None
        self.t_state = -np.inf
        self.t_pose = -np.inf
        self.command: np.ndarray | None = None  # the last command sent
        self.velocity = np.zeros(len(self.names))
        self.target: np.ndarray | None = None
        self._ramp: tuple[float, np.ndarray, np.ndarray] | None = None  # t0, start, end
        self._holding = False

    # ------------------------------------------------------------------ inputs
    def _event(self, t: float, kind: str, detail: str) -> Event:
        e = Event(t, kind, detail)
        self.events.append(e)
        return e

    def _ordered(self, t: float, names: Sequence[str], values, what: str):
        """``values`` in registry order, or None (and a ``rejected`` event)."""
        values = np.asarray(values, dtype=np.float64)
        if len(names) != len(values):
            self._event(t, "rejected", f"{what}: {len(names)} names but {len(values)} values")
            return None
        unknown = sorted(set(names) - set(self.names))
        missing = sorted(set(self.names) - set(names))
        if unknown or missing:
            self._event(t, "rejected", f"{what}: unknown joints {unknown}, missing {missing}")
            return None
        if not np.all(np.isfinite(values)):
            self._event(t, "rejected", f"{what}: NaN or infinite values")
            return None
        out = np.empty(len(self.names))
        out[[self._index[n] for n in names]] = values
        return out

    def on_joint_state(self, t: float, names: Sequence[str], positions) -> bool:
        q = self._ordered(t, names, positions, "joint state")
        if q is None:
            return False
        self.q_meas, self.t_state = q, t
        return True

    def on_object_pose(self, t: float, pos, quat) -> bool:
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(quat))):
            self._event(t, "rejected", "object pose: NaN or infinite values")
            return False
        self.t_pose = t
        return True

    def on_target(self, t: float, names: Sequence[str], positions) -> bool:
        """A new target from the policy; True if accepted (clamped or not)."""
        q = self._ordered(t, names, positions, "target")
        if q is None:
            return False
        clamped = np.clip(q, self.lo, self.hi)
        over = np.abs(clamped - q) > 1e-9
        if over.any():
            worst = int(np.argmax(np.abs(clamped - q)))
            self._event(
                t,
                "clamped",
                f"{int(over.sum())} joint(s) beyond limits, {self.names[worst]} by "
                f"{abs(clamped[worst] - q[worst]):.3f} rad",
            )
        problem = self.unsafe(clamped)
        if problem:
            self._event(t, "refused", problem)
            return False
        self.target = clamped
        if self.command is not None:
            self._ramp = (t, self.command.copy(), clamped)
        return True

    def unsafe(self, q: np.ndarray) -> str:
        """Why joint positions ``q`` are unsafe ('' when safe): a link or fingertip below
        the table top over the table, or outside the workspace box."""
        d = self._data
        d.qpos[self.info.qpos_adr] = q
        mujoco.mj_kinematics(self.model, d)
        points = np.concatenate([d.xpos[self._bodies], d.site_xpos[self._tips]])
        names = [self.model.body(b).name for b in self._bodies] + [
            self.model.site(s).name for s in self._tips
        ]
        low = (points[:, 2] < self.table.height_m - self.cfg.table_margin_m) & self.table.over(
            points
        )
        if low.any():
            i = int(np.argmax(low))
            return (
                f"{names[i]} would be {self.table.height_m - points[i, 2]:.3f} m below the "
                "table top"
            )
        outside = np.any(
            (points < np.asarray(self.cfg.workspace_min))
            | (points > np.asarray(self.cfg.workspace_max)),
            axis=1,
        )
        if outside.any():
            i = int(np.argmax(outside))
            return f"{names[i]} would leave the workspace box at {np.round(points[i], 3).tolist()}"
        return ""

    # ------------------------------------------------------------------ lifecycle
    def activate(self, t: float) -> bool:
        """Start commanding, from the measured joints; False without fresh joint states
        and object poses."""
        stale = self.stale(t)
        if self.q_meas is None or stale:
            self._event(t, "not_ready", f"activate: {stale or 'no joint state yet'}")
            return False
        self.command = np.clip(self.q_meas, self.lo, self.hi)
        self.velocity[:] = 0.0
        self._ramp = None if self.target is None else (t, self.command.copy(), self.target)
        self.active = True
        self._event(t, "activated", "commanding from the measured joints")
        return True

    def deactivate(self, t: float, kind: str = "deactivated", why: str = "") -> None:
        if self.active:
            self._event(t, kind, why or "commands stopped")
        self.active = False
        self._ramp = None
        self._holding = False  # a hold ends with the commanding; a new one is logged anew

    def estop(self, t: float) -> None:
        """Stop commanding at once (the drivers hold their last position); only an
        explicit activation commands again."""
        self.deactivate(t, "estop", "e-stop: commands stopped")

    # ------------------------------------------------------------------ tick
    def stale(self, t: float) -> str:
        """Which input is older than the watchdog allows ('' if none)."""
        old = []
        if t - self.t_state > self.cfg.watchdog_s:
            old.append(f"joint states {t - self.t_state:.3f} s old")
        if t - self.t_pose > self.cfg.watchdog_s:
            old.append(f"object pose {t - self.t_pose:.3f} s old")
        return ", ".join(old)

    def tick(self, t: float) -> np.ndarray | None:
        """The command at time ``t`` (None while inactive)."""
        if not self.active or self.command is None:
            return None
        stale = self.stale(t)
        if stale:
            if not self._holding:
                self._event(t, "watchdog", f"holding the command: {stale}")
                self._holding = True
            self.velocity[:] = 0.0
            if self.target is not None:  # resume from here, not from where the ramp was
                self._ramp = (t, self.command.copy(), self.target)
            return self.command.copy()
        if self._holding:
            self._event(t, "resumed", "inputs fresh again")
            self._holding = False
            if self.target is not None:
                self._ramp = (t, self.command.copy(), self.target)
        if self._ramp is None:
            desired = self.command
        else:
            t0, start, end = self._ramp
            s = min(max((t - t0) / self.period_s, 0.0), 1.0)
            desired = start + s * (end - start)
        v = (desired - self.command) / self.dt
        v = np.clip(v, -self.v_max, self.v_max)
        v = np.clip(v, self.velocity - self.a_max * self.dt, self.velocity + self.a_max * self.dt)
        self.velocity = v
        self.command = np.clip(self.command + v * self.dt, self.lo, self.hi)
        return self.command.copy()


__all__ = ["CommandConfig", "CommandCore", "Event"]
