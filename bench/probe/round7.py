"""Round 7 of the bad-input probe (held-out: none is a variant of an earlier case).

Written from README.md, docs/, DESIGN.md, configs/ and ``h2s2r VERB --help`` only:
``eval --presets all`` beside ``--randomization large``, ``--path-tol-m`` in centimetres,
``train/`` without ``best_model.pt``, the eval video under ``MUJOCO_GL=osmesa``; ``demo``
re-run with another ``--task`` and after a Ctrl-C while it trains; ``run`` re-run with
another ``--episodes``; ``report`` with ``capture/`` archived away and with ``eval/`` of
another training run; ``track-hand --frame-size-tolerance`` below 1, a hamer hand 1.6×
too large, ``H2S2R_HAND_MODEL`` pointing nowhere; ``retarget``'s advised
``--max-hand-gap-frames``; ``track-object --texture`` with an OBJ, ``--roi`` in fractions,
FoundationPose poses written inverted; ``export --checkpoint`` as the path tab completion
gives; ``deploy --config`` given the robot YAML, a robot YAML with ``watchdog_ms``,
``ROS_LOCALHOST_ONLY`` (the pre-Jazzy variable) instead of the discovery range;
``calibrate --from-file`` YAML with a 3×3 rotation, ``calibrate --check --joints`` in
degrees; a synth YAML with the camera distance in centimetres and with ``seed: 08``;
``task_config: randomization:`` (a train option under task_config).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time

import numpy as np
from PIL import Image

from .fixtures import Fixtures
from .round2 import chain, hamer_from_gt
from .round3 import HAND_MODEL, failed_step
from .round5 import SHORT_RUN, _said
from .run import (
    ENV,
    EVAL,
    FIX,
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
    wait_for,
)

R7 = 7
GT = ["--hand-method", "ground-truth"]
DEMO_TIMEOUT_S = 420  # a whole `demo` (120 synthetic frames) on a loaded 2-core machine


def _run_env(env: dict, *args, timeout: float = 240) -> Run:
    t0 = time.perf_counter()
    return finish(start(list(args), env=env), list(args), t0, timeout)


def _json(path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _page_text(ws) -> str:
    """report/index.html as text (tags removed), '' if there is none."""
    page = ws / "report" / "index.html"
    if not page.is_file():
        return ""
    html = page.read_text(errors="replace")
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    html = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _track_err_m(ws) -> float:
    """object_track's mean translation error against ground truth (nan if unknown)."""
    return float(_json(ws / "object_track" / "metrics.json").get("trans_err_mean_m", np.nan))


def _T_base_cam(ws) -> np.ndarray:
    return np.load(ws / "ground_truth" / "gt.npz")["T_base_cam"]


