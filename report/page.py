"""``h2s2r report DIR``: one page for a whole run, ``DIR/report/index.html``.

Example::

    h2s2r report runs/demo          # then open runs/demo/report/index.html

The page opens offline: pictures are embedded (PNG/JPEG data URIs), the rollout video
sits beside it (``report/rollout.mp4``). It shows what is there and names what is not:
a stage that has not run shows "not run" and the command that runs it; an artifact that
does not load (stale, edited, unfinished) shows why. Nothing here fails on a missing or
broken stage: the report is how a person finds out.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import html
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from h2s2r.core.artifacts import ARTIFACTS
from h2s2r.core.artifacts.base import (
    WRITTEN_FILE,
    read_json_or_none,
    read_timing,
    staged_folder,
)
from h2s2r.core.errors import H2S2RError
from h2s2r.core.runinfo import machine_info, read_machine
from h2s2r.core.runlog import load_run_log
from h2s2r.report import figures

# The stages in order: folder, what it holds, the command that makes it.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("capture", "the demo recording", "h2s2r import --from PATH {ws}  (or h2s2r synth --out {ws})"),
    ("object", "the object mesh", "h2s2r track-object {ws} --mesh PATH"),
    ("object_track", "object pose per frame", "h2s2r track-object {ws}"),
    ("hand_track", "hand keypoints per frame", "h2s2r track-hand {ws}"),
    ("task", "retargeted start + object goal path", "h2s2r retarget {ws}"),
    ("train", "PPO in simulation", "h2s2r train {ws}"),
    ("eval", "success vs the replay baselines", "h2s2r eval {ws} --presets all"),
    ("policy", "exported ONNX policy", "h2s2r export {ws}"),
    ("deploy_log", "the ROS 2 deploy loop", "h2s2r deploy {ws} --sim"),
)
# Shown first in the stage table (the rest under "all N"); a key missing is skipped.
KEY_METRICS = {
    "object_track": (
        "valid_fraction",
        "init_agreement",
        "object_scale_ratio",
        "trans_err_mean_m",
        "rot_err_mean_deg",
        "reinit_count",
    ),
    "hand_track": (
        "valid_fraction",
        "hand_length_m",
        "wrist_to_middle_mcp_m",
        "bone_length_spread_m",
    ),
    "task": (
        "start_idx",
        "pre_fingertip_err_mean_m",
        "pre_min_clearance_m",
        "traj_fingertip_err_mean_m",
        "table_height_m",
    ),
    "eval": (
        "success_rate",
        "replay_success_rate",
        "object_aware_replay_success_rate",
        "path_success_rate",
        "tracking_err_mean_m",
        "episodes",
    ),
    "deploy_log": (
        "success",
        "final_object_err_m",
        "final_object_rot_err_deg",
        "latency_p99_ms",
        "policy_period_jitter_p99_ms",
        "watchdog_events",
        "watchdog_hold_s",
        "safety_events",
    ),
}
PRESET_ORDER = ("none", "small", "medium", "large")  # the task's randomization presets
METHODS = (
    ("policy", "policy"),
    ("replay", "open-loop replay"),
    ("object_aware_replay", "object-aware replay"),
)


@dataclass
class Stage:
    folder: str
    what: str
    command: str
    status: str = "not run"  # not run | ok | problem
    problem: str = ""
    artifact: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float | None = None
    machine: dict = field(default_factory=dict)
    h2s2r_version: str = ""


def collect(ws: Path) -> dict[str, Stage]:
    """Every stage's artifact loaded (with its checks) where present."""
    stages = {}
    for folder, what, cmd in STAGES:
        st = Stage(folder, what, cmd.format(ws=ws))
        path = ws / folder
        stages[folder] = st
        if not path.is_dir():
            continue
        try:
            st.artifact = ARTIFACTS[folder].load(path)
            st.status = "ok"
            if failure := st.artifact.provenance.config.get("failure"):  # e.g. a failed deploy
                st.status, st.problem = "problem", f"the command failed: {failure}"
        except H2S2RError as e:
            st.status, st.problem = "problem", str(e)
        except Exception as e:  # a report never fails on one artifact: it says what broke
            st.status, st.problem = "problem", f"{type(e).__name__}: {e}"
        st.wall_time_s = read_timing(path).get("wall_time_s")
        st.machine = read_machine(path)
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            st.h2s2r_version = json.loads((path / "meta.json").read_text())["h2s2r_version"]
        st.metrics = _key_metrics(folder, st.artifact, path)
    return stages


