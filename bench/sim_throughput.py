"""Throughput of the simulation backends: physics alone and the whole task.

The task scene (iiwa + Allegro, a free 0.20×0.12×0.06 m box resting on the table) at
120 Hz physics and a 15 Hz policy (8 substeps, joint targets interpolated across them).

- ``physics``: the backend alone (``BatchedSim`` / ``WarpSim``) under noisy joint
  targets around the home posture; env-steps/s = worlds × policy steps / s.
- ``task``: ``TrackDemoEnv`` (``straight_push``, ``medium`` randomization) as training
  collects from it: random actions, step, reset of the finished worlds, observe. The
  difference to ``physics`` is the task's own cost (controller, rewards, observations,
  resets) on that backend.

For ``mujoco`` the rates are compared with the ideal (single-world ``mj_step`` rate ×
threads / substeps, measured in the same run); for ``warp`` the device name is recorded.

    .venv/bin/python bench/sim_throughput.py [--backend mujoco|warp] [--level physics task]
        [--worlds 16 64 256] [--threads 1 2] [--device cuda:0] [--seconds 3] [--out FILE]

Prints a table and writes JSON (default ``bench/results/sim_throughput[_warp].json``).
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
from h2s2r.sim.backends import interpolate_targets, make_sim  # noqa: E402
from h2s2r.sim.scene import build_task_scene  # noqa: E402
from h2s2r.sim.synth.tasks import box_mesh  # noqa: E402
from h2s2r.sim.tasks.examples import straight_push  # noqa: E402
from h2s2r.sim.tasks.track_demo import TrackDemoEnv, make_task_cfg  # noqa: E402

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


def _sync(arrays) -> None:
    if arrays.torch and arrays.device.type == "cuda":
        import torch

        torch.cuda.synchronize(arrays.device)


def _timed(step, sync, seconds: float, warmup: int = 3) -> tuple[int, float]:
    """Policy steps done and seconds taken, after ``warmup`` steps (compile, graph)."""
    for _ in range(warmup):
        step()
    sync()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
        if n % 10 == 0:
            sync()
    sync()
    return n, time.perf_counter() - t0


def physics_rate(backend, model, qpos, worlds, threads, device, seconds) -> float:
    sim = make_sim(backend, model, [model], worlds, nthread=threads, device=device)
    a = sim.arrays
    xp = a.xp
    sim.reset(a.ones(worlds, dtype=a.bool), a.asarray(np.tile(qpos, (worlds, 1))))
    home = a.asarray(np.tile(qpos[: model.nu], (worlds, 1)))
    rng_state = {"prev": home}
    gen = np.random.default_rng(0)
    noise = a.asarray(gen.normal(0, 0.05, (16, worlds, model.nu)))
    k = {"i": 0}

    def step():
        target = home + noise[k["i"] % 16]
        k["i"] += 1
        sim.step(interpolate_targets(rng_state["prev"], target, SUBSTEPS))
        rng_state["prev"] = target

    n, dt = _timed(step, lambda: _sync(a), seconds)
    sim.close()
    del xp
    return worlds * n / dt


def task_rate(backend, worlds, threads, device, seconds) -> tuple[float, int]:
    task, mesh = straight_push()
    cfg = make_task_cfg("medium", far_hand_m=1.0)
    env = TrackDemoEnv(
        task, mesh, cfg, num_envs=worlds, nthread=threads, seed=0, backend=backend, device=device
    )
    a = env.arrays
    gen = np.random.default_rng(0)
    actions = a.asarray(gen.uniform(-1, 1, (16, worlds, env.action_dim)))
    k = {"i": 0, "episodes": 0}

    def step():
        _, _, term, trunc, _ = env.step(actions[k["i"] % 16], observe=False)
        k["i"] += 1
        env.reset(term | trunc)
        env.observe()

    n, dt = _timed(step, lambda: _sync(a), seconds)
    env.close()
    return worlds * n / dt, n


def device_name(backend: str, device: str | None) -> str:
    if backend == "mujoco":
        return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"
    import torch

    if (device and device.startswith("cuda")) or (not device and torch.cuda.is_available()):
        return torch.cuda.get_device_name(torch.device(device or "cuda:0"))
    return f"Warp CPU device ({os.cpu_count()} cores)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["mujoco", "warp"], default="mujoco")
    ap.add_argument("--level", nargs="+", choices=["physics", "task"], default=["physics", "task"])
    ap.add_argument("--worlds", type=int, nargs="+", default=None)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="mujoco backend")
    ap.add_argument("--device", default=None, help="warp backend: cuda:0 (default: the GPU) or cpu")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    warp = args.backend == "warp"
    worlds = args.worlds or ([1024, 4096, 8192, 16384, 32768] if warp else [16, 64, 256])
    threads = [0] if warp else args.threads
    out = args.out or REPO / "bench" / "results" / f"sim_throughput{'_warp' if warp else ''}.json"

    s, _, qpos = scene()
    single = None
    if not warp:
        single = single_world_rate(s.model, qpos, args.seconds)
        print(
            f"single world: {single:,.0f} mj_step/s = {single / SUBSTEPS:,.0f} env-steps/s "
            f"({SUBSTEPS} substeps)"
        )
    name = device_name(args.backend, args.device)
    print(f"backend {args.backend} on {name}")
    print(
        f"{'level':>8}{'worlds':>8}{'threads':>8}{'env-steps/s':>13}{'physics/s':>12}{'ratio':>7}"
    )
    rows = []
    for level in args.level:
        for th in threads:
            for w in worlds:
                if level == "physics":
                    rate = physics_rate(
                        args.backend, s.model, qpos, w, th, args.device, args.seconds
                    )
                else:
                    rate, _ = task_rate(args.backend, w, th, args.device, args.seconds)
                ideal = single * th / SUBSTEPS if single else None
                rows.append(
                    {
                        "level": level,
                        "worlds": w,
                        "threads": th or None,
                        "env_steps_per_s": rate,
                        "physics_steps_per_s": rate * SUBSTEPS,
                        "ideal_env_steps_per_s": ideal,
                        "ratio": rate / ideal if ideal else None,
                    }
                )
                ratio = f"{rate / ideal:>7.2f}" if ideal else f"{'':>7}"
                print(
                    f"{level:>8}{w:>8}{th or '-':>8}{rate:>13,.0f}{rate * SUBSTEPS:>12,.0f}{ratio}"
                )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "machine": {
                    "device": name,
                    "cpu_count": os.cpu_count(),
                    "python": platform.python_version(),
                    "mujoco": mujoco.__version__,
                },
                "backend": args.backend,
                "substeps": SUBSTEPS,
                "single_world_mj_step_per_s": single,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
