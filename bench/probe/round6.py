"""Round 6 of the bad-input probe (held-out: none is a variant of an earlier case).

Written from README.md, docs/, DESIGN.md, configs/ and ``h2s2r VERB --help`` only:
``import`` over a trained workspace, a take one folder down, 32-bit float depth TIFFs,
48-bit colour PNGs; a ``T_cam_base`` given to ``calibrate --from-file``, ``--depth-scale
1000``; a mesh in millimetres without ``--mesh-scale``; ``track-hand`` re-run on a
trained workspace (is downstream stale?); ``task_config`` with a control period that is
not a multiple of the physics step, a scalar goal speed, a success distance in
centimetres, an empty ``rewards:``; ``eval --presets`` with a typo and with spaces; a
deploy robot YAML of another robot and a velocity scale in percent; ``report`` on a
misspelt path, a capture-only workspace, a broken ``object_track/``, a ``report`` file of
the user's, a killed re-report; ``run`` re-run (skips) and with another randomization;
``demo`` over a user's imported capture and with a negative ``--deploy-s``; TMPDIR gone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import cv2
import numpy as np
from PIL import Image

from .fixtures import Fixtures, src_copy
from .round2 import chain
from .round3 import failed_step
from .round5 import SHORT_RUN, _frames, _said
from .run import (
    ENV,
    EVAL,
    REPO,
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

R6 = 6
GT = ["--hand-method", "ground-truth"]


def _src_from(ws_fixture, dest) -> None:
    """An image folder (rgb/ depth/ cam_K.txt) made from a workspace's capture/."""
    for sub in ("rgb", "depth"):
        shutil.copytree(ws_fixture / "capture" / sub, dest / sub)
    shutil.copy(ws_fixture / "capture" / "cam_K.txt", dest / "cam_K.txt")