def _key_metrics(folder: str, art: Any, path: Path) -> dict[str, Any]:
    if art is None:
        return {}
    if folder == "capture":
        return {
            "frames": art.num_frames,
            "fps": art.fps,
            "size": f"{art.width}×{art.height}",
            "source": art.source,
        }
    if folder == "object":
        return {
            "name": art.name,
            "extent (cm)": " × ".join(f"{x * 100:.1f}" for x in art.extents_m),
        }
    if folder == "train":
        best = read_json_or_none(path / "best.json") or {}
        cfg = (read_json_or_none(path / "config.json") or {}).get("train", {})
        return {
            "env-steps": art.env_steps,
            "training wall time (min)": art.wall_time_s / 60,
            "env-steps/s": art.env_steps / max(art.wall_time_s, 1e-9),
            "backend": art.backend,
            "worlds": cfg.get("num_envs"),
            "best validation success": best.get("success"),
        }
    if folder == "policy":
        h = art.header
        return {"robot": h.get("robot"), "control period (ms)": 1e3 * float(h["ctrl_dt_s"])}
    metrics = getattr(art, "metrics", None)
    if metrics is None:
        metrics = read_json_or_none(path / "metrics.json") or {}
    # Per-preset rows go to the success table; per-frame signals (frame_NNNNN_*) stay in
    # the stage's metrics.json.
    m = {k: v for k, v in dict(metrics).items() if "/" not in k and not k.startswith("frame_")}
    first = [k for k in KEY_METRICS.get(folder, ()) if k in m]
    return {k: m[k] for k in first} | {k: v for k, v in m.items() if k not in first}


# ----------------------------------------------------------------------------- data
def _rollout(ws: Path):
    z = ws / "eval" / "rollout.npz"
    if not z.is_file():
        return None
    with np.load(z) as d:
        return d["t"], d["object_pos"], d["object_quat_wxyz"]


def _deploy_object(ws: Path):
    """The deploy loop's object: the simulated robot's true pose, else the pose topic."""
    d = ws / "deploy_log"
    for name, pos, quat in (
        ("sim_robot", "object_pos", "object_quat"),
        ("policy", "object_pos", "object_quat"),
    ):
        if (d / f"{name}.npz").is_file():
            try:
                rows, _ = load_run_log(d / f"{name}.npz")
            except (OSError, ValueError, KeyError):
                continue
            if pos in rows and len(rows[pos]):
                t = np.asarray(rows["t"], dtype=np.float64)
                return t - t[0], rows[pos], rows[quat]
    return None


def _success_rows(stages: dict[str, Stage]) -> list[tuple[str, list[float | None]]]:
    ev = stages["eval"].artifact
    rows = []
    if ev is not None:
        m = dict(ev.metrics)
        presets = list(dict.fromkeys(k.split("/")[0] for k in m if "/" in k))
        rank = {p: i for i, p in enumerate(PRESET_ORDER)}
        presets.sort(key=lambda p: rank.get(p, len(rank)))
        if not presets:  # an eval from before per-preset metrics: its one preset
            rows.append(
                (
                    f"{ev.provenance.config.get('randomization', '?')} randomization",
                    [m.get(f"{'' if k == 'policy' else k + '_'}success_rate") for k, _ in METHODS],
                )
            )
        for p in presets:
            rows.append(
                (f"{p} randomization", [m.get(f"{p}/{k}_success_rate") for k, _ in METHODS])
            )
    dl = stages["deploy_log"].artifact
    if dl is not None:
        s = dl.metrics.get("success")
        rows.append(("deploy loop (ROS 2, 1 episode)", [s, None, None]))
    return rows