# --- eval -----------------------------------------------------------------------------
@case("eval", "eval --randomization large --presets all (large asked twice)", R7)
def eval_presets_all_with_large(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_presets_all_with_large", "trained")
    r = h2s2r("eval", ws, *EVAL, "--randomization", "large", "--presets", "all")
    if r.rc != 0 and not r.traceback and not r.timed_out:
        return refused(r, r"--presets|all|large")
    txt = (ws / "eval" / "metrics.json").read_text() if (ws / "eval").is_dir() else ""
    missing = [p for p in ("none", "small", "medium", "large") if p not in txt]
    return succeeded(r, checks=[(not missing, f"eval/metrics.json lacks {missing}")])


@case("eval", "eval --path-tol-m 5 (centimetres: meant 0.05 m)", R7)
def eval_path_tol_cm(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_path_tol_cm", "trained")
    r = h2s2r("eval", ws, *EVAL, "--path-tol-m", "5")
    if r.rc == 0 and not r.traceback and _said(r, r"path.tol"):
        return Outcome("WEAK", "evaluated with a 5 m path tolerance, with a warning", [r])
    return refused(r, r"--path-tol-m|path_tol_m")


@case("eval", "train/ copied without best_model.pt (only model_*.pt); eval (best)", R7)
def eval_best_model_deleted(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_best_model_deleted", "trained")
    (ws / "train" / "best_model.pt").unlink()
    r = h2s2r("eval", ws, *EVAL)
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(
            r,
            r"best_model\.pt|best",
            checks=[(not (ws / "eval").exists(), "eval/ written before the refusal")],
        )
    if _said(r, r"best_model|latest|model_\d+\.pt"):
        return succeeded(r, checks=[((ws / "eval" / "metrics.json").is_file(), "no metrics")])
    return Outcome("WEAK", "exit 0: evaluated some other checkpoint as 'best', no word", [r])


@case("eval", "MUJOCO_GL=osmesa (the README's alternative): eval with its video", R7)
def eval_video_osmesa(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_video_osmesa", "trained")
    env = dict(ENV, MUJOCO_GL="osmesa")
    r = _run_env(env, "eval", ws, "--episodes", "1")
    mp4 = ws / "eval" / "rollout.mp4"
    head = mp4.read_bytes()[:64] if mp4.is_file() else b""
    size = mp4.stat().st_size if mp4.is_file() else 0
    return succeeded(
        r, checks=[(b"ftyp" in head and size > 2000, f"eval/rollout.mp4: {size} bytes, no MP4")]
    )


# --- demo / run: re-runs --------------------------------------------------------------
@case("demo", "`demo`, then `demo --task can_lift` on the same folder (another demo)", R7)
def demo_task_changed(fx: Fixtures) -> Outcome:
    ws = fx.ws("demo_task_changed")
    a = h2s2r("demo", ws, *SHORT_RUN, timeout=DEMO_TIMEOUT_S)
    if (bad := failed_step([a])) is not None:
        return bad
    cap0, train0 = digest(ws / "capture"), digest(ws / "train")
    b = h2s2r("demo", ws, "--task", "can_lift", *SHORT_RUN, timeout=DEMO_TIMEOUT_S)
    cap_kept = digest(ws / "capture") == cap0
    train_kept = digest(ws / "train") == train0
    if b.rc != 0 or b.traceback or b.timed_out:
        return refused(
            b,
            r"capture|train|task|can_lift|box_push",
            fix=r"delete|remove|new|another|--out|rm\b",
            checks=[(cap_kept and train_kept, "capture/ or train/ changed before the refusal")],
            runs=[a],
        )
    if not cap_kept and not train_kept:
        return succeeded(b, runs=[a])
    what = "capture/ kept: --task ignored" if cap_kept else "the box_push train/ kept"
    return Outcome("BAD", f"exit 0 on `demo --task can_lift`: {what}", [b, a])


@case("demo", "Ctrl-C of `demo` while it trains; the same `demo` again", R7)
def demo_sigint_rerun(fx: Fixtures) -> Outcome:
    ws = fx.ws("demo_sigint_rerun")
    args = ["demo", ws, *SHORT_RUN]
    t0 = time.perf_counter()
    # SIGINT as a terminal delivers it: the child's handler at its default (a probe started
    # in the background by a non-interactive shell would hand SIG_IGN down to h2s2r).
    p = start(args, preexec=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def training() -> bool:
        return ws.is_dir() and any(
            x.name == "train" or x.name.startswith(".train") for x in ws.iterdir()
        )

    reached = wait_for(training, p, DEMO_TIMEOUT_S)
    time.sleep(1.5)
    sent = p.poll() is None
    if sent:
        os.killpg(p.pid, signal.SIGINT)
    killed = finish(p, args, t0, timeout=90)
    if killed.timed_out:
        return Outcome("BAD", "`demo` did not stop within 90 s of Ctrl-C", [killed])
    if killed.traceback:
        return Outcome("BAD", "traceback on Ctrl-C", [killed])
    if not reached or not sent:
        return failed_step([killed]) or Outcome(
            "GOOD", "probe: demo ended before train/ was seen (no Ctrl-C sent)", [killed]
        )
    if killed.rc == 0:
        return Outcome("BAD", "Ctrl-C did not stop `demo`: it ran on to exit 0", [killed])
    cap0 = digest(ws / "capture") if (ws / "capture").is_dir() else None
    left = leftovers(ws)
    again = h2s2r(*args, timeout=DEMO_TIMEOUT_S)
    return succeeded(
        again,
        checks=[
            (not left, f"left behind by Ctrl-C: {left}"),
            (cap0 is not None and digest(ws / "capture") == cap0, "capture/ re-made"),
            ((ws / "report" / "index.html").is_file(), "no report/index.html"),
            ((ws / "policy" / "policy.onnx").is_file(), "no policy/policy.onnx"),
        ],
        runs=[killed],
    )


@case("run", "`run` on a trained workspace, then `run --episodes 3` (eval re-made?)", R7)
def run_episodes_changed(fx: Fixtures) -> Outcome:
    ws = fx.ws("run_episodes_changed", "trained")
    a = h2s2r("run", ws, *GT, *SHORT_RUN)
    if (bad := failed_step([a])) is not None:
        return bad
    train0, track0 = digest(ws / "train"), digest(ws / "object_track")
    more = ["--budget-min", "0.2", "--num-envs", "8", "--episodes", "3"]
    b = h2s2r("run", ws, *GT, *more)
    episodes = _json(ws / "eval" / "metrics.json").get("episodes")
    return succeeded(
        b,
        checks=[
            (episodes == 3, f"eval/metrics.json episodes = {episodes}, not 3"),
            (digest(ws / "train") == train0, "train/ re-made"),
            (digest(ws / "object_track") == track0, "object_track/ re-made"),
        ],
        runs=[a],
    )


# --- report ---------------------------------------------------------------------------
@case("report", "capture/ archived away (raw frames deleted to save disk); report", R7)
def report_capture_archived(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_capture_archived", "trained")
    ev = h2s2r("eval", ws, *EVAL)
    if (bad := failed_step([ev])) is not None:
        return bad
    shutil.rmtree(ws / "capture")
    kept = {sub: digest(ws / sub) for sub in ("train", "eval", "policy")}
    r = h2s2r("report", ws)
    txt = _page_text(ws)
    changed = [sub for sub, h in kept.items() if digest(ws / sub) != h]
    if r.rc != 0 and not r.traceback and not r.timed_out:
        return Outcome(
            "WEAK", "refused the whole page for a missing capture/ (docs: 'not run' or why)", [r]
        )
    said = re.search(r"capture/?\b.{0,200}?(not run|missing|no such|not found|does not)", txt, re.I)
    return succeeded(
        r,
        checks=[
            (bool(txt), "no report/index.html"),
            (bool(said), "the page does not say capture/ is missing"),
            (not changed, f"report changed {changed}"),
        ],
        runs=[ev],
    )


@case("report", "eval/ copied from another training run of the same demo; report", R7)
def report_eval_from_other_run(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_eval_from_other_run", "trained")
    ev = h2s2r("eval", ws, *EVAL)
    oth = fx.ws("report_eval_from_other_run", "other", name="other")
    ev2 = h2s2r("eval", oth, *EVAL)
    if (bad := failed_step([ev, ev2])) is not None:
        return bad
    shutil.rmtree(ws / "eval")
    shutil.copytree(oth / "eval", ws / "eval")
    r = h2s2r("report", ws)
    txt = _page_text(ws)
    if r.rc != 0 and not r.traceback and not r.timed_out:
        return refused(r, r"eval", fix=r"re-?run|h2s2r eval|delete|stale", runs=[ev, ev2])
    flagged = re.search(
        r"eval/?\b.{0,300}?(does not load|stale|mismatch|does not match|not match|changed|"
        r"another|other run|upstream|out of date|made from|older)",
        txt,
        re.I,
    )
    if r.rc == 0 and not r.traceback and txt and not flagged:
        return Outcome(
            "BAD", "exit 0: the page shows another run's eval/ as this one's, no word", [r]
        )
    return succeeded(r, checks=[(bool(txt), "no report/index.html")])


# --- track-hand -----------------------------------------------------------------------
@case("track-hand", "--frame-size-tolerance 0.8 (a ratio below 1: every frame 'off')", R7)
def track_hand_size_tol_below_one(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_hand_size_tol_below_one", "synth")
    r = h2s2r("track-hand", ws, "--model", HAND_MODEL, "--frame-size-tolerance", "0.8")
    if r.rc == 0 and not r.traceback and not r.timed_out:
        n = _json(ws / "hand_track" / "metrics.json").get("gate_frame_size_frames", 0)
        if n:
            return Outcome(
                "BAD", f"exit 0: {n} frames flagged frame_size by a ratio below 1, no word", [r]
            )
        return Outcome("WEAK", "exit 0: a tolerance below 1 accepted without a word", [r])
    return refused(
        r,
        r"--frame-size-tolerance|frame_size_tolerance",
        checks=[(not (ws / "hand_track").exists(), "hand_track/ written")],
    )


@case("track-hand", "hamer keypoints of a hand 1.6× too large (a 29 cm hand); retarget", R7)
def track_hand_giant_hand_hamer(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_hand_giant_hand_hamer", "tracked")
    hamer = hamer_from_gt(fx.synth, ws.parent / "hamer_big", range(30))
    for f in sorted(hamer.glob("*.json")):
        d = {k: np.asarray(v, float) for k, v in json.loads(f.read_text()).items()}
        w = d["wrist_back"].copy()
        f.write_text(json.dumps({k: (w + 1.6 * (v - w)).tolist() for k, v in d.items()}))
    tr = h2s2r("track-hand", ws, "--method", "hamer", "--hamer-output", hamer)
    size = r"size|palm|large|big|hand length"
    if tr.rc != 0 or tr.traceback or tr.timed_out:
        return refused(tr, size)
    rt = h2s2r("retarget", ws)
    if rt.rc == 0 and not rt.traceback and not rt.timed_out:
        return Outcome(
            "BAD", "exit 0: track-hand and retarget took a 1.6× hand without a word", [tr, rt]
        )
    return refused(rt, size, runs=[tr])


@case("track-hand", "H2S2R_HAND_MODEL=/no/such/hand_landmarker.task (a stale shell profile)", R7)
def track_hand_env_model_missing(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_hand_env_model_missing", "synth")
    env = dict(ENV, H2S2R_HAND_MODEL=str(ws.parent / "no_such" / "hand_landmarker.task"))
    r = _run_env(env, "track-hand", ws)
    if r.rc == 0 and not r.traceback and not r.timed_out:
        if _said(r, r"H2S2R_HAND_MODEL"):
            return succeeded(r)
        return Outcome("WEAK", "exit 0: H2S2R_HAND_MODEL pointing nowhere ignored silently", [r])
    return refused(
        r,
        r"H2S2R_HAND_MODEL|no_such",
        checks=[(not (ws / "hand_track").exists(), "hand_track/ written")],
    )


# --- retarget -------------------------------------------------------------------------
@case("retarget", "no hand (NaN hamer) in the 7 frames up to the pre-grasp; its advised gap", R7)
def retarget_hand_gap_advice(fx: Fixtures) -> Outcome:
    ws = fx.ws("retarget_hand_gap_advice", "tracked")
    gt = np.load(fx.synth / "ground_truth" / "gt.npz")
    pre, st = int(gt["pre_manip_idx"]), int(gt["start_idx"])
    lo, hi = max(1, pre - 6), max(pre, st)
    hamer = hamer_from_gt(fx.synth, ws.parent / "hamer_gap", range(30))
    for i in range(lo, hi + 1):
        f = hamer / f"{i:05d}.json"
        d = json.loads(f.read_text())
        f.write_text(json.dumps({k: [float("nan")] * 3 for k in d}))
    tr = h2s2r("track-hand", ws, "--method", "hamer", "--hamer-output", hamer)
    if tr.rc != 0 or tr.traceback or tr.timed_out:
        return refused(tr, rf"0*{lo}\.json|0*{lo}\b|nan")
    rt = h2s2r("retarget", ws)
    if rt.rc == 0 and not rt.traceback and not rt.timed_out:
        return Outcome(
            "GOOD", f"probe: retarget found a hand within 5 frames (NaN {lo}-{hi})", [rt, tr]
        )
    o = refused(rt, r"--max-hand-gap-frames|max_hand_gap_frames", runs=[tr])
    if o.verdict == "BAD":
        return o
    m = re.search(r"--max-hand-gap-frames[ =]+(\d+)", rt.message)
    if not m:
        return Outcome("WEAK", "refused, but no --max-hand-gap-frames value is advised", o.runs)
    again = h2s2r("retarget", ws, "--max-hand-gap-frames", m.group(1))
    if again.rc != 0 and not again.traceback and not again.timed_out:
        if _said(again, r"max.hand.gap|no valid hand|hand .*frame"):
            return Outcome(
                "WEAK", f"the advised --max-hand-gap-frames {m.group(1)} fails too", [rt, again, tr]
            )
        return refused(again, r"palm|reach|residual|hand|table|object", runs=[rt, tr])
    return succeeded(again, checks=[((ws / "task").is_dir(), "no task/")], runs=[rt, tr])


# --- track-object ---------------------------------------------------------------------
@case("track-object", "--texture a PNG with the workspace's OBJ (no .msh, no UVs)", R7)
def track_object_texture_on_obj(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_texture_on_obj", "synth")
    tex = ws.parent / "box_print.png"
    Image.open(ws / "capture" / "rgb" / "000000.png").crop((200, 150, 456, 406)).save(tex)
    r = h2s2r("track-object", ws, "--no-overlay", "--texture", tex)
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(r, r"--texture|box_print\.png|texture")
    err = _track_err_m(ws)
    o = succeeded(r, checks=[(err < 0.02, f"track error {err * 1000:.0f} mm against the truth")])
    if o.verdict == "GOOD" and not _said(r, r"texture"):
        return Outcome("WEAK", "exit 0: --texture with a mesh that has no UVs, no word", [r])
    return o


@case("track-object", "--roi 0.2,0.3,0.6,0.8 (fractions of the image, not pixels)", R7)
def track_object_roi_fractions(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_roi_fractions", "synth")
    r = h2s2r("track-object", ws, "--no-overlay", "--roi", "0.2,0.3,0.6,0.8")
    if r.rc == 0 and not r.traceback and not r.timed_out:
        err = _track_err_m(ws)
        if err < 0.02:
            return Outcome("WEAK", "exit 0: a sub-pixel --roi accepted (the track is right)", [r])
        return Outcome("BAD", f"exit 0: a sub-pixel --roi, track {err * 1000:.0f} mm off", [r])
    return refused(r, r"--roi", checks=[(not (ws / "object_track").exists(), "written")])


@case("track-object", "FoundationPose poses written inverted (T_obj_cam in ob_in_cam/)", R7)
def track_object_fp_inverse(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_fp_inverse", "synth")
    fp = ws.parent / "fp_out" / "ob_in_cam"
    fp.mkdir(parents=True)
    T = np.load(ws / "ground_truth" / "gt.npz")["T_cam_obj"]
    for i in range(len(T)):
        np.savetxt(fp / f"{i:06d}.txt", np.linalg.inv(T[i]))
    r = h2s2r(
        "track-object", ws, "--method", "foundationpose", "--fp-output", fp.parent, "--no-overlay"
    )
    return refused(
        r,
        r"ob_in_cam|fp_out|--fp-output|invers|T_cam_obj|T_obj_cam",
        checks=[(not (ws / "object_track").exists(), "object_track/ written")],
    )


# --- export ---------------------------------------------------------------------------
@case("export", "export --checkpoint WS/train/model_N.pt (the path tab completion gives)", R7)
def export_checkpoint_full_path(fx: Fixtures) -> Outcome:
    ws = fx.ws("export_checkpoint_full_path", "trained")
    cks = sorted(
        (ws / "train").glob("model_*.pt"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0)
    )
    if not cks:
        return Outcome("BAD", "probe: no model_*.pt in the trained fixture's train/")
    ck = cks[-1]
    r = h2s2r("export", ws, "--checkpoint", ck)
    if r.rc != 0 and not r.traceback and not r.timed_out:
        return succeeded(r)  # a file in train/, as the help asks: WEAK if refused
    more = [h2s2r("eval", ws, *EVAL, "--policy", "onnx")] if r.rc == 0 else []
    return chain(r, more, [(ck.name in r.out + r.err, f"does not say it exported {ck.name}")])


# --- deploy ---------------------------------------------------------------------------
@case("deploy", "deploy --sim --config configs/deploy/…yaml (meant: --robot-config)", R7)
def deploy_config_is_robot_yaml(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_config_is_robot_yaml", "trained")
    cfg = REPO / "configs" / "deploy" / "iiwa_allegro_ros2_control.yaml"
    r = h2s2r("deploy", ws, "--sim", "--duration", "2", "--config", cfg, timeout=180)
    return refused(
        r,
        r"--config|robot|topics|outputs|iiwa_allegro_ros2_control",
        fix=FIX + r"|--robot-config",
        checks=[(not (ws / "deploy_log").exists(), "deploy_log/ written")],
    )


@case("deploy", "--robot-config with watchdog_ms: 200 instead of watchdog_s: 0.2", R7)
def deploy_robot_yaml_unknown_key(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_robot_yaml_unknown_key", "trained")
    text = (REPO / "configs" / "deploy" / "iiwa_allegro_ros2_control.yaml").read_text()
    assert "watchdog_s: 0.2" in text
    cfg = ws.parent / "my_robot.yaml"
    cfg.write_text(text.replace("watchdog_s: 0.2", "watchdog_ms: 200"))
    r = h2s2r("deploy", ws, "--sim", "--duration", "2", "--robot-config", cfg, timeout=180)
    return refused(r, r"watchdog_ms", checks=[(not (ws / "deploy_log").exists(), "ran")])


@case("deploy", "ROS_LOCALHOST_ONLY=1 (Humble's variable), no discovery range: deploy", R7)
def deploy_ros_localhost_only(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_ros_localhost_only", "trained")
    env = {k: v for k, v in ENV.items() if k != "ROS_AUTOMATIC_DISCOVERY_RANGE"}
    env["ROS_LOCALHOST_ONLY"] = "1"
    r = _run_env(env, "deploy", ws, "--sim", "--duration", "2", timeout=180)
    m = _json(ws / "deploy_log" / "metrics.json")
    return succeeded(r, checks=[(bool(m), "no deploy_log/metrics.json")])


# --- calibrate ------------------------------------------------------------------------
@case("calibrate", "--from-file YAML with rotation: a 3×3 matrix (nested list)", R7)
def calibrate_from_file_matrix_yaml(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_from_file_matrix_yaml", "synth")
    T = _T_base_cam(ws)
    f = ws.parent / "T_base_cam.yaml"
    rows = "\n".join(f"  - [{', '.join(f'{x:.9f}' for x in row)}]" for row in T[:3, :3])
    t = ", ".join(f"{x:.9f}" for x in T[:3, 3])
    f.write_text(f"translation: [{t}]\nrotation:\n{rows}\n")
    r = h2s2r("calibrate", ws, "--from-file", f)
    cal = _json(ws / "calibration" / "calibration.json")
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(
            r, r"rotation|T_base_cam\.yaml|--from-file", checks=[(not cal, "calibration written")]
        )
    ok = bool(cal) and np.allclose(np.asarray(cal["T_base_cam"], float), T, atol=1e-6)
    return succeeded(r, checks=[(ok, "calibration.json's T_base_cam is not the file's")])


@case("calibrate", "calibrate --check --joints 0,45,0,-90,0,45,0 (degrees, not radians)", R7)
def calibrate_check_joints_degrees(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_check_joints_degrees", "synth")
    f = ws.parent / "T_base_cam.txt"
    np.savetxt(f, _T_base_cam(ws))
    c = h2s2r("calibrate", ws, "--from-file", f)
    if (bad := failed_step([c])) is not None:
        return bad
    cal0 = _json(ws / "calibration" / "calibration.json")
    r = h2s2r("calibrate", ws, "--check", "--joints", "0,45,0,-90,0,45,0")
    if r.rc == 0 and not r.traceback and _said(r, r"--joints|joint limit|degree|radian"):
        return Outcome("WEAK", "drew check.png at 45 rad, with a warning", [r, c])
    return refused(
        r,
        r"--joints|joint",
        checks=[(_json(ws / "calibration" / "calibration.json") == cal0, "calibration changed")],
        runs=[c],
    )


# --- synth: a user's YAML -------------------------------------------------------------
def _synth_yaml(fx: Fixtures, name: str, old: str, new: str) -> tuple:
    d = fx.ws(name).parent
    src = REPO / "configs" / "synth" / "box_push_noisy.yaml"
    text = src.read_text()
    assert old in text, old
    cfg = d / "my_synth.yaml"
    cfg.write_text(text.replace(old, new))
    ws = d / "ws"
    return ws, h2s2r("synth", "--config", cfg, "--out", ws, "--frames", "30")


@case("synth", "synth YAML camera_distance_m: [70, 100] (centimetres)", R7)
def synth_config_camera_cm(fx: Fixtures) -> Outcome:
    old, new = "camera_distance_m: [0.7, 1.0]", "camera_distance_m: [70, 100]"
    ws, r = _synth_yaml(fx, "synth_config_camera_cm", old, new)
    if r.rc == 0 and not r.traceback and _said(r, r"camera_distance_m"):
        return Outcome("WEAK", "rendered a camera 70-100 m away, with a warning", [r])
    return refused(r, r"camera_distance_m", checks=[(not (ws / "capture").exists(), "rendered")])


@case("synth", "synth YAML seed: 08 (YAML 1.1 reads it as the string '08')", R7)
def synth_config_seed_08(fx: Fixtures) -> Outcome:
    ws, r = _synth_yaml(fx, "synth_config_seed_08", "seed: 7", "seed: 08")
    if r.rc != 0 or r.traceback or r.timed_out:
        return refused(r, r"\bseed\b", checks=[(not (ws / "capture").exists(), "capture/")])
    n = len(list((ws / "capture" / "rgb").glob("*.png"))) if (ws / "capture").is_dir() else 0
    return succeeded(r, checks=[(n == 30, f"{n} frames, not 30")])


# --- train ----------------------------------------------------------------------------
@case("train", "task_config: randomization: large (a train option put under task_config)", R7)
def train_task_config_randomization(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_task_config_randomization", "tracked")
    cfg = ws.parent / "my_task.yaml"
    cfg.write_text("task_config:\n  randomization: large\n")
    r = h2s2r("train", ws, *TRAIN, "--config", cfg)
    if r.rc == 0 and not r.traceback and not r.timed_out:
        rec = _json(ws / "train" / "config.json").get("train", {})
        if isinstance(rec, dict) and rec.get("randomization") == "large":
            return succeeded(r)
        return Outcome(
            "BAD", "exit 0: task_config randomization: large ignored (trained medium)", [r]
        )
    return refused(
        r,
        r"randomization",
        fix=FIX + r"|--randomization",
        checks=[(not (ws / "train").exists(), "train/ written")],
    )