# --- import ---------------------------------------------------------------------------
@case("import", "import a new take --from into a workspace already trained on another", R6)
def import_over_trained_workspace(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_over_trained_workspace", "trained")
    src = ws.parent / "take2"
    _src_from(fx.synth2, src)
    cap0, train0 = digest(ws / "capture"), digest(ws / "train")
    r = h2s2r("import", "--from", src, ws)
    kept = digest(ws / "capture") == cap0 and digest(ws / "train") == train0
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(
            r,
            r"capture|exists|not empty|workspace",
            fix=r"new workspace|another workspace|delete|remove|--out",
            checks=[(kept, "capture/ or train/ changed")],
        )
    v = h2s2r("validate", ws)
    if v.rc != 0 and not v.traceback:
        return Outcome(
            "WEAK",
            "exit 0 replacing capture/ under a trained pipeline; validate then flags it",
            [r, v],
        )
    return Outcome(
        "BAD",
        "exit 0: capture/ replaced by another take under tracks, task/ and train/ of the old "
        "one, and validate passes",
        [r, v],
    )


@case("import", "the take one folder down: --from session/ holding take_01/{rgb,depth}", R6)
def import_nested_take(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_nested_take")
    session = ws.parent / "session"
    shutil.copytree(fx.src, session / "take_01")
    r = h2s2r("import", "--from", session, ws)
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(r, r"take_01", checks=[(not leftovers(ws), "left behind")])
    return succeeded(r, checks=[(len(_frames(ws)) == 30, f"{len(_frames(ws))} frames, not 30")])


@case("import", "depth as 32-bit float TIFFs in metres (depth/000000.tiff, another tool's)", R6)
def import_depth_float_tiff(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_depth_float_tiff")
    src = src_copy(fx, ws)
    for p in sorted((src / "depth").glob("*.png")):
        d = np.asarray(Image.open(p)).astype(np.float32) * 0.001
        cv2.imwrite(str(p.with_suffix(".tiff")), d)
        p.unlink()
    r = h2s2r("import", "--from", src, ws)
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(r, r"depth|tiff?", checks=[(not leftovers(ws), "left behind")])
    got = sorted((ws / "capture" / "depth").glob("*.png"))
    want = np.asarray(Image.open(fx.src / "depth" / "000000.png")).astype(float) * 0.001
    ok = False
    if got:
        meta = json.loads((ws / "capture" / "meta.json").read_text())
        scale = float(meta.get("depth_scale", 0.001) or 0.001)
        have = np.asarray(Image.open(got[0])).astype(float) * scale
        ok = np.nanmax(np.abs(have - want)) < 0.002
    return succeeded(r, checks=[(len(got) == 30 and ok, "depth not the TIFFs' metres")])


@case("import", "colour frames as 16-bit-per-channel PNGs (48-bit, a machine-vision SDK's)", R6)
def import_rgb_16bit(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_rgb_16bit")
    src = src_copy(fx, ws)
    for p in sorted((src / "rgb").glob("*.png")):
        rgb = np.asarray(Image.open(p).convert("RGB")).astype(np.uint16) * 257
        cv2.imwrite(str(p), rgb[:, :, ::-1])
    r = h2s2r("import", "--from", src, ws)
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(r, r"rgb|colou?r|16.bit", checks=[(not leftovers(ws), "left behind")])
    fr = _frames(ws)
    want = np.asarray(Image.open(fx.src / "rgb" / "000000.png").convert("RGB")).astype(int)
    ok = (
        bool(fr)
        and np.abs(np.asarray(Image.open(fr[0]).convert("RGB")).astype(int) - want).max() <= 1
    )
    return succeeded(r, checks=[(len(fr) == 30 and ok, "colour frames not the source's")])


# --- calibrate ------------------------------------------------------------------------
@case("calibrate", "--from-file T_cam_base (the inverse: base in the camera frame)", R6)
def calibrate_from_file_inverse(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_from_file_inverse", "synth")
    T = np.load(ws / "ground_truth" / "gt.npz")["T_base_cam"]
    f = ws.parent / "T_cam_base.txt"
    np.savetxt(f, np.linalg.inv(T))
    r = h2s2r("calibrate", ws, "--from-file", f)
    return refused(
        r,
        r"--from-file|T_cam_base\.txt",
        fix=r"invers|direction|T_cam_base|T_base_cam",
        checks=[(not (ws / "calibration").exists(), "calibration/ written")],
    )


@case("calibrate", "--depth-scale 1000 (depth units per metre, the inverse of the option)", R6)
def calibrate_depth_scale_inverse(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_depth_scale_inverse", "synth")
    T = np.load(ws / "ground_truth" / "gt.npz")["T_base_cam"]
    f = ws.parent / "T_base_cam.txt"
    np.savetxt(f, T)
    r = h2s2r("calibrate", ws, "--from-file", f, "--depth-scale", "1000")
    cal = ws / "calibration" / "calibration.json"
    if r.rc == 0 and not r.traceback and cal.is_file():
        c = json.loads(cal.read_text())
        plane = np.asarray(c.get("table_plane_base") or [0, 0, 0, 1e9], float)
        right = np.allclose(c["T_base_cam"], T, atol=1e-6) and abs(plane[2]) > 0.99
        right = right and abs(plane[3]) < 0.01  # the synthetic table at z = 0
        if right:  # the rules: success where a refusal was due, the result still right
            return Outcome(
                "WEAK",
                "exit 0: --depth-scale 1000 silently ignored (the table plane is right)",
                [r],
            )
    return refused(
        r,
        r"--depth-scale|depth.scale",
        checks=[(not (ws / "calibration").exists(), "calibration/ written")],
    )


# --- track-object ---------------------------------------------------------------------
@case("track-object", "--mesh the object's OBJ in millimetres, no --mesh-scale", R6)
def track_object_mesh_mm(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_mesh_mm", "synth")
    mm = ws.parent / "box_mm.obj"
    out = []
    for ln in (ws / "object" / "mesh.obj").read_text().splitlines():
        if ln.startswith("v "):
            x, y, z = (float(t) * 1000 for t in ln.split()[1:4])
            ln = f"v {x:.4f} {y:.4f} {z:.4f}"
        out.append(ln)
    mm.write_text("\n".join(out) + "\n")
    r = h2s2r("track-object", ws, "--no-overlay", "--mesh", mm)
    return refused(
        r,
        r"--mesh|box_mm\.obj|millimet|\bmm\b",
        fix=r"--mesh-scale|0\.001",
        checks=[(not (ws / "object_track").exists(), "object_track/ written")],
    )


# --- stale downstream -----------------------------------------------------------------
@case("validate", "track-hand re-run (--smooth-half-window 0) on a trained workspace; validate", R6)
def validate_after_hand_retrack(fx: Fixtures) -> Outcome:
    ws = fx.ws("validate_after_hand_retrack", "trained")
    h0 = digest(ws / "hand_track")
    tr = h2s2r("track-hand", ws, "--method", "ground-truth", "--smooth-half-window", "0")
    if tr.rc != 0 and not tr.traceback and not tr.timed_out:
        return refused(tr, r"task|train|downstream|stale", fix=r"delete|re-?run|retarget")
    if (bad := failed_step([tr])) is not None:
        return bad
    if digest(ws / "hand_track") == h0:
        return Outcome("GOOD", "probe: the re-run changed nothing (no stale state to see)", [tr])
    v = h2s2r("validate", ws)
    if v.traceback or v.timed_out:
        return succeeded(v, runs=[tr])
    if v.rc != 0 and _said(v, r"task|hand_track|stale|older|changed"):
        return Outcome("GOOD", "validate flags task/ as made from another hand_track/", [tr, v])
    if _said(tr, r"stale|out of date|re-?run retarget|task/"):
        return Outcome("WEAK", "track-hand warned, but validate passes the stale task/", [tr, v])
    return Outcome(
        "BAD", "hand_track/ changed under task/ and train/: no word, validate passes", [tr, v]
    )


# --- train: task_config edited --------------------------------------------------------
def _task_config(fx: Fixtures, name: str, text: str) -> tuple:
    ws = fx.ws(name, "tracked")
    cfg = ws.parent / "my_task.yaml"
    cfg.write_text(text)
    return ws, h2s2r("train", ws, *TRAIN, "--config", cfg)


@case("train", "task_config ctrl_dt_s: 0.07 (not a multiple of the 1/120 s physics step)", R6)
def train_ctrl_dt_not_multiple(fx: Fixtures) -> Outcome:
    ws, r = _task_config(fx, "train_ctrl_dt_not_multiple", "task_config:\n  ctrl_dt_s: 0.07\n")
    if r.rc == 0 and not r.traceback and _said(r, r"ctrl_dt_s"):
        return Outcome("WEAK", "trained with a rounded control period, with a warning", [r])
    return refused(r, r"ctrl_dt_s", checks=[(not (ws / "train").exists(), "train/ written")])


@case("train", "task_config goal_speed: 0.8 (one number, not a [min, max] range)", R6)
def train_goal_speed_scalar(fx: Fixtures) -> Outcome:
    ws, r = _task_config(fx, "train_goal_speed_scalar", "task_config:\n  goal_speed: 0.8\n")
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(r, r"goal_speed")
    cfg = ws / "train" / "config.json"
    ok = cfg.is_file() and "0.8" in cfg.read_text()
    return succeeded(r, checks=[(ok, "train/config.json does not record goal_speed 0.8")])


@case("train", "task_config success_pos_m: 3 (centimetres: meant 0.03 m)", R6)
def train_success_pos_cm(fx: Fixtures) -> Outcome:
    ws, r = _task_config(fx, "train_success_pos_cm", "task_config:\n  success_pos_m: 3\n")
    if r.rc == 0 and not r.traceback and _said(r, r"success_pos_m"):
        return Outcome("WEAK", "trained with a 3 m success radius, with a warning", [r])
    return refused(r, r"success_pos_m", checks=[(not (ws / "train").exists(), "train/ written")])


@case("train", "task_config rewards: with every term commented out (YAML null)", R6)
def train_rewards_null(fx: Fixtures) -> Outcome:
    ws, r = _task_config(
        fx, "train_rewards_null", "task_config:\n  rewards:\n  #  keypoint_tracking: 2.0\n"
    )
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(r, r"rewards")
    return succeeded(r, checks=[((ws / "train").is_dir(), "no train/")])


# --- eval -----------------------------------------------------------------------------
@case("eval", "--presets smal,large (a typo in one preset)", R6)
def eval_presets_typo(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_presets_typo", "trained")
    r = h2s2r("eval", ws, *EVAL, "--presets", "smal,large")
    return refused(
        r,
        r"smal\b|--presets",
        fix=r"small|one of|valid",
        checks=[(not (ws / "eval").exists(), "eval/ written before the refusal")],
    )


@case("eval", "--presets 'none, large' (a space after the comma)", R6)
def eval_presets_spaces(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_presets_spaces", "trained")
    r = h2s2r("eval", ws, *EVAL, "--presets", "none, large")
    if r.rc != 0 and not r.traceback and not r.timed_out:
        return refused(r, r"--presets|' ?large'|\" ?large\"")
    m = ws / "eval" / "metrics.json"
    txt = m.read_text() if m.is_file() else ""
    return succeeded(r, checks=[("large" in txt and "none" in txt, "metrics lack none/large")])


# --- deploy ---------------------------------------------------------------------------
def _robot_yaml(ws, old: str, new: str):
    cfg = ws.parent / "my_robot.yaml"
    text = (REPO / "configs" / "deploy" / "iiwa_allegro_ros2_control.yaml").read_text()
    assert old in text, old
    cfg.write_text(text.replace(old, new))
    return cfg


@case("deploy", "--robot-config with velocity_scale: 50 (percent; the file says 0.5 = half)", R6)
def deploy_velocity_scale_percent(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_velocity_scale_percent", "trained")
    cfg = _robot_yaml(ws, "velocity_scale: 0.5", "velocity_scale: 50")
    r = h2s2r("deploy", ws, "--sim", "--duration", "2", "--robot-config", cfg, timeout=180)
    return refused(r, r"velocity_scale")


@case("deploy", "--robot-config of another robot (robot: iiwa_leap) for an Allegro policy", R6)
def deploy_robot_config_other_robot(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_robot_config_other_robot", "trained")
    cfg = _robot_yaml(ws, "robot: iiwa_allegro", "robot: iiwa_leap")
    r = h2s2r("deploy", ws, "--sim", "--duration", "2", "--robot-config", cfg, timeout=180)
    return refused(r, r"iiwa_leap.*iiwa_allegro|iiwa_allegro.*iiwa_leap")


# --- report ---------------------------------------------------------------------------
@case("report", "report runs/mgu (a misspelt workspace path)", R6)
def report_misspelt_path(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_misspelt_path", "trained")
    typo = ws.parent / "wss"
    r = h2s2r("report", typo)
    return refused(r, r"wss", checks=[(not typo.exists(), "the misspelt folder was created")])


@case("report", "report on a workspace with capture/ only (just imported)", R6)
def report_capture_only(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_capture_only", "imported")
    r = h2s2r("report", ws)
    page = ws / "report" / "index.html"
    txt = page.read_text(errors="replace") if page.is_file() else ""
    return succeeded(
        r, checks=[(bool(txt), "no report/index.html"), ("not run" in txt, "no 'not run' stage")]
    )


@case("report", "report with object_track/'s arrays cut short (a broken copy)", R6)
def report_broken_object_track(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_broken_object_track", "trained")
    npz = sorted((ws / "object_track").glob("*.npz"))
    for p in npz:
        p.write_bytes(p.read_bytes()[:200])
    r = h2s2r("report", ws)
    page = ws / "report" / "index.html"
    txt = page.read_text(errors="replace") if page.is_file() else ""
    if r.rc != 0 and not r.traceback and not r.timed_out:
        return Outcome(
            "WEAK", "refused the whole page for one broken stage (docs: the page shows why)", [r]
        )
    return succeeded(
        r,
        checks=[
            (bool(npz), "probe: no .npz in object_track/"),
            (bool(txt), "no report/index.html"),
            ("object_track" in txt, "the page does not name object_track"),
        ],
    )


@case("report", "ws/report is the user's own file (notes saved as 'report')", R6)
def report_name_taken_by_file(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_name_taken_by_file", "trained")
    (ws / "report").write_text("my notes on this take\n")
    r = h2s2r("report", ws)
    kept = (ws / "report").is_file() and (ws / "report").read_text() == "my notes on this take\n"
    if r.rc == 0 and not r.traceback:
        return Outcome(
            "BAD" if not kept else "GOOD", "exit 0" + ("" if kept else ", notes lost"), [r]
        )
    return refused(r, r"report", checks=[(kept, "the user's report file was lost")])


@case("report", "SIGKILL while report re-writes report/; the old page; report again", R6)
def report_sigkill_rereport(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_sigkill_rereport", "trained")
    first = h2s2r("report", ws)
    page = ws / "report" / "index.html"
    if first.rc != 0 or not page.is_file():
        return Outcome("BAD", f"the first report fails: {first.first_line}", [first])
    old = page.read_bytes()
    t0 = time.perf_counter()
    p = start(["report", ws])
    time.sleep(max(0.5, first.wall_s * 0.6))
    os.killpg(p.pid, signal.SIGKILL)
    killed = finish(p, ["report", ws], t0, timeout=30)
    now = page.read_bytes() if page.is_file() else b""
    again = h2s2r("report", ws)
    checks = [
        (now == old or now.rstrip().endswith(b"</html>"), "report/index.html left half-written"),
        (not leftovers(ws), f"left behind: {leftovers(ws)}"),
        (page.is_file(), "no report/index.html after the retry"),
    ]
    return succeeded(again, checks=checks, runs=[first, killed])


# --- run / demo -----------------------------------------------------------------------
@case("run", "`run` twice: the second must skip every stage and keep train/", R6)
def run_rerun_skips(fx: Fixtures) -> Outcome:
    ws = fx.ws("run_rerun_skips", "tracked")
    a = h2s2r("run", ws, *GT, *SHORT_RUN)
    if (bad := failed_step([a])) is not None:
        return bad
    t0 = digest(ws / "train")
    b = h2s2r("run", ws, *GT, *SHORT_RUN)
    return succeeded(
        b,
        checks=[
            (digest(ws / "train") == t0, "train/ re-made"),
            (b.wall_s < 0.5 * a.wall_s, f"second run {b.wall_s:.0f} s vs {a.wall_s:.0f} s"),
        ],
        runs=[a],
    )


@case("run", "`run --randomization large` over a trained run (medium): what is kept?", R6)
def run_randomization_changed(fx: Fixtures) -> Outcome:
    ws = fx.ws("run_randomization_changed", "trained")
    t0 = digest(ws / "train")
    r = h2s2r("run", ws, *GT, *SHORT_RUN, "--randomization", "large")
    if r.rc != 0 and not r.traceback and not r.timed_out:
        return refused(r, r"train|randomization", fix=r"delete|remove|--resume|rm\b")
    if r.traceback or r.timed_out:
        return succeeded(r)
    if digest(ws / "train") != t0:
        return succeeded(r)
    if _said(r, r"train/?\b.*(kept|keep|skip|made with|delete)"):
        return succeeded(r)
    return Outcome(
        "WEAK",
        "exit 0 keeping the medium-randomization policy for --randomization large, silently",
        [r],
    )


@case("demo", "`demo` on a workspace holding the user's imported recording", R6)
def demo_over_imported(fx: Fixtures) -> Outcome:
    ws = fx.ws("demo_over_imported", "imported")
    cap0 = digest(ws / "capture")
    r = h2s2r("demo", ws, *SHORT_RUN, timeout=300)
    kept = digest(ws / "capture") == cap0
    if r.rc == 0 and not r.traceback and kept:
        return Outcome("WEAK", "exit 0 (capture/ kept): a demo run on the user's take?", [r])
    return refused(r, r"capture|workspace|exists", checks=[(kept, "the user's capture/ replaced")])


@case("demo", "`demo --deploy-s -5`", R6)
def demo_deploy_s_negative(fx: Fixtures) -> Outcome:
    ws = fx.ws("demo_deploy_s_negative")
    r = h2s2r("demo", ws, "--deploy-s", "-5", *SHORT_RUN, timeout=300)
    return refused(
        r, r"--deploy-s|deploy_s", checks=[(not (ws / "capture").exists(), "synth ran first")]
    )


# --- environment ----------------------------------------------------------------------
@case("eval", "TMPDIR points at a folder that does not exist: eval, export", R6)
def eval_tmpdir_missing(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_tmpdir_missing", "trained")
    env = dict(ENV, TMPDIR=str(ws.parent / "no_such_tmp"))

    def run(*args) -> Run:
        t0 = time.perf_counter()
        return finish(start(list(args), env=env), list(args), t0)

    ev = run("eval", ws, *EVAL)
    if ev.rc != 0 and not ev.traceback and not ev.timed_out:
        return refused(ev, r"TMPDIR|no_such_tmp")
    return chain(
        ev, [run("export", ws)], [((ws / "eval" / "metrics.json").is_file(), "no metrics")]
    )
