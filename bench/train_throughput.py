"""Training throughput end to end: env-steps/s of ``h2s2r train`` including PPO.

Each row trains the ``straight_push`` example task (``medium`` randomization, the default
network and the automatic mini-batches) for a few PPO iterations with no validation, and
reports env-steps/s over the iterations after the first (which pays Warp's kernel
compile and the CUDA graph capture), and the mini-batches used.

    .venv/bin/python bench/train_throughput.py [--backend mujoco|warp] [--device cuda:0]
        [--worlds 1024 4096 ...] [--iterations 6] [--threads 0] [--out FILE]
    .venv-isaaclab/bin/python bench/train_throughput.py --backend isaaclab [--device …]

Isaac Lab holds one simulation per process: each world count runs in a process of its
own. Prints a table and writes JSON (default
``bench/results/train_throughput[_warp|_isaaclab].json``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("MENAGERIE_ROOT", str(REPO.parent / "shared" / "data" / "mujoco_menagerie"))
os.environ.setdefault("MUJOCO_GL", "egl")

from h2s2r.policy.config import TrainConfig, mini_batches  # noqa: E402
from h2s2r.policy.train import run_train  # noqa: E402
from h2s2r.sim.tasks import make_env  # noqa: E402
from h2s2r.sim.tasks.examples import straight_push  # noqa: E402


def workspace(root: Path) -> Path:
    task, mesh = straight_push()
    task.save(root / "task")
    mesh.save(root / "object")
    return root


def train_rate(backend: str, device: str, worlds: int, iterations: int, threads: int) -> dict:
    """Env-steps/s of iterations 2..N (from the per-iteration times train records)."""
    cfg = TrainConfig(
        backend=backend,
        device=device if backend != "mujoco" else "",
        num_envs=worlds,
        total_steps=worlds * 16 * iterations,
        validate_every=0,
        save_every=10**6,
        threads=threads,
    )
    marks: list[float] = []

    def progress(done, total):
        marks.append(time.perf_counter())

    # (rsl-rl prints its networks to stdout)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        run_train(workspace(Path(tmp)), cfg, make_env, progress=progress, log=lambda *a: None)
    per_it = worlds * cfg.steps_per_env
    steady = (len(marks) - 1) * per_it / (marks[-1] - marks[0]) if len(marks) > 1 else None
    return {
        "worlds": worlds,
        "iterations": len(marks),
        "mini_batches": mini_batches(cfg),
        "env_steps_per_s": steady,
    }


def isolated_rate(args, worlds: int) -> dict:
    """:func:`train_rate` in a process of its own (Isaac Lab: one simulation each)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        argv = [sys.executable, __file__, "--backend", args.backend, "--device", args.device]
        argv += ["--worlds", str(worlds), "--iterations", str(args.iterations)]
        subprocess.run([*argv, "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())["rows"][0]


def device_name(backend: str, device: str) -> str:
    import torch

    if backend == "isaaclab" and not device:
        device = "cpu"  # the isaaclab backend's default
    if backend != "mujoco" and (
        device.startswith("cuda") or (not device and torch.cuda.is_available())
    ):
        return torch.cuda.get_device_name(torch.device(device or "cuda:0"))
    return f"{platform.machine()} CPU ({os.cpu_count()} cores)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["mujoco", "warp", "isaaclab"], default="mujoco")
    ap.add_argument(
        "--device",
        default="",
        help="warp (default: the GPU) and isaaclab (default: cpu): cuda:0, cpu",
    )
    ap.add_argument("--worlds", type=int, nargs="+", default=None)
    ap.add_argument("--iterations", type=int, default=6)
    ap.add_argument("--threads", type=int, default=0, help="mujoco backend (0: all cores)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    gpu = args.backend != "mujoco"
    worlds = args.worlds or ([1024, 4096, 8192, 16384, 32768] if gpu else [64, 256])
    suffix = f"_{args.backend}" if gpu else ""
    out = args.out or REPO / "bench" / "results" / f"train_throughput{suffix}.json"
    name = device_name(args.backend, args.device)
    print(f"backend {args.backend} on {name}; PPO on the env's device")
    print(f"{'worlds':>8}{'mini-batches':>14}{'env-steps/s':>14}")
    rows = []
    for w in worlds:
        if args.backend == "isaaclab" and len(worlds) > 1:
            row = isolated_rate(args, w)
        else:
            row = train_rate(args.backend, args.device, w, args.iterations, args.threads)
        rows.append(row)
        rate = row["env_steps_per_s"]
        print(
            f"{w:>8}{row['mini_batches']:>14}{rate:>14,.0f}" if rate else f"{w:>8}  (one iteration)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "machine": {
                    "device": name,
                    "cpu_count": os.cpu_count(),
                    "python": platform.python_version(),
                },
                "backend": args.backend,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
