"""Training throughput of the backends side by side, from ``bench/train_throughput.py``'s
results: env-steps/s including PPO per world count, one column per backend.

    python bench/backends_table.py [--results bench/results] [--backends warp isaaclab]
        [--out FILE]

Reads ``train_throughput_warp.json`` and ``train_throughput_isaaclab.json`` (and the CPU
backend's ``train_throughput.json``) where present; prints a table and writes JSON
(default ``bench/results/backends_gpu.json``). Compare only rows measured on the same
device (each file names its own).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = {
    "mujoco": "train_throughput.json",
    "warp": "train_throughput_warp.json",
    "isaaclab": "train_throughput_isaaclab.json",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--backends", nargs="+", choices=sorted(FILES), default=list(FILES))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    runs = {
        name: json.loads((args.results / FILES[name]).read_text())
        for name in args.backends
        if (args.results / FILES[name]).is_file()
    }
    if not runs:
        raise SystemExit(
            f"no train_throughput*.json in {args.results}: run bench/train_throughput.py"
        )
    rates = {
        name: {r["worlds"]: r["env_steps_per_s"] for r in run["rows"]} for name, run in runs.items()
    }
    worlds = sorted({w for r in rates.values() for w in r})
    for name, run in runs.items():
        print(f"{name}: {run['machine']['device']}")
    print(f"{'worlds':>8}" + "".join(f"{name:>14}" for name in runs))
    for w in worlds:
        cells = (rates[n].get(w) for n in runs)
        print(f"{w:>8}" + "".join(f"{c:>14,.0f}" if c else f"{'-':>14}" for c in cells))
    table = {
        "unit": "env-steps/s including PPO",
        "devices": {n: run["machine"]["device"] for n, run in runs.items()},
        "rows": [{"worlds": w, **{n: rates[n].get(w) for n in runs}} for w in worlds],
    }
    out = args.out or args.results / "backends_gpu.json"
    out.write_text(json.dumps(table, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
