"""``deploy_log/``: what a deployment measured, from the logs its nodes wrote.

Each node writes ``<node>.npz`` when it stops (:class:`h2s2r.core.runlog.RunLog`);
:func:`summarize` turns them into ``metrics.json`` (the :class:`DeployLog` artifact),
``timing.npz`` and ``deploy.png``:

- **timing**: the policy loop's and the command loop's periods against their nominal
  values (p99 of the absolute deviation, "jitter"), and the latency from an object pose's
  arrival to the targets computed from it leaving the policy node;
- **events**: watchdog holds (how many, and the seconds held in all), safety events
  (rejected messages, clamped and refused targets) and e-stops, from the command node;
- **the object**: its path against the demo's, and success as in evaluation (within the
  policy header's position and angle thresholds of the demo's final pose). The simulated
  robot's true pose is used when it ran; on hardware, the tracked (observed) pose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from h2s2r.core.artifacts import DeployLog, PolicyExport, Provenance, Task
from h2s2r.core.geometry import quat_angle_between
from h2s2r.core.runlog import load_run_log

SAFETY = ("rejected", "clamped", "refused")


def _p99_ms(x: np.ndarray) -> float:
    return float(np.percentile(np.abs(x), 99) * 1e3) if len(x) else float("nan")


def watchdog_hold_s(events: list[dict], t_end: float) -> float:
    """Seconds the command node held its command for stale inputs: from each ``watchdog``
    event to the ``resumed`` (or ``deactivated``/``estop``) that ended it, or to ``t_end``
    (its last command) for a hold still on when the node stopped."""
    held, since = 0.0, None
    for e in events:
        if e["kind"] == "watchdog" and since is None:
            since = e["t"]
        elif e["kind"] in ("resumed", "deactivated", "estop") and since is not None:
            held += e["t"] - since
            since = None
    if since is not None:
        held += max(t_end - since, 0.0)
    return float(held)


def commands_sent(log_dir: str | Path) -> int:
    """How many commands the command node's own log (``command.npz``) says it sent."""
    path = Path(log_dir) / "command.npz"
    return len(load_run_log(path)[0].get("t", [])) if path.is_file() else 0


