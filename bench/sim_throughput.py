"""Throughput of the batched CPU backend (``sim/backends/mujoco_cpu.py``).

The task scene (iiwa + Allegro, a free 0.20×0.12×0.06 m box resting on the table) at
120 Hz physics and a 15 Hz policy (8 substeps, joint targets interpolated across them).
Env-steps/s (policy steps of all worlds) are compared with the ideal: the single-world
``mj_step`` rate × threads / substeps, measured in the same run.

    .venv/bin/python bench/sim_throughput.py [--worlds 16 64 256] [--threads 1 2]
                                             [--seconds 3] [--out FILE]

Prints a table and writes JSON (default ``bench/results/sim_throughput.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("MENAGERIE_ROOT", str(REPO.parent / "shared" / "data" / "mujoco_menagerie"))

import mujoco  # noqa: E402

from h2s2r.core.robots import get_robot  # noqa: E402
from h2s2r.sim.backends import interpolate_targets  # noqa: E402
from h2s2r.sim.backends.mujoco_cpu import BatchedSim  # noqa: E402
from h2s2r.sim.scene import build_task_scene  # noqa: E402
from h2s2r.sim.synth.tasks import box_mesh  # noqa: E402

SUBSTEPS = 8  # 120 Hz physics / 15 Hz policy


def scene():
    robot = get_robot("iiwa_allegro")
    v, f = box_mesh((0.20, 0.12, 0.06))
    s = build_task_scene(robot, v, f, table_height_m=0.0, object_kinematic=False)
    qpos = s.model.key_qpos[0].copy()
    qpos[s.model.jnt_qposadr[s.model.joint("object").id] :][:7] = [0.62, 0.0, 0.0305, 1, 0, 0, 0]
    return s, robot, qpos


def single_world_rate(model, qpos, seconds: float) -> float:
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    data.ctrl[:] = qpos[: model.nu]
    mujoco.mj_forward(model, data)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            mujoco.mj_step(model, data)
        n += 100
    return n / (time.perf_counter() - t0)


def batched_rate(model, qpos, worlds: int, threads: int, seconds: float) -> float:
    rng = np.random.default_rng(0)
    with BatchedSim(model, worlds, nthread=threads) as sim:
        sim.reset(np.arange(worlds), qpos=np.tile(qpos, (worlds, 1)))
        home = np.tile(qpos[: model.nu], (worlds, 1))
        prev = home.copy()
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            target = home + rng.normal(0, 0.05, home.shape)
            sim.step(interpolate_targets(prev, target, SUBSTEPS))
            prev = target
            steps += 1
        return worlds * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "sim_throughput.json")
    args = ap.parse_args()

    s, _, qpos = scene()
    single = single_world_rate(s.model, qpos, args.seconds)
    print(
        f"single world: {single:,.0f} mj_step/s = {single / SUBSTEPS:,.0f} env-steps/s "
        f"({SUBSTEPS} substeps)"
    )
    print(f"{'worlds':>7}{'threads':>8}{'env-steps/s':>13}{'ideal':>10}{'ratio':>7}")
    rows = []
    for threads in args.threads:
        ideal = single * threads / SUBSTEPS
        for worlds in args.worlds:
            rate = batched_rate(s.model, qpos, worlds, threads, args.seconds)
            rows.append(
                {
                    "worlds": worlds,
                    "threads": threads,
                    "env_steps_per_s": rate,
                    "ideal_env_steps_per_s": ideal,
                    "ratio": rate / ideal,
                }
            )
            print(f"{worlds:>7}{threads:>8}{rate:>13,.0f}{ideal:>10,.0f}{rate / ideal:>7.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": {
                    "cpu_count": os.cpu_count(),
                    "python": platform.python_version(),
                    "mujoco": mujoco.__version__,
                },
                "substeps": SUBSTEPS,
                "single_world_mj_step_per_s": single,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
