"""The Isaac Lab backend measured: train on Isaac Lab (kit-less, Newton on Warp's CPU
device here), export, then evaluate the exported policy in both simulators.

Run with the Isaac Lab environment's Python (``make isaaclab-env``)::

    .venv-isaaclab/bin/python bench/isaaclab_train.py [--budget-min 20] [--num-envs 256]
        [--episodes 64] [--workspace DIR] [--out FILE]

The workspace (a box_push demo, synth → track-object → track-hand → retarget) is made
with the main environment's ``.venv/bin/h2s2r`` unless ``--workspace`` holds one. Then:
``train --backend isaaclab`` for the budget (validation on MuJoCo: one simulation per
process), ``export``, and ``eval --policy onnx`` with ``--backend isaaclab`` and with
``--backend mujoco`` on the same episodes (seed) and randomization. Prints a table and
writes JSON (default ``bench/results/isaaclab_train.json``): the learning curve (episode
return and reward terms per iteration, validation success), throughput with learning,
and the success of the policy and both replays in each simulator.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ)
ENV.setdefault("MENAGERIE_ROOT", str(REPO.parent / "shared" / "data" / "mujoco_menagerie"))
ENV.setdefault("MUJOCO_GL", "egl")
H2S2R = [sys.executable, "-m", "h2s2r.cli.main"]
MAIN = REPO / ".venv" / "bin" / "h2s2r"


def run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    print("$", " ".join(map(str, cmd)), flush=True)
    r = subprocess.run(list(map(str, cmd)), env=ENV, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return time.perf_counter() - t0


def evaluate(ws: Path, backend: str, args) -> dict:
    options = ["--episodes", args.episodes, "--randomization", args.randomization]
    run([*H2S2R, "eval", ws, "--backend", backend, "--policy", "onnx", "--no-video", *options])
    return json.loads((ws / "eval" / "metrics.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget-min", type=float, default=20.0)
    ap.add_argument("--num-envs", type=int, default=256)
    ap.add_argument("--episodes", type=int, default=64)
    ap.add_argument("--randomization", default="medium")
    ap.add_argument("--workspace", type=Path, default=REPO / "runs" / "isaaclab_box")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "isaaclab_train.json")
    args = ap.parse_args()
    ws = args.workspace
    if not (ws / "task").is_dir():
        for a in (
            ["synth", "--out", ws, "--frames", "60"],
            ["track-object", ws, "--no-overlay"],
            ["track-hand", ws, "--method", "ground-truth"],
            ["retarget", ws],
        ):
            run([MAIN, *a])
    wall = {}
    if not (ws / "train" / "meta.json").is_file():
        options = ["--num-envs", args.num_envs, "--budget-min", args.budget_min]
        options += ["--randomization", args.randomization]
        wall["train"] = run([*H2S2R, "train", ws, "--backend", "isaaclab", *options])
    wall["export"] = run([*H2S2R, "export", ws])
    results = {b: evaluate(ws, b, args) for b in ("isaaclab", "mujoco")}

    rows = [json.loads(x) for x in (ws / "train" / "progress.jsonl").read_text().splitlines()]
    validation = json.loads((ws / "train" / "validation.json").read_text())
    last = rows[-1]
    curve = [
        {"iteration": r["iteration"], "env_steps": r["env_steps"], "wall_s": r["wall_time_s"]}
        | r["terms"]
        for r in rows
    ]
    out = {
        "budget_min": args.budget_min,
        "num_envs": args.num_envs,
        "randomization": args.randomization,
        "episodes": args.episodes,
        "env_steps": last["env_steps"],
        "train_wall_s": last["wall_time_s"],
        "env_steps_per_s_with_learning": last["env_steps"] / max(last["wall_time_s"], 1e-9),
        "curve": curve,
        "validation_on_mujoco": validation,
        "eval": {
            b: {k: m[k] for k in m if not k.startswith(("none/", "small/", "medium/", "large/"))}
            for b, m in results.items()
        },
        "stage_wall_s": wall,
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version()},
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")

    ret = [r["terms"].get("episode_return") for r in rows if "episode_return" in r["terms"]]
    k = max(1, len(ret) // 10)
    print(f"\nIsaac Lab (Newton, Warp CPU) box_push, {args.num_envs} worlds, {args.randomization}")
    print(f"  {last['env_steps']:,} env-steps in {last['wall_time_s'] / 60:.1f} min")
    print(f"  ({out['env_steps_per_s_with_learning']:.0f} env-steps/s incl. learning)")
    if ret:
        first, final = sum(ret[:k]) / k, sum(ret[-k:]) / k
        print(f"  episode return: first {k} iterations {first:.2f} → last {k} {final:.2f}")
    best = max((v.get("success", 0.0) for v in validation), default=0.0)
    print(f"  best validation success (on MuJoCo): {best:.0%}")
    print(f"\n{'simulator':<10}{'policy':>8}{'replay':>8}{'object-aware':>14}")
    for b, m in results.items():
        print(
            f"{b:<10}{m['success_rate']:>8.0%}{m['replay_success_rate']:>8.0%}"
            f"{m['object_aware_replay_success_rate']:>14.0%}"
        )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
