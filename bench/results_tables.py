"""The tables of ``docs/results.md``, made from the JSON the ``bench/`` scripts wrote.

    .venv/bin/python bench/results_tables.py            # print the tables
    .venv/bin/python bench/results_tables.py --write    # and put them into docs/results.md

Reads ``bench/results/``: ``sim_throughput[_warp].json`` (``bench/sim_throughput.py``),
``train_throughput[_warp].json`` (``bench/train_throughput.py``),
``track_object.json`` (``bench/track_object.py``), ``deploy_loop.json``
(``bench/deploy_loop.py``), ``bad_inputs.json`` and every ``bad_inputs_roundN.json``
(``bench/bad_inputs.py``, in round order), ``isaaclab_train.json``
(``bench/isaaclab_train.py``) and ``train_eval_*.json`` (``bench/train_eval.py``); a
missing file leaves its table out.
``--write`` replaces what lies between the ``bench-tables`` markers of ``docs/results.md``
and the README's results table (``results-summary`` markers; one row per benchmark with
the machine it ran on; ``demo_run.json`` from ``bench/demo_run.py`` too).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DOC = REPO / "docs" / "results.md"
BEGIN, END = "<!-- bench-tables:begin -->", "<!-- bench-tables:end -->"


def _machine(m: dict) -> str:
    return f"{m.get('cpu_count', '?')} cores, Python {m.get('python', '?')}"


def sim_throughput(d: dict) -> list[str]:
    """``bench/sim_throughput.py``'s rows: physics alone and the whole task, per backend."""
    backend = d.get("backend", "mujoco")
    device = d["machine"].get("device") or _machine(d["machine"])
    head = (
        f"**Simulation throughput, `{backend}`** (`bench/sim_throughput.py`; {device}, "
        f"MuJoCo {d['machine'].get('mujoco', '?')}; {d['substeps']} substeps per policy step"
    )
    if d.get("single_world_mj_step_per_s"):
        head += f"; one world {d['single_world_mj_step_per_s']:,.0f} `mj_step`/s"
    rows = [
        head + "). `physics`: the backend alone; `task`: the track_demo task as training "
        "collects from it (controller, rewards, observations, resets).",
        "",
        "| level | worlds | threads | env-steps/s | physics steps/s | ratio to ideal |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in d["rows"]:
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") is not None else "–"
        rows.append(
            f"| {r.get('level', 'physics')} | {r['worlds']} | {r.get('threads') or '–'} | "
            f"{r['env_steps_per_s']:,.0f} | {r['env_steps_per_s'] * d['substeps']:,.0f} | "
            f"{ratio} |"
        )
    return rows


def train_throughput(d: dict) -> list[str]:
    """``bench/train_throughput.py``'s rows: env-steps/s of training including PPO."""
    rows = [
        f"**Training throughput, `{d['backend']}`** (`bench/train_throughput.py`; "
        f"{d['machine']['device']}): env-steps/s including PPO, iterations after the first.",
        "",
        "| worlds | mini-batches | env-steps/s |",
        "| ---: | ---: | ---: |",
    ]
    for r in d["rows"]:
        rate = f"{r['env_steps_per_s']:,.0f}" if r.get("env_steps_per_s") else "–"
        rows.append(f"| {r['worlds']} | {r['mini_batches']} | {rate} |")
    return rows


def track_object(d: dict) -> list[str]:
    s = d["synthetic_mean"]
    rows = [
        f"**Object tracking** (`bench/track_object.py`; {_machine(d['machine'])}; synthetic "
        f"noisy demos, {d['frames']} frames, {len(d['synthetic'])} runs): translation "
        f"{s['trans_err_mean_m'] * 1e3:.2f} mm mean, {s['trans_err_p95_m'] * 1e3:.2f} mm p95, "
        f"{s['trans_err_max_m'] * 1e3:.1f} mm worst frame; rotation {s['rot_err_mean_deg']:.2f}° "
        f"mean; ADD-S AUC {s['add_s_auc']:.3f}; {s['valid_fraction']:.0%} of frames valid; "
        f"{s['fps']:.1f} frames/s; first frame {s['init_time_s']:.2f} s.",
        "",
        "| real frame | hint | depth agreement (1 cm) | centre in the box | init (s) |",
        "| --- | --- | ---: | :---: | ---: |",
    ]
    for r in d["real"]:
        rows.append(
            f"| {r['object']}/{r['frame']} | {r['hint']} | {r['depth_agreement_1cm']:.3f} | "
            f"{'yes' if r['centre_in_box'] else 'no'} | {r['init_time_s']:.2f} |"
        )
    return rows


def train_eval(runs: list[dict]) -> list[str]:
    rows = [
        "**Training and evaluation** (`bench/train_eval.py`: synthetic noisy demo, perception "
        "path with the ground-truth hand, 256 worlds, `medium` randomization in training, "
        "100 evaluation episodes per preset; success of the best checkpoint, then the open-"
        "loop replay / object-aware replay):",
        "",
        "| task | seed | commit | machine | env-steps (k/s) | validation target at | "
        "`medium` | `none` | `large` | ONNX `medium` | path success `medium` | replays `medium` |",
        "| --- | ---: | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in runs:
        e = r["eval"]
        reached = (
            f"≥ {r['target_success']:.0%} at {r['target_reached_min']:.1f} min"
            if r["target_reached_min"] is not None
            else f"< {r['target_success']:.0%} in {r['budget_min']:g} min"
        )
        rows.append(
            f"| {r['task']} | {r['seed']} | {r['commit']} | {_machine(r['machine'])} | "
            f"{r['env_steps'] / 1e6:.2f}M ({r['env_steps_per_s'] / 1e3:.2f}k) | {reached} | "
            f"{e['medium']['success']:.0%} | {e['none']['success']:.0%} | "
            f"{e['large']['success']:.0%} | {e['medium_onnx']['success']:.0%} | "
            f"{e['medium']['path_success']:.0%} | "
            f"{e['medium']['replay']:.0%} / {e['medium']['object_aware_replay']:.0%} |"
        )
    for r in runs:
        curve = " ".join(f"{v['min']:.1f}:{v['success']:.0%}" for v in r["validation"])
        rows.append("")
        rows.append(f"{r['task']} seed {r['seed']} validation (min:success): {curve}")
    return rows


def deploy_loop(d: dict) -> list[str]:
    pj, cj, lat = (
        d["policy_period_jitter_p99_ms"],
        d["command_period_jitter_p99_ms"],
        d["latency_p99_ms"],
    )
    camera = d.get("camera", False)
    how = (
        "`h2s2r deploy WS --sim --camera` (the object pose tracked in rendered depth)"
        if camera
        else "`h2s2r deploy WS --sim` (the object pose with tracker-like noise)"
    )
    return [
        f"**Deployment through ROS 2** (`bench/deploy_loop.py{' --camera' if camera else ''}`;"
        f" {_machine(d['machine'])}; commit {d['commit']}): {how}, {d['runs']} runs of one "
        "episode each, nodes as processes over localhost ROS 2 (p99 per run; median and worst"
        " run):",
        "",
        "| success (deploy) | success (`eval --randomization none --policy onnx`) | "
        "policy period jitter p99 | command period jitter p99 | pose → command latency p99 | "
        "watchdog / safety events |",
        "| ---: | ---: | --- | --- | --- | --- |",
        f"| {d['deploy_success_rate']:.0%} of {d['runs']} | "
        f"{d['eval_none_onnx_success_rate']:.0%} of {d['eval_episodes']} | "
        f"{pj['median']:.2f} ms (max {pj['max']:.2f}) | {cj['median']:.2f} ms (max "
        f"{cj['max']:.2f}) | {lat['median']:.2f} ms (max {lat['max']:.2f}) | "
        f"{d['watchdog_events']} / {d['safety_events']} |",
    ]


def bad_inputs(d: dict) -> list[str]:
    c = d["counts"]
    by_stage: dict[str, dict[str, int]] = {}
    for r in d["rows"]:
        s = by_stage.setdefault(r["stage"], {"GOOD": 0, "WEAK": 0, "BAD": 0})
        s[r["verdict"]] += 1
    rows = [
        f"**Bad inputs, faults and interruptions, round {d.get('round', 1)}** "
        f"(`bench/bad_inputs.py --round {d.get('round', 1)}`; "
        f"{_machine(d['machine'])}; commit {d['commit']}): {d['cases']} cases, "
        f"{c['GOOD']} good, {c['WEAK']} weak, {c['BAD']} bad.",
        "",
        "| stage | cases | good | weak | bad |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for stage, s in by_stage.items():
        rows.append(f"| {stage} | {sum(s.values())} | {s['GOOD']} | {s['WEAK']} | {s['BAD']} |")
    for r in d["rows"]:
        if r["verdict"] != "GOOD":
            rows.append(f"\n{r['verdict']}: `{r['case']}` ({r['what']}): {r['why']}")
    return rows


def _first_last(curve: list[dict], key: str, frac: float = 0.1) -> tuple[float, float]:
    vals = [r[key] for r in curve if key in r]
    k = max(1, int(len(vals) * frac))
    return sum(vals[:k]) / k, sum(vals[-k:]) / k


def isaaclab_train(d: dict) -> list[str]:
    ev = d["eval"]
    r0, r1 = _first_last(d["curve"], "episode_return")
    t0, t1 = _first_last(d["curve"], "keypoint_tracking")
    best = max((v.get("success", 0.0) for v in d["validation_on_mujoco"]), default=0.0)
    rows = [
        f"**Isaac Lab backend** (`bench/isaaclab_train.py`; Isaac Lab 3 kit-less, Newton on "
        f"Warp's CPU device; {_machine(d['machine'])}; commit {d['commit']}): box_push, "
        f"{d['num_envs']} worlds, `{d['randomization']}`, {d['budget_min']:.0f}-min budget: "
        f"{d['env_steps']:,} env-steps ({d['env_steps_per_s_with_learning']:.0f} env-steps/s "
        f"incl. learning); episode return {r0:.2f} → {r1:.2f} and tracking reward "
        f"{t0:.3f} → {t1:.3f} per step (first → last tenth of the iterations); best "
        f"validation success on MuJoCo {_pct(best)}. The exported policy, "
        f"{d['episodes']} episodes each:",
        "",
        "| simulator | policy | open-loop replay | object-aware replay | tracking error (cm) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for sim, m in ev.items():
        rows.append(
            f"| {sim} | {_pct(m['success_rate'])} | {_pct(m['replay_success_rate'])} | "
            f"{_pct(m['object_aware_replay_success_rate'])} | "
            f"{100 * m['tracking_err_mean_m']:.1f} |"
        )
    return rows


def _probe_rounds() -> list[Path]:
    """``bad_inputs_round2.json`` … in round order (round 10 after round 9)."""
    return sorted(
        RESULTS.glob("bad_inputs_round*.json"),
        key=lambda p: int(p.stem.removeprefix("bad_inputs_round") or 0),
    )


def tables() -> str:
    out: list[str] = []
    for name, fn in (
        ("sim_throughput.json", sim_throughput),
        ("sim_throughput_warp.json", sim_throughput),
        ("train_throughput.json", train_throughput),
        ("train_throughput_warp.json", train_throughput),
        ("track_object.json", track_object),
        ("deploy_loop.json", deploy_loop),
        ("deploy_loop_camera.json", deploy_loop),
        ("bad_inputs.json", bad_inputs),
        *((p.name, bad_inputs) for p in _probe_rounds()),
        ("isaaclab_train.json", isaaclab_train),
    ):
        path = RESULTS / name
        if path.is_file():
            out += [*fn(json.loads(path.read_text())), ""]
    runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("train_eval_*.json"))]
    if runs:
        out += [*train_eval(runs), ""]
    return "\n".join(out)


README = REPO / "README.md"
SUMMARY_BEGIN, SUMMARY_END = "<!-- results-summary:begin -->", "<!-- results-summary:end -->"


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def summary() -> str:
    """The README's results table: one row per benchmark, each with its machine."""
    rows = ["| what | result | machine | from |", "| --- | --- | --- | --- |"]
    if d := _load("demo_run.json"):
        med = d["success"].get("medium", {})
        rows.append(
            f"| `h2s2r demo` (box_push, {d['budget_min']:.0f}-min budget) | "
            f"{d['first_run_min']:.1f} min end to end incl. `deploy --sim` and the report; "
            f"`medium`: policy {_pct(med.get('policy'))}, open-loop replay "
            f"{_pct(med.get('replay'))}, object-aware replay "
            f"{_pct(med.get('object_aware_replay'))}; deploy loop "
            f"{_pct(d.get('deploy_success'))}; re-run {d['rerun_s']:.0f} s "
            f"({d['rerun_skipped']} of 8 stages skipped) | "
            f"{_machine(d['machine'])} | `bench/demo_run.py` |"
        )
    for p in sorted(RESULTS.glob("train_eval_*.json")):
        d = json.loads(p.read_text())
        ev = d.get("eval", {})
        reached = d.get("target_reached_min")
        when = f"{reached:.1f} min" if reached is not None else "not reached"
        rows.append(
            f"| {d['task']} seed {d['seed']}, `train --budget-min {d['budget_min']:.0f}` | "
            f"validation ≥ {_pct(d.get('target_success'))} after {when}; `eval` "
            + ", ".join(f"{k} {_pct(v.get('success'))}" for k, v in ev.items())
            + f"; {d['env_steps_per_s']:,.0f} env-steps/s | {_machine(d['machine'])} | "
            "`bench/train_eval.py` |"
        )
    for name in ("train_throughput.json", "train_throughput_warp.json"):
        if d := _load(name):
            best = max(d["rows"], key=lambda r: r["env_steps_per_s"])
            rows.append(
                f"| training throughput, `{d.get('backend', 'mujoco')}` (incl. PPO) | "
                f"{best['env_steps_per_s']:,.0f} env-steps/s at {best['worlds']} worlds | "
                f"{d['machine'].get('device') or _machine(d['machine'])} | "
                "`bench/train_throughput.py` |"
            )
    for name in ("sim_throughput.json", "sim_throughput_warp.json"):
        if d := _load(name):
            top = {}
            for r in d["rows"]:
                lvl = r.get("level", "physics")
                if lvl not in top or r["env_steps_per_s"] > top[lvl]["env_steps_per_s"]:
                    top[lvl] = r
            res = "; ".join(
                f"{lvl} {r['env_steps_per_s']:,.0f} env-steps/s ({r['worlds']} worlds)"
                for lvl, r in top.items()
            )
            rows.append(
                f"| simulation throughput, `{d.get('backend', 'mujoco')}` | {res} | "
                f"{d['machine'].get('device') or _machine(d['machine'])} | "
                "`bench/sim_throughput.py` |"
            )
    if d := _load("track_object.json"):
        m = d["synthetic_mean"]
        real = d.get("real", [])
        ok = sum(r.get("depth_agreement_1cm", 0) >= 0.95 for r in real)
        rows.append(
            f"| object tracking | synthetic: {m['trans_err_mean_m'] * 1e3:.1f} mm mean / "
            f"{m['trans_err_p95_m'] * 1e3:.1f} mm p95, {m['rot_err_mean_deg']:.2f}°, "
            f"{m['fps']:.0f} frames/s; real YCB frames: {ok} of {len(real)} runs with depth "
            f"agreement ≥ 0.95 | {_machine(d['machine'])} | `bench/track_object.py` |"
        )
    for name in ("deploy_loop.json", "deploy_loop_camera.json"):
        if d := _load(name):
            what = "deploy --sim --camera" if d.get("camera") else "deploy --sim"
            rows.append(
                f"| `{what}` through ROS 2 | {_pct(d['deploy_success_rate'])} of "
                f"{d['runs']} runs; p99 jitter policy "
                f"{d['policy_period_jitter_p99_ms']['median']:.1f} ms, command "
                f"{d['command_period_jitter_p99_ms']['median']:.1f} ms; latency p99 "
                f"{d['latency_p99_ms']['median']:.1f} ms | {_machine(d['machine'])} | "
                "`bench/deploy_loop.py` |"
            )
    if d := _load("isaaclab_train.json"):
        ev = d["eval"]
        r0, r1 = _first_last(d["curve"], "episode_return")
        rows.append(
            f"| `train --backend isaaclab` (Isaac Lab 3, Newton on Warp's CPU device), "
            f"box_push {d['budget_min']:.0f} min | {d['env_steps']:,} env-steps; episode "
            f"return {r0:.1f} → {r1:.1f}; exported policy: Isaac Lab "
            f"{_pct(ev['isaaclab']['success_rate'])}, MuJoCo "
            f"{_pct(ev['mujoco']['success_rate'])} | {_machine(d['machine'])} | "
            "`bench/isaaclab_train.py` |"
        )
    probes = []
    for path in [RESULTS / "bad_inputs.json", *_probe_rounds()]:
        if d := _load(path.name):
            c = d["counts"]
            probes.append(f"round {d.get('round', 1)}: {c['GOOD']}/{c['WEAK']}/{c['BAD']}")
    if probes:
        rows.append(
            "| bad inputs, each held-out round as recorded (round 1 after its fixes, later "
            "rounds their first run; good/weak/bad) | "
            + "; ".join(probes)
            + " | 2 cores | `bench/bad_inputs.py` |"
        )
    return "\n".join(rows)


def _replace(path: Path, begin: str, end: str, text: str) -> None:
    doc = path.read_text()
    if begin not in doc or end not in doc:
        raise SystemExit(f"{path}: no {begin} … {end} markers")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{text}\n{end}{tail}")
    print(f"wrote the tables into {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--write", action="store_true", help=f"replace the tables in {DOC} and {README}"
    )
    args = ap.parse_args()
    text = tables()
    print(text)
    print(summary())
    if args.write:
        _replace(DOC, BEGIN, END, text)
        _replace(README, SUMMARY_BEGIN, SUMMARY_END, summary())


if __name__ == "__main__":
    main()