# ----------------------------------------------------------------------------- html
CSS = "".join(
    (
        "body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1180px;",
        "padding:16px 24px;color:#1b1b1b}",
        "h1{font-size:22px;margin:8px 0 2px}",
        "h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}",
        "table{border-collapse:collapse;margin:6px 0}",
        "td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}",
        "th{background:#f4f4f4}",
        "td.num{text-align:right;font-variant-numeric:tabular-nums}",
        ".ok{color:#137333;font-weight:600}",
        ".notrun{color:#777;font-weight:600}",
        ".problem{color:#b3261e;font-weight:600}",
        "code{background:#f3f3f3;padding:1px 4px;border-radius:3px}",
        "img{max-width:100%;border:1px solid #eee}",
        ".missing{background:#fafafa;border:1px dashed #bbb;padding:8px 12px;color:#555}",
        ".small{color:#666;font-size:12px}",
        "details{margin:2px 0}",
    )
)


def _e(x: Any) -> str:
    return html.escape(str(x))


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "—" if v is None else str(v)
    if isinstance(v, float):
        if not np.isfinite(v):
            return "n/a" if np.isnan(v) else str(v)
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _img(data: bytes | None, alt: str, mime: str = "image/png") -> str:
    b64 = base64.b64encode(data).decode()
    return f'<img alt="{_e(alt)}" src="data:{mime};base64,{b64}">'


def _missing(text: str, cmd: str | None = None) -> str:
    c = f"<br>run: <code>{_e(cmd)}</code>" if cmd else ""
    return f'<div class="missing">not run: {_e(text)}{c}</div>'


def _section(title: str, body: str, sid: str) -> str:
    return f'<h2 id="{sid}">{_e(title)}</h2>\n{body}\n'


def _stage_table(stages: dict[str, Stage]) -> str:
    rows = []
    for st in stages.values():
        cls = {"ok": "ok", "not run": "notrun"}.get(st.status, "problem")
        status = f'<span class="{cls}">{_e(st.status)}</span>'
        if st.status == "not run":
            status += f"<br><code>{_e(st.command)}</code>"
        elif st.problem:
            status += f"<br><span class='small'>{_e(st.problem)}</span>"
        wall = "—" if st.wall_time_s is None else f"{st.wall_time_s:.1f}"
        keys = ", ".join(
            f"{_e(k)} {_e(_fmt(v))}" for k, v in list(st.metrics.items())[:6] if v is not None
        )
        more = ""
        if len(st.metrics) > 6:
            cells = "".join(
                f"<tr><td>{_e(k)}</td><td class='num'>{_e(_fmt(v))}</td></tr>"
                for k, v in st.metrics.items()
            )
            more = (
                f"<details><summary>all {len(st.metrics)}</summary><table>{cells}</table></details>"
            )
        who = st.machine.get("cpu", "")
        if st.machine.get("gpus"):
            who = ", ".join(st.machine["gpus"])
        ver = st.h2s2r_version
        rows.append(
            f"<tr><td><b>{_e(st.folder)}/</b><br><span class='small'>{_e(st.what)}</span></td>"
            f"<td>{status}</td><td class='num'>{wall}</td><td>{keys}{more}</td>"
            f"<td class='small'>{_e(ver)}<br>{_e(who)}</td></tr>"
        )
    head = (
        "<tr><th>stage</th><th>status</th><th>wall time (s)</th><th>key metrics</th>"
        "<th>h2s2r, machine</th></tr>"
    )
    return f"<table id='stages'>{head}{''.join(rows)}</table>"


