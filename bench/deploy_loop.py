"""Deployment through ROS 2 against the simulated robot, measured over many runs.

Each run is ``h2s2r deploy WS --sim`` (one demo episode; the nodes as processes talking
over localhost ROS 2): success as evaluation counts it, the policy loop's and the command
loop's period jitter and the pose-to-command latency. Beside it, ``h2s2r eval WS
--randomization none --policy onnx`` (the same exported policy in the training
simulator, no randomization) for the comparison the deploy issue asks for.

    .venv/bin/python bench/deploy_loop.py WS [--runs 20] [--camera] [--out FILE]

``--camera`` puts the tracker in the loop (the simulated robot renders depth from the demo
camera; the object pose node tracks it). ``WS`` is a trained and exported workspace
(e.g. ``bench/train_eval.py``'s). Prints a table and writes JSON (default
``bench/results/deploy_loop.json``, ``deploy_loop_camera.json`` with ``--camera``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("MENAGERIE_ROOT", str(REPO.parent / "shared" / "data" / "mujoco_menagerie"))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

from h2s2r.cli.deploy import DeployConfig, run_deploy  # noqa: E402
from h2s2r.cli.main import main as h2s2r  # noqa: E402

KEYS = (
    "success",
    "final_object_err_m",
    "policy_period_jitter_p99_ms",
    "command_period_jitter_p99_ms",
    "latency_p99_ms",
    "watchdog_events",
    "safety_events",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--episodes", type=int, default=100, help="eval episodes (none)")
    ap.add_argument("--domain-id", type=int, default=61)
    ap.add_argument("--camera", action="store_true", help="the tracker in the loop")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    name = "deploy_loop_camera.json" if args.camera else "deploy_loop.json"
    args.out = args.out or REPO / "bench" / "results" / name
    ws = args.workspace.resolve()

    rows = []
    for seed in range(args.runs):
        art = run_deploy(
            ws,
            DeployConfig(sim=True, camera=args.camera, sim_seed=seed, domain_id=args.domain_id),
            log=lambda *a: None,
        )
        row = {k: float(art.metrics.get(k, float("nan"))) for k in KEYS}
        rows.append(row)
        print(
            f"run {seed:2d}: success {row['success']:.0f}, final error "
            f"{row['final_object_err_m'] * 100:.1f} cm, jitter p99 policy "
            f"{row['policy_period_jitter_p99_ms']:.2f} ms / command "
            f"{row['command_period_jitter_p99_ms']:.2f} ms, latency p99 "
            f"{row['latency_p99_ms']:.2f} ms, events {row['watchdog_events']:.0f}/"
            f"{row['safety_events']:.0f}"
        )
    shutil.copytree(ws / "deploy_log", ws / "deploy_log_last", dirs_exist_ok=True)
    saved_eval = ws / "eval_none_onnx.json"
    if not saved_eval.is_file():
        argv = ["eval", str(ws), "--randomization", "none", "--policy", "onnx", "--no-video"]
        if h2s2r([*argv, "--episodes", str(args.episodes)]) != 0:
            raise SystemExit("eval failed")
        shutil.copy(ws / "eval" / "metrics.json", saved_eval)
    ev = json.loads(saved_eval.read_text())

    def col(k):
        return np.array([r[k] for r in rows])

    result = {
        "camera": args.camera,
        "runs": args.runs,
        "deploy_success_rate": float(col("success").mean()),
        "eval_none_onnx_success_rate": ev["success_rate"],
        "eval_episodes": int(ev["episodes"]),
        "final_object_err_m_median": float(np.median(col("final_object_err_m"))),
        "policy_period_jitter_p99_ms": {
            "median": float(np.median(col("policy_period_jitter_p99_ms"))),
            "max": float(col("policy_period_jitter_p99_ms").max()),
        },
        "command_period_jitter_p99_ms": {
            "median": float(np.median(col("command_period_jitter_p99_ms"))),
            "max": float(col("command_period_jitter_p99_ms").max()),
        },
        "latency_p99_ms": {
            "median": float(np.median(col("latency_p99_ms"))),
            "max": float(col("latency_p99_ms").max()),
        },
        "watchdog_events": int(col("watchdog_events").sum()),
        "safety_events": int(col("safety_events").sum()),
        "per_run": rows,
        "workspace": str(ws),
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version()},
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"\ndeploy --sim: {result['deploy_success_rate']:.0%} of {args.runs} runs; eval none "
        f"(ONNX): {result['eval_none_onnx_success_rate']:.0%} of {result['eval_episodes']}\n"
        f"p99 jitter policy {result['policy_period_jitter_p99_ms']['median']:.2f} ms (max "
        f"{result['policy_period_jitter_p99_ms']['max']:.2f}), command "
        f"{result['command_period_jitter_p99_ms']['median']:.2f} ms (max "
        f"{result['command_period_jitter_p99_ms']['max']:.2f}); latency p99 "
        f"{result['latency_p99_ms']['median']:.2f} ms (max {result['latency_p99_ms']['max']:.2f})"
        f"\nwrote {args.out}"
    )


if __name__ == "__main__":
    main()
