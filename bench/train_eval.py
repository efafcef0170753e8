"""The method end to end on a synthetic demo, measured: perception → task → PPO → eval.

One run: ``synth`` (noisy RGB-D), ``track-object``, ``track-hand`` (the synthetic hand's
ground truth), ``retarget``, ``train`` for a wall-clock budget, then ``eval`` of the best
checkpoint under ``medium`` (training's), ``none`` and ``large`` randomization, ``export``
and ``eval`` of the exported ONNX policy (100 episodes each, with both replay baselines).
A stage whose folder exists is kept, so an interrupted run resumes.

    .venv/bin/python bench/train_eval.py [--task box_push] [--seed 0] [--budget-min 20]
                                         [--demo-seed 7] [--workspace DIR] [--out FILE]

Prints a table and writes JSON (default ``bench/results/train_eval_<task>_seed<S>.json``):
throughput with learning, the validation curve, the time to ≥ 90 % (box_push) or ≥ 80 %
(can_lift) validation success, and the evaluation table, with the machine and commit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("MENAGERIE_ROOT", str(REPO.parent / "shared" / "data" / "mujoco_menagerie"))

from h2s2r.cli.main import main as h2s2r  # noqa: E402

TARGET = {"box_push": 0.9, "can_lift": 0.8}  # validation success the issues ask for


def stage(ws: Path, folder: str, argv: list[str]) -> float:
    """Run ``h2s2r argv`` unless ``ws/folder`` exists; its wall time (s)."""
    if (ws / folder).is_dir():
        print(f"{folder}/ exists: kept")
        return 0.0
    t0 = time.perf_counter()
    if h2s2r(argv) != 0:
        raise SystemExit(f"h2s2r {' '.join(argv)} failed")
    return time.perf_counter() - t0


def evaluate(ws: Path, name: str, extra: list[str]) -> dict:
    """``h2s2r eval`` into ``eval/``, kept as ``eval_<name>.json``."""
    saved = ws / f"eval_{name}.json"
    if saved.is_file():
        return json.loads(saved.read_text())
    if h2s2r(["eval", str(ws), "--no-video", *extra]) != 0:
        raise SystemExit(f"h2s2r eval {extra} failed")
    metrics = json.loads((ws / "eval" / "metrics.json").read_text())
    saved.write_text(json.dumps(metrics, indent=1))
    return metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", default="box_push", choices=sorted(TARGET))
    ap.add_argument("--seed", type=int, default=0, help="training seed")
    ap.add_argument("--demo-seed", type=int, default=7, help="synth seed")
    ap.add_argument("--budget-min", type=float, default=20.0)
    ap.add_argument("--workspace", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    ws = args.workspace or REPO / "runs" / "bench" / f"train_eval_{args.task}_seed{args.seed}"
    out = args.out or REPO / "bench" / "results" / f"train_eval_{args.task}_seed{args.seed}.json"
    ws.parent.mkdir(parents=True, exist_ok=True)

    times = {}
    if not (ws / "capture").is_dir():
        t0 = time.perf_counter()
        argv = ["synth", "--task", args.task, "--seed", str(args.demo_seed), "--noise"]
        if h2s2r([*argv, "--out", str(ws)]) != 0:
            raise SystemExit("synth failed")
        times["synth"] = time.perf_counter() - t0
    times["track_object"] = stage(ws, "object_track", ["track-object", str(ws)])
    times["track_hand"] = stage(
        ws, "hand_track", ["track-hand", str(ws), "--method", "ground-truth"]
    )
    times["retarget"] = stage(ws, "task", ["retarget", str(ws)])
    times["train"] = stage(
        ws,
        "train",
        ["train", str(ws), "--budget-min", str(args.budget_min), "--seed", str(args.seed)],
    )
    run = json.loads((ws / "train" / "run.json").read_text())
    curve = json.loads((ws / "train" / "validation.json").read_text())
    target = TARGET[args.task]
    reached = next((r for r in curve if r["success"] >= target), None)
    evals = {
        "medium": evaluate(ws, "medium", []),
        "none": evaluate(ws, "none", ["--randomization", "none"]),
        "large": evaluate(ws, "large", ["--randomization", "large"]),
    }
    stage(ws, "policy", ["export", str(ws)])
    evals["medium_onnx"] = evaluate(ws, "medium_onnx", ["--policy", "onnx"])

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    result = {
        "task": args.task,
        "seed": args.seed,
        "demo_seed": args.demo_seed,
        "budget_min": args.budget_min,
        "env_steps": run["env_steps"],
        "wall_time_s": run["wall_time_s"],
        "env_steps_per_s": run["env_steps"] / max(run["wall_time_s"], 1e-9),
        "target_success": target,
        "target_reached_min": None if reached is None else reached["wall_time_s"] / 60,
        "validation": [
            {"min": round(r["wall_time_s"] / 60, 2), "success": r["success"]} for r in curve
        ],
        "eval": {
            k: {
                "success": m["success_rate"],
                "path_success": m["path_success_rate"],
                "replay": m["replay_success_rate"],
                "object_aware_replay": m["object_aware_replay_success_rate"],
                "tracking_err_m": m["tracking_err_mean_m"],
                "diverged": m["diverged_rate"],
            }
            for k, m in evals.items()
        },
        "stage_time_s": {k: round(v, 1) for k, v in times.items() if v},
        "machine": {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "commit": commit,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"\n{args.task} seed {args.seed}: {run['env_steps'] / 1e6:.2f}M env-steps in "
        f"{run['wall_time_s'] / 60:.1f} min ({result['env_steps_per_s'] / 1e3:.2f}k/s with "
        f"learning); validation ≥ {target:.0%} "
        + (f"at {result['target_reached_min']:.1f} min" if reached else "not reached")
    )
    print(f"{'eval':12s} {'success':>8s} {'path':>6s} {'replay':>7s} {'obj-aware':>9s}")
    for k, e in result["eval"].items():
        print(
            f"{k:12s} {e['success']:8.0%} {e['path_success']:6.0%} {e['replay']:7.0%} "
            f"{e['object_aware_replay']:9.0%}"
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