def _success_table(stages: dict[str, Stage]) -> str:
    rows = _success_rows(stages)
    if not rows:
        return _missing("no evaluation yet", stages["eval"].command)
    ev = stages["eval"].artifact
    n = int(ev.metrics.get("episodes", 0)) if ev is not None else 0
    head = "<tr><th>conditions</th>" + "".join(f"<th>{_e(t)}</th>" for _, t in METHODS) + "</tr>"
    body = []
    for name, vals in rows:
        best = max((v for v in vals if v is not None), default=None)
        cells = []
        for v in vals:
            txt = "—" if v is None or not np.isfinite(v) else f"{100 * v:.0f} %"
            bold = v is not None and v == best and best > 0
            cells.append(f"<td class='num'>{'<b>' + txt + '</b>' if bold else txt}</td>")
        body.append(f"<tr><td>{_e(name)}</td>{''.join(cells)}</tr>")
    note = (
        f"<p class='small'>simulation rows: {n} episodes per cell, the same start poses for "
        "the three methods; success: the object ends within the demo's final-pose tolerance "
        "and never left the table.</p>"
    )
    return f"<table id='success'>{head}{''.join(body)}</table>{note}"


def _versions_table() -> str:
    m = machine_info()
    rows = [
        ("h2s2r", m["h2s2r"]),
        ("python", m["python"]),
        ("os", m["os"]),
        ("cpu", f"{m['cpu']} ({m['cpu_count']} cores)"),
        ("memory", f"{m['memory_gib']} GiB"),
        ("gpus", ", ".join(m["gpus"]) or "none"),
        *((k, v) for k, v in m["packages"].items()),
    ]
    cells = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


REPORT_FILES = frozenset({"index.html", "rollout.mp4", WRITTEN_FILE})


def _check_report_folder(out: Path) -> None:
    """The report replaces ``out`` whole: refuse when something there is not a report (a
    file of the user's, a folder holding other files) instead of deleting it."""
    if out.is_symlink() and not out.is_dir():
        raise H2S2RError(f"{out}: is a link to a file, not a report folder — move or remove it")
    if out.exists() and not out.is_dir():
        raise H2S2RError(
            f"{out}: is a file, not the report folder — move or rename it, then run "
            f"`h2s2r report {out.parent}` again"
        )
    if out.is_dir():
        other = sorted(p.name for p in out.iterdir() if p.name not in REPORT_FILES)
        if other:
            shown = ", ".join(other[:5]) + (" …" if len(other) > 5 else "")
            raise H2S2RError(
                f"{out}: holds files the report did not write ({shown}) — move them "
                f"elsewhere (the report replaces {out.name}/ whole), then run again"
            )