def summarize(
    ws: str | Path,
    log_dir: str | Path | None = None,
    config: dict | None = None,
    failure: str = "",
):
    """Write ``metrics.json``, ``timing.npz`` and ``deploy.png`` into ``log_dir`` (default
    ``ws/deploy_log``) from the node logs there; returns the :class:`DeployLog`.
    ``failure``: why the deploy failed (recorded; ``h2s2r report`` shows it); a loop
    that never stepped the policy and commanded the robot has ``success`` 0, not NaN."""
    ws = Path(ws)
    out = Path(log_dir) if log_dir else ws / "deploy_log"
    header = PolicyExport.load(ws / "policy").header
    task = Task.load(ws / "task")
    logs = {p.stem: load_run_log(p) for p in sorted(out.glob("*.npz")) if p.stem != "timing"}
    m: dict[str, float] = {}
    pol, _ = logs.get("policy", ({}, []))
    cmd, events = logs.get("command", ({}, []))
    sim, sim_events = logs.get("sim_robot", ({}, []))
    dt = float(header["ctrl_dt_s"])
    t_pol = np.asarray(pol.get("t", []), dtype=np.float64)
    periods = np.diff(t_pol)
    m["policy_steps"] = len(t_pol)
    m["policy_period_mean_ms"] = float(periods.mean() * 1e3) if len(periods) else float("nan")
    m["policy_period_jitter_p99_ms"] = _p99_ms(periods - dt)
    m["latency_p99_ms"] = _p99_ms(np.asarray(pol.get("latency_s", [])))
    m["latency_mean_ms"] = float(np.mean(pol["latency_s"]) * 1e3) if len(t_pol) else float("nan")
    t_cmd = np.asarray(cmd.get("t", []), dtype=np.float64)
    cmd_periods = np.diff(t_cmd)
    nominal = float(np.median(cmd_periods)) if len(cmd_periods) else float("nan")
    m["command_ticks"] = len(t_cmd)
    m["command_period_ms"] = nominal * 1e3
    m["command_period_jitter_p99_ms"] = _p99_ms(cmd_periods - nominal)
    kinds = [e["kind"] for e in events]
    m["watchdog_events"] = kinds.count("watchdog")
    m["watchdog_hold_s"] = watchdog_hold_s(events, float(t_cmd[-1]) if len(t_cmd) else 0.0)
    m["safety_events"] = sum(kinds.count(k) for k in SAFETY)
    m["estop_events"] = kinds.count("estop")
    if len(t_pol):
        # The first step has no distance yet (its goal starts where the object is).
        d = pol["keypoint_distance_m"][1:]
        m["tracking_err_mean_m"] = float(d.mean()) if len(d) else 0.0
        m["goal_progress_final"] = float(pol["progress"][-1])
    if sim:  # the true pose
        pos, quat, source = sim["object_pos"], sim["object_quat"], "simulated robot (true pose)"
        m["sim_diverged"] = float(any(e["kind"] == "diverged" for e in sim_events))
    elif len(t_pol):
        pos, quat, source = pol["object_pos"], pol["object_quat"], "object pose topic"
    else:
        pos = quat = None
        source = "none"
    if pos is not None and len(pos):
        goal = header["goal"]
        err = float(np.linalg.norm(pos[-1] - task.object_pos_base[-1]))
        ang = float(np.degrees(quat_angle_between(quat[-1], task.object_quat_wxyz_base[-1])))
        on_table = bool(np.all(pos[:, 2] > task.table_height_m - 0.05))
        m["final_object_err_m"] = err
        m["final_object_rot_err_deg"] = ang
        m["success"] = float(
            err < goal["success_pos_m"] and ang < goal["success_rot_deg"] and on_table
        )
    else:
        m["success"] = float("nan")  # a loop ran, but nothing says where the object went
    m["loop_closed"] = float(len(t_pol) > 0 and len(t_cmd) > 0)
    if not m["loop_closed"]:
        m["success"] = 0.0
    upstream = [ws / "policy" / "meta.json", ws / "task" / "meta.json"]
    art = DeployLog(
        metrics=m,
        provenance=Provenance.of_files(
            ws, upstream, config={**(config or {}), "object": source, "failure": failure}
        ),
    )
    art.save(out)
    np.savez(out / "timing.npz", policy_t=t_pol, command_t=t_cmd)
    _plot(out / "deploy.png", task, t_pol, pol, sim, periods, cmd_periods, dt, nominal)
    return art


def _plot(path, task, t_pol, pol, sim, periods, cmd_periods, dt, nominal) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    demo_t = task.t - task.t[0]
    for k, c in zip(range(3), "xyz", strict=True):
        ax[0].plot(demo_t, task.object_pos_base[:, k], f"C{k}--", lw=1, label=f"demo {c}")
        if sim:
            ax[0].plot(sim["t"] - sim["t"][0], sim["object_pos"][:, k], f"C{k}", label=f"{c}")
        elif len(t_pol):
            ax[0].plot(t_pol - t_pol[0], pol["object_pos"][:, k], f"C{k}", label=f"{c}")
    ax[0].set_xlabel("s")
    ax[0].set_ylabel("object position (m, base)")
    ax[0].legend(fontsize=7, ncol=2)
    if len(periods):
        ax[1].hist(periods * 1e3, bins=40, color="C0")
        ax[1].axvline(dt * 1e3, color="k", lw=1)
    ax[1].set_xlabel("policy period (ms)")
    if len(cmd_periods):
        ax[2].hist(cmd_periods * 1e3, bins=40, color="C1")
        ax[2].axvline(nominal * 1e3, color="k", lw=1)
    ax[2].set_xlabel("command period (ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


__all__ = ["summarize"]
