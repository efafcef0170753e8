"""Bad inputs, faults and interruptions, tried as a new user would, at every stage.

The command line of ``bench/bad_inputs.py`` (see its docstring): runs the cases of
``probe.round1`` … in their order, prints a table and writes the JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import (  # noqa: F401  (they register their cases, in order)
    round1,
    round2,
    round3,
    round4,
    round5,
    round6,
    round7,
    round8,
    round9,
    round10,
    round11,
    round12,
)
from .fixtures import Fixtures
from .run import CASES, DEFAULT_OUT, REPO, ROUNDS, Outcome, _tail


# ----------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", nargs="*", default=[], help="run only cases whose name has one of these")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--reuse", type=Path, help="the folder of a --keep run (its fixtures)")
    ap.add_argument("--round", type=int, choices=ROUNDS, help="run one round (default: all)")
    ap.add_argument(
        "--out", type=Path, help="JSON (default: bad_inputs.json; _roundN for --round N > 1)"
    )
    args = ap.parse_args()
    default_out = DEFAULT_OUT
    if args.round and args.round > 1:
        default_out = DEFAULT_OUT.with_name(f"bad_inputs_round{args.round}.json")
    out = args.out or default_out
    cases = [c for c in CASES if args.round in (None, c.round)]
    cases = [c for c in cases if not args.k or any(k in c.name for k in args.k)]

    t0 = time.perf_counter()
    if args.reuse:  # a --keep run's folder: its fixtures, fresh case folders
        tmp = args.reuse.resolve()
        shutil.rmtree(tmp / "cases", ignore_errors=True)
        fx = Fixtures(tmp)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="h2s2r_bad_inputs_"))
        fx = Fixtures(tmp)
        print(f"fixtures in {tmp}")
        fx.build()
    rows = []
    try:
        for c in cases:
            t = time.perf_counter()
            try:
                o = c.fn(fx)
            except Exception as e:  # the probe's own failure: say it, go on
                o = Outcome("BAD", f"probe error: {type(e).__name__}: {e}")
            last = o.runs[0] if o.runs else None
            row = {
                "case": c.name,
                "round": c.round,
                "stage": c.stage,
                "what": c.what,
                "verdict": o.verdict,
                "why": o.why,
                "exit": None if last is None else last.rc,
                "stderr_first_line": "" if last is None else last.first_line,
                "wall_s": round(time.perf_counter() - t, 1),
                "runs": [
                    {
                        "argv": x.argv,
                        "exit": x.rc,
                        "stderr": _tail(x.err, 3000),
                        "stdout": _tail(x.out, 1500),
                        "wall_s": round(x.wall_s, 1),
                        **({"launcher_log": _tail(x.note, 1500)} if x.note else {}),
                    }
                    for x in o.runs
                ],
            }
            rows.append(row)
            print(
                f"{c.name:<36}{c.round:<3}{c.stage:<13}{o.verdict:<5}{row['exit']!s:>5}  "
                f"{row['stderr_first_line'][:110]}",
                flush=True,
            )
    finally:
        if not args.keep and not args.reuse:
            shutil.rmtree(tmp, ignore_errors=True)

    def tally(rs: list[dict]) -> dict[str, int]:
        return {v: sum(r["verdict"] == v for r in rs) for v in ("GOOD", "WEAK", "BAD")}

    counts = tally(rows)
    per_round = {
        str(n): {"cases": len(rs), **tally(rs)}
        for n in ROUNDS
        if (rs := [r for r in rows if r["round"] == n])
    }

    print(f"\n{'case':<36}{'rnd':<4}{'stage':<13}{'verdict':<8}{'exit':>5}  first line of stderr")
    for r in rows:
        print(
            f"{r['case']:<36}{r['round']:<4}{r['stage']:<13}{r['verdict']:<8}{r['exit']!s:>5}  "
            f"{r['stderr_first_line'][:100]}"
        )
    for n, c in per_round.items():
        print(f"round {n}: {c['cases']} cases: {c['GOOD']} GOOD, {c['WEAK']} WEAK, {c['BAD']} BAD")
    print(
        f"\n{len(rows)} cases: {counts['GOOD']} GOOD, {counts['WEAK']} WEAK, {counts['BAD']} BAD"
        f" ({(time.perf_counter() - t0) / 60:.1f} min)"
    )
    for r in rows:
        if r["verdict"] != "GOOD":
            print(f"\n{r['verdict']} {r['case']}: {r['what']} — {r['why']}")
            for x in r["runs"][:2]:
                print(f"  $ {' '.join(map(str, x['argv']))}  [exit {x['exit']}]")
                for ln in (x["stderr"] or x["stdout"]).strip().splitlines()[-4:]:
                    print(f"    {ln[:160]}")
    result = {
        "round": args.round if args.round else "all",
        "cases": len(rows),
        "counts": counts,
        "counts_per_round": per_round,
        "rows": rows,
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "uid": os.getuid(),
        },
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
        "dirty": bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=REPO,
                capture_output=True,
                text=True,
            ).stdout.strip()
        ),
        "partial": bool(args.k),
    }
    if args.k and args.out is None:
        print("\n(-k: a partial run; no JSON written unless --out is given)")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"\nwrote {out}")
    sys.exit(0)
