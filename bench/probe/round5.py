"""Round 5 of the bad-input probe (held-out: none is a variant of an earlier case).

Written from README.md, docs/, DESIGN.md and ``h2s2r VERB --help`` only: a depth scale
given as "1 mm", folder layouts of other tools (``color/``, gaps in the numbering, RGBA
frames, ``fx fy cx cy`` intrinsics), a very long path, the C locale, no ``HOME``; a
board pose in Euler degrees and a non-rotation ``--from-file``; ``task_config`` edited
(a reversed range, degrees for radians, a negative density, a misspelt reward term); a
0.5 s ``deploy --sim``; a workspace moved or touched by a wrong clock after training;
and ``run`` over a trained workspace with a changed robot or a re-tracked object.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import numpy as np
from PIL import Image

from .fixtures import Fixtures, src_copy
from .round2 import chain
from .round3 import failed_step
from .run import (
    ENV,
    EVAL,
    H2S2R,
    TRAIN,
    Outcome,
    Run,
    case,
    digest,
    finish,
    h2s2r,
    leftovers,
    refused,
    start,
    succeeded,
)

R5 = 5
SHORT_RUN = ["--budget-min", "0.2", "--num-envs", "8", "--episodes", "2"]


def _frames(ws, sub: str = "rgb") -> list:
    d = ws / "capture" / sub
    return sorted(d.glob("*.png")) if d.is_dir() else []


def _said(r: Run, pattern: str) -> bool:
    """Whether the output says ``pattern`` outside of paths (the case folders' names)."""
    return bool(re.search(pattern, re.sub(r"/[^\s:'\"`]+", "PATH", r.err + r.out), re.I))


def _task_text(ws) -> str:
    return " ".join(
        p.read_text(errors="replace")
        for p in sorted((ws / "task").glob("*"))
        if p.is_file() and p.suffix in (".json", ".yaml", ".txt")
    )


# --- import ---------------------------------------------------------------------------
@case("import", "--depth-scale 1 on millimetre depth (meant: 'one unit is 1 mm')", R5)
def import_depth_scale_one(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_depth_scale_one")
    src = src_copy(fx, ws)
    r = h2s2r("import", "--from", src, "--depth-scale", "1", ws)
    # 16-bit depth × 1 m: a table some hundreds of metres away; a mature tool says so.
    return refused(r, r"--depth-scale|depth.scale", checks=[(not leftovers(ws), "left behind")])


@case("import", "a RealSense-viewer export: color/ and depth/ (not rgb/)", R5)
def import_color_folder_name(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_color_folder_name")
    src = src_copy(fx, ws)
    (src / "rgb").rename(src / "color")
    r = h2s2r("import", "--from", src, ws)
    if r.rc == 0 and not r.traceback:
        return succeeded(r, checks=[(len(_frames(ws)) == 30, f"{len(_frames(ws))} frames")])
    return refused(r, r"\brgb/?\b.*color|color.*\brgb/?\b")


@case("import", "frames 000010-000014 missing in rgb/ and depth/ (dropped by the recorder)", R5)
def import_numbering_gap(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_numbering_gap")
    src = src_copy(fx, ws)
    for sub in ("rgb", "depth"):
        for i in range(10, 15):
            (src / sub / f"{i:06d}.png").unlink()
    r = h2s2r("import", "--from", src, ws)
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(r, r"0*1[0-4]\b|gap|missing|skipp")
    o = succeeded(r, checks=[(len(_frames(ws)) == 25, f"{len(_frames(ws))} frames, not 25")])
    if o.verdict == "GOOD" and not _said(r, r"gap|missing|skipp|dropped|0*10\b"):
        return Outcome(
            "WEAK",
            "imported 25 frames silently: a 5-frame jump in time (the object teleports) "
            "without a word about the gap",
            o.runs,
        )
    return o


@case("import", "colour frames saved with an alpha channel (RGBA PNGs)", R5)
def import_rgba_frames(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_rgba_frames")
    src = src_copy(fx, ws)
    for p in sorted((src / "rgb").glob("*.png")):
        Image.open(p).convert("RGBA").save(p)
    r = h2s2r("import", "--from", src, ws)
    fr = _frames(ws)
    ok = bool(fr) and np.array_equal(
        np.asarray(Image.open(fr[0]).convert("RGB")),
        np.asarray(Image.open(fx.src / "rgb" / "000000.png").convert("RGB")),
    )
    v = h2s2r("validate", ws) if r.rc == 0 else None
    return chain(r, [v] if v else [], [(ok and len(fr) == 30, "colour frames differ")])


@case("import", "cam_K.txt as one line 'fx fy cx cy' (another tool's format)", R5)
def import_camk_four_numbers(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_camk_four_numbers")
    src = src_copy(fx, ws)
    K = np.loadtxt(fx.src / "cam_K.txt")
    (src / "cam_K.txt").write_text(f"{K[0, 0]} {K[1, 1]} {K[0, 2]} {K[1, 2]}\n")
    r = h2s2r("import", "--from", src, ws)
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(r, r"cam_K")
    got = ws / "capture" / "cam_K.txt"
    ok = got.is_file() and np.allclose(np.loadtxt(got).reshape(-1)[:9], K.reshape(-1))
    return succeeded(r, checks=[(ok, "capture/cam_K.txt is not the camera's K")])


@case("import", "a workspace path of ~700 characters (deeply nested project folders)", R5)
def import_very_long_path(fx: Fixtures) -> Outcome:
    base = fx.ws("import_very_long_path").parent
    deep = base
    for i in range(10):
        deep = deep / (f"level{i:02d}_" + "x" * 60)
    ws = deep / "mug"
    r = h2s2r("import", "--from", fx.src, ws)
    if r.rc != 0 or r.traceback or r.timed_out:
        return succeeded(r)
    return chain(r, [h2s2r("validate", ws)], [(len(_frames(ws)) == 30, "not 30 frames")])


@case("import", "LC_ALL=C LANG=C (a minimal container) and a non-ASCII workspace", R5)
def import_c_locale_unicode(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_c_locale_unicode", name="démo_ü")
    env = {k: v for k, v in ENV.items() if not k.startswith("LC_")}
    env.update(LC_ALL="C", LANG="C")
    env.pop("PYTHONUTF8", None)

    def run(*args) -> Run:
        t0 = time.perf_counter()
        p = subprocess.run(
            [H2S2R, *map(str, args)], env=env, capture_output=True, text=True, timeout=240
        )
        return Run(
            ["h2s2r", *map(str, args)], p.returncode, p.stdout, p.stderr, time.perf_counter() - t0
        )

    r = run("import", "--from", fx.src, ws)
    more = [run("validate", ws)] if r.rc == 0 else []
    return chain(r, more, [(len(_frames(ws)) == 30, "not 30 frames")])


# --- environment ----------------------------------------------------------------------
@case("eval", "HOME unset (a systemd service or cron job): eval, export, validate", R5)
def eval_home_unset(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_home_unset", "trained")
    env = {k: v for k, v in ENV.items() if k != "HOME"}

    def run(*args) -> Run:
        t0 = time.perf_counter()
        return finish(start(list(args), env=env), list(args), t0)

    ev = run("eval", ws, *EVAL)
    more = [run("export", ws), run("validate", ws)] if ev.rc == 0 else []
    return chain(ev, more, [((ws / "eval" / "metrics.json").is_file(), "no eval/metrics.json")])


# --- calibrate ------------------------------------------------------------------------
@case("calibrate", "--board-pose x,y,z,roll,pitch,yaw in degrees (6 numbers, not 7)", R5)
def calibrate_board_pose_euler(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_board_pose_euler", "synth")
    r = h2s2r(
        "calibrate", ws, "--images", ws / "capture" / "rgb", "--board-pose", "0.5,0,0,180,0,30"
    )
    return refused(
        r,
        r"--board-pose|board.pose",
        checks=[(not (ws / "calibration").exists(), "calibration/ written")],
    )


@case("calibrate", "--from-file: a 4×4 whose rotation part is scaled 1.1 (not a rotation)", R5)
def calibrate_from_file_not_rotation(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_from_file_not_rotation", "synth")
    T = np.load(ws / "ground_truth" / "gt.npz")["T_base_cam"].copy()
    T[:3, :3] *= 1.1
    f = ws.parent / "T_base_cam.txt"
    np.savetxt(f, T)
    r = h2s2r("calibrate", ws, "--from-file", f)
    return refused(
        r,
        r"T_base_cam\.txt|--from-file|rotation",
        checks=[(not (ws / "calibration").exists(), "calibration/ written")],
    )


# --- train: task_config edited --------------------------------------------------------
def _task_config(fx: Fixtures, name: str, text: str) -> tuple:
    ws = fx.ws(name, "tracked")
    cfg = ws.parent / "my_task.yaml"
    cfg.write_text(text)
    return ws, h2s2r("train", ws, *TRAIN, "--config", cfg)


@case("train", "task_config goal_speed: [1.0, 0.5] (the range reversed)", R5)
def train_goal_speed_reversed(fx: Fixtures) -> Outcome:
    _ws, r = _task_config(
        fx, "train_goal_speed_reversed", "task_config:\n  goal_speed: [1.0, 0.5]\n"
    )
    if r.rc == 0 and not r.traceback:
        return Outcome("WEAK", "accepted a reversed range without a word", [r])
    return refused(r, r"goal_speed")


@case("train", "task_config controller max_step_rad: 5.7 (degrees: meant 0.1 rad)", R5)
def train_max_step_degrees(fx: Fixtures) -> Outcome:
    _ws, r = _task_config(
        fx, "train_max_step_degrees", "task_config:\n  controller:\n    max_step_rad: 5.7\n"
    )
    if r.rc == 0 and not r.traceback and _said(r, r"max_step_rad"):
        return Outcome("WEAK", "trained with 5.7 rad per step, with a warning", [r])
    return refused(r, r"max_step_rad")


@case("train", "task_config object_density: -500 (a sign slip)", R5)
def train_negative_density(fx: Fixtures) -> Outcome:
    ws, r = _task_config(fx, "train_negative_density", "task_config:\n  object_density: -500\n")
    return refused(r, r"object_density", checks=[(not (ws / "train").exists(), "train/ written")])


@case("train", "task_config rewards: keypoint_trackng (a misspelt reward term)", R5)
def train_reward_term_typo(fx: Fixtures) -> Outcome:
    ws, r = _task_config(
        fx, "train_reward_term_typo", "task_config:\n  rewards:\n    keypoint_trackng: 2.0\n"
    )
    return refused(
        r,
        r"keypoint_trackng",
        fix=r"keypoint_tracking|one of|valid|did you mean",
        checks=[(not (ws / "train").exists(), "train/ written")],
    )


# --- deploy ---------------------------------------------------------------------------
@case("deploy", "deploy --sim --duration 0.5 (a quick smoke test)", R5)
def deploy_sim_half_second(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_sim_half_second", "trained")
    r = h2s2r("deploy", ws, "--sim", "--duration", "0.5", timeout=180)
    if r.rc != 0 and not r.traceback and not r.timed_out:
        return refused(r, r"--duration")
    m = ws / "deploy_log" / "metrics.json"
    ok = m.is_file() and isinstance(json.loads(m.read_text()), dict)
    return succeeded(r, checks=[(ok, "no deploy_log/metrics.json")])


# --- workspace ------------------------------------------------------------------------
@case("workspace", "the trained workspace moved (mv runs/mug runs/mug_v1): eval, export", R5)
def workspace_moved_after_training(fx: Fixtures) -> Outcome:
    ws = fx.ws("workspace_moved_after_training", "trained")
    moved = ws.parent / "mug_v1"
    ws.rename(moved)
    ev = h2s2r("eval", moved, *EVAL)
    more = [h2s2r("export", moved), h2s2r("validate", moved)] if ev.rc == 0 else []
    return chain(
        ev, more, [(not ws.exists(), "the old path was re-created"), (not leftovers(moved), "left")]
    )


@case("workspace", "tracks and task/ stamped 2035 (a wrong clock at retarget): eval, export", R5)
def workspace_future_mtimes(fx: Fixtures) -> Outcome:
    ws = fx.ws("workspace_future_mtimes", "trained")
    t = 2051222400  # 2035-01-01
    for sub in ("object_track", "hand_track", "task"):
        for p in [ws / sub, *(ws / sub).rglob("*")]:
            os.utime(p, (t, t))
    ev = h2s2r("eval", ws, *EVAL)
    more = [h2s2r("export", ws), h2s2r("validate", ws)] if ev.rc == 0 else []
    return chain(ev, more)


# --- run ------------------------------------------------------------------------------
@case("run", "`run --robot iiwa_leap` on a workspace retargeted and trained for iiwa_allegro", R5)
def run_robot_changed(fx: Fixtures) -> Outcome:
    ws = fx.ws("run_robot_changed", "trained")
    before = digest(ws / "train")
    r = h2s2r("run", ws, "--robot", "iiwa_leap", "--hand-method", "ground-truth", *SHORT_RUN)
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(r, r"--robot|iiwa_leap|iiwa_allegro", fix=r"delete|remove|retarget|rm\b")
    leap = "iiwa_leap" in _task_text(ws) and digest(ws / "train") != before
    if leap:
        return succeeded(r)
    if _said(r, r"iiwa_allegro|--robot.*(ignored|kept)|task/.*(exists|kept)"):
        return Outcome(
            "WEAK", "exit 0 keeping the iiwa_allegro task/ and policy, with a mention", [r]
        )
    return Outcome(
        "BAD",
        "exit 0: --robot iiwa_leap silently ignored (task/, train/, policy/ stay iiwa_allegro)",
        [r],
    )


@case("run", "track-object re-run (--max-points 200) on a trained workspace; then `run`", R5)
def run_after_upstream_rerun(fx: Fixtures) -> Outcome:
    ws = fx.ws("run_after_upstream_rerun", "trained")
    track0, task0 = digest(ws / "object_track"), digest(ws / "task")
    tr = h2s2r("track-object", ws, "--no-overlay", "--max-points", "200")
    if (bad := failed_step([tr])) is not None:
        return bad
    if digest(ws / "object_track") == track0:
        return Outcome("GOOD", "probe: the re-run changed nothing (no stale state to see)", [tr])
    r = h2s2r("run", ws, "--hand-method", "ground-truth", *SHORT_RUN)
    v = h2s2r("validate", ws)
    if r.rc != 0 and not r.traceback and not r.timed_out:
        return refused(
            r,
            r"task|object_track|stale|out of date|older",
            fix=r"retarget|delete|re-?run",
            runs=[tr],
        )
    if r.traceback or r.timed_out:
        return succeeded(r, runs=[tr])
    redone = digest(ws / "task") != task0
    if redone:
        return chain(r, [v])
    if _said(r, r"stale|out of date|older than|changed since"):
        return Outcome("WEAK", "exit 0 on a stale task/ (it says so, but keeps it)", [r, v, tr])
    return Outcome(
        "BAD",
        "exit 0: object_track/ changed, `run` kept the task/ and policy made from the old "
        "track (no word)" + ("" if v.rc == 0 else "; validate flags it"),
        [r, v, tr],
    )