def build_report(ws: str | Path, log=print) -> Path:
    """Write ``ws/report/`` (``index.html``, ``rollout.mp4``); return the page's path."""
    ws = Path(ws)
    if not ws.is_dir():
        raise H2S2RError(
            f"{ws}: workspace folder does not exist — give the folder a stage wrote "
            "(e.g. `h2s2r report runs/demo`)"
        )
    _check_report_folder(ws / "report")
    stages = collect(ws)
    if all(st.status == "not run" for st in stages.values()):
        raise H2S2RError(
            f"{ws}: holds no stage's output ({', '.join(s + '/' for s in stages)}) — give "
            f"the workspace a stage wrote, or start one: `h2s2r synth --out {ws}`"
        )
    art = {k: st.artifact for k, st in stages.items()}
    task = art["task"]
    parts = []

    # the demo
    start = int(task.start_idx) if task is not None else None
    strip = figures.demo_strip(
        art["capture"], art["object_track"], art["hand_track"], art["object"], start
    )
    if strip is None:
        body = _missing("no demo recording", stages["capture"].command)
    else:
        notes = []
        if art["object_track"] is None:
            notes.append(f"no object outline: <code>{_e(stages['object_track'].command)}</code>")
        if art["hand_track"] is None:
            notes.append(f"no hand keypoints: <code>{_e(stages['hand_track'].command)}</code>")
        if task is None:
            notes.append(
                f"start of manipulation unknown: <code>{_e(stages['task'].command)}</code>"
            )
        body = _img(strip, "demo frames", "image/jpeg") + (
            f"<p class='small'>not run: {'; '.join(notes)}</p>" if notes else ""
        )
        body += (
            "<p class='small'>orange: the tracked object's outline; green: the hand's "
            "keypoints; red frame: the start of manipulation.</p>"
        )
    parts.append(_section("The demo", body, "demo"))

    # object trajectory
    runs = {}
    if (r := _rollout(ws)) is not None:
        runs["simulation (eval)"] = r
    if (d := _deploy_object(ws)) is not None:
        runs["deploy loop"] = d
    traj = figures.trajectory(task, runs)
    if traj is None:
        body = _missing("no task (object goal path)", stages["task"].command)
    else:
        body = _img(traj, "object trajectory")
        if "simulation (eval)" not in runs:
            body += _missing("no simulated rollout", stages["eval"].command)
        if "deploy loop" not in runs:
            body += _missing("no deploy loop", stages["deploy_log"].command)
    parts.append(_section("Object trajectory: demo, simulation, deploy loop", body, "trajectory"))

    # pre-manipulation pose
    check = ws / "task" / "retarget_check.png"
    if task is not None and check.is_file():
        tm = stages["task"].metrics
        keys = ", ".join(f"{_e(k)} {_e(_fmt(v))}" for k, v in list(tm.items())[:4])
        body = _img(check.read_bytes(), "retargeted robot hand beside the human hand")
        body += (
            "<p class='small'>the human hand at the start of manipulation (left) and the "
            f"robot's retargeted pose (right). {keys}</p>"
        )
    else:
        body = _missing("no retargeted pre-manipulation pose", stages["task"].command)
    parts.append(_section("Pre-manipulation pose", body, "premanip"))

    # learning
    validation = read_json_or_none(ws / "train" / "validation.json") or []
    progress = []
    prog = ws / "train" / "progress.jsonl"
    if prog.is_file():
        for line in prog.read_text().splitlines():
            try:
                progress.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a kill
    learn = figures.learning(validation, progress)
    if learn is None:
        body = _missing("no training run", stages["train"].command)
    else:
        body = _img(learn, "learning curves")
        if not progress:
            body += "<p class='small'>reward terms: this run predates train/progress.jsonl.</p>"
    parts.append(_section("Learning", body, "learning"))

    # success
    parts.append(_section("Success", _success_table(stages), "success-table"))

    # video + deploy timing
    out_video = None
    video = ws / "eval" / "rollout.mp4"
    if video.is_file():
        out_video = video
        body = (
            '<video id="rollout" controls muted loop playsinline width="640" src="rollout.mp4">'
            "</video><p class='small'>the policy's first evaluation episode, from the demo "
            "camera.</p>"
        )
    else:
        body = _missing("no rollout video", f"h2s2r eval {ws} --video")
    tz = ws / "deploy_log" / "timing.npz"
    pol = art["policy"]
    if tz.is_file() and pol is not None:
        with np.load(tz) as z:
            hist = figures.deploy_timing(
                z["policy_t"], z["command_t"], float(pol.header["ctrl_dt_s"])
            )
        body += (
            _img(hist, "deploy loop timing") if hist is not None else _missing("no deploy ticks")
        )
    else:
        body += _missing("no deploy loop timing", stages["deploy_log"].command)
    parts.append(_section("Rollout and deploy loop", body, "rollout"))

    # stages, versions
    parts.append(_section("Stages", _stage_table(stages), "stages"))
    parts.append(_section("This report was made with", _versions_table(), "versions"))

    made = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>h2s2r report: {_e(ws.resolve().name)}</title><style>{CSS}</style></head><body>"
        f"<h1>h2s2r report: {_e(ws.resolve())}</h1><p class='small'>made {_e(made)}</p>"
        + "".join(parts)
        + "</body></html>\n"
    )
    with staged_folder(ws / "report") as out:
        (out / "index.html").write_text(page, encoding="utf-8")
        if out_video is not None:
            shutil.copyfile(out_video, out / "rollout.mp4")
    page_path = ws / "report" / "index.html"
    log(f"wrote {page_path} ({page_path.stat().st_size / 1e6:.1f} MB)")
    return page_path


__all__ = ["STAGES", "build_report", "collect"]
