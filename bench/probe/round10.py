"""Round 10 of the bad-input probe (held-out: none is a variant of an earlier case).

Written from README.md, docs/, DESIGN.md, configs/ and ``h2s2r VERB --help`` only. The
stages of rounds 1-9's 262 cases, tallied from their ``@case`` lines: train 48, import
33, eval 26, deploy 26, track-object 21, calibrate 15, run 12, track-hand 11, report 11,
retarget 9, export 8, workspace 7, validate 6, synth 5, demo 5, cli 2, capture 1. This
round goes to the surfaces probed least that a machine without a camera can reach:
``validate`` and ``report`` on mixed or half-finished workspaces, ``synth`` (interrupted,
run twice at once, an option that empties the depth), ``deploy``'s own options and the
files under ``policy/`` a user edits or copies, the robot YAML, ``calibrate --from-file``
layouts other tools write, what ``eval`` writes, two documented ``import`` layouts no
round used, options whose help shows no range, and a fresh shell without the README's
environment. Not chosen: ``train`` (the most probed; this round starts no training),
``capture`` (no camera here: only its refusal could be probed, done in round 1),
``demo`` (its stages are ``run``'s), ``launch/deploy.launch.py`` (``ros2 launch`` is not
installed on this PyPI-only machine, launch/README.md).

The cases: ``train/`` swapped for another training run's under ``policy/`` (validate,
then export); a user's own folders beside the artifacts (``task_old/``, ``videos/``,
``.ipynb_checkpoints/``); ``eval --policy onnx`` then a re-export (is ``eval/`` stale?);
``eval --policy onnx --checkpoint latest``; ``eval --episodes 1`` and its report; eval
and export re-run with the same options (the same bytes?); ``report`` after a deploy
that commanded nothing, and while ``eval`` runs; ``policy/policy.json`` reformatted by an
editor; ``policy/`` copied without its ``meta.json``; a robot YAML whose ``watchdog_s``
is shorter than the policy period; ``deploy --sim --activate``; a ``deploy --config``
naming its robot YAML by a relative path; ``calibrate --from-file`` as a CSV, as a 3×4
``[R|t]``, and as ``ros2 topic echo /tf_static`` prints it; ``import --from`` another
workspace's ``capture/`` (recorded at 15 fps) and from ``*-color.png``/``*-depth.png``
pairs with ``depth_scale.txt``; ``synth --max-depth-m 0.3`` (no depth left), a Ctrl-C
of ``synth`` and the same ``synth`` again, two ``synth`` into one folder at once;
negative seeds; 0 or negative values for options with no range in their help; a
tracking ``--method`` without its output folder; MUJOCO_GL unset, then none of the
README's variables set.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import signal
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.spatial.transform import Rotation

from .fixtures import Fixtures
from .round1 import _interrupted
from .round2 import chain
from .round3 import failed_step, worst
from .round5 import _said
from .round7 import _json, _page_text, _run_env, _T_base_cam
from .round8 import _digest, _mp4_ok, _run_pre
from .round9 import (
    _CASE_DIR,
    DEPLOY,
    DEPLOY_TIMEOUT_S,
    ROBOT_YAML,
    _deploy_metrics,
    _ok,
    _refused,
    _refused_out,
    _robot_yaml,
    _says,
)
from .run import (
    ENV,
    EVAL,
    FIX,
    Outcome,
    case,
    finish,
    h2s2r,
    leftovers,
    start,
    succeeded,
    wait_for,
)

R10 = 10
EVAL_KEYS = (  # DESIGN.md: eval/metrics.json's keys that tools rely on
    "success_rate",
    "replay_success_rate",
    "object_aware_replay_success_rate",
    "tracking_err_mean_m",
    "episodes",
)


# ----------------------------------------------------------------------------- helpers
def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def _file_shas(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of a folder's files, timing.json and machine.json aside."""
    if not folder.is_dir():
        return {}
    return {
        str(f.relative_to(folder)): _sha(f)
        for f in sorted(folder.rglob("*"))
        if f.is_file() and f.name not in ("timing.json", "machine.json")
    }


def _numbers(d, prefix: str = ""):
    """(key path, value) of every number in a nested JSON value."""
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _numbers(v, f"{prefix}{k}.")
    elif isinstance(d, list):
        for i, v in enumerate(d):
            yield from _numbers(v, f"{prefix}{i}.")
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        yield prefix.rstrip("."), d


def _devnull_stdin() -> None:
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)


def _calib_T(ws: Path):
    got = _json(ws / "calibration" / "calibration.json").get("T_base_cam")
    return None if got is None else np.asarray(got, float)


def _depth_m(ws_capture: Path, i: int = 0) -> np.ndarray:
    """Depth frame ``i`` of a capture/ folder in metres (its meta.json's scale)."""
    scale = float(_json(ws_capture / "meta.json").get("depth_scale_m", 0.001))
    d = np.asarray(Image.open(ws_capture / "depth" / f"{i:06d}.png"), dtype=np.float64)
    return d * scale


def _watchdog_count(m: dict) -> int:
    w = m.get("watchdog_events", 0)
    if isinstance(w, list):
        return len(w)
    try:
        return int(w or 0)
    except (TypeError, ValueError):
        return 0


# ----------------------------------------------------------------------------- validate
@case("validate", "train/ replaced by another training run's (cp -r other/train); validate", R10)
def validate_train_swapped(fx: Fixtures) -> Outcome:
    ws = fx.ws("validate_train_swapped", "trained")
    shutil.rmtree(ws / "train")
    Fixtures.copy_fixture(fx.other / "train", ws / "train")
    val = h2s2r("validate", ws)
    if _ok(val):
        onnx = h2s2r("eval", ws, "--policy", "onnx", *EVAL)
        if _ok(onnx):
            why = "exit 0: validate and eval --policy onnx accept a policy/ of another train/"
            return Outcome("BAD", why, [val, onnx])
        why = "validate passes a policy/ that eval --policy onnx refuses (another train/)"
        return Outcome("WEAK", why, [val, onnx])
    names = (
        r"policy[^\n]{0,300}(stale|checkpoint|match|changed|differ|another|upstream|"
        r"re-?export)|(stale|changed|differ)[^\n]{0,200}policy"
    )
    o = _refused_out(val, names, fix=FIX + r"|export")
    ex = h2s2r("export", ws)
    val2 = h2s2r("validate", ws)
    return worst(("validate", o), ("export, then validate", chain(ex, [val2])))


@case("validate", "a user's folders in the workspace: task_old/, videos/, notes.md, .ipynb_…", R10)
def validate_user_extra_folders(fx: Fixtures) -> Outcome:
    ws = fx.ws("validate_user_extra_folders", "trained")
    shutil.copytree(ws / "task", ws / "task_old")  # kept by hand before a re-retarget
    (ws / "notes.md").write_text("# box push\ntake 3, good light\n")
    (ws / "videos").mkdir()
    (ws / "videos" / "take3_phone.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + b"\0" * 4000)
    (ws / ".ipynb_checkpoints").mkdir()
    (ws / ".ipynb_checkpoints" / "analysis-checkpoint.ipynb").write_text('{"cells": []}\n')
    mine = {p: _sha(ws / p) for p in ("notes.md", "videos/take3_phone.mp4", "task_old/task.npz")}
    val = h2s2r("validate", ws)
    rep = h2s2r("report", ws)
    kept = all(_sha(ws / p) == s for p, s in mine.items())
    return chain(
        val,
        [rep],
        checks=[
            (kept, "the user's files were changed or removed"),
            (bool(_page_text(ws)), "no report/index.html"),
        ],
    )


@case("validate", "eval --policy onnx, then export of another checkpoint: validate, report", R10)
def eval_onnx_then_reexport(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_onnx_then_reexport", "trained")
    ev = h2s2r("eval", ws, "--policy", "onnx", *EVAL)
    if (bad := failed_step([ev])) is not None:
        return bad
    onnx = ws / "policy" / "policy.onnx"
    sha0 = _sha(onnx)
    steps = [ev]
    for ck in ["latest", *sorted(p.name for p in (ws / "train").glob("model_*.pt"))]:
        ex = h2s2r("export", ws, "--checkpoint", ck)
        steps.append(ex)
        if (bad := failed_step([ex])) is not None:
            bad.runs = steps
            return bad
        if _sha(onnx) != sha0:
            break
    else:
        return Outcome("BAD", "probe: every checkpoint exports the same policy.onnx", steps)
    val = h2s2r("validate", ws)
    rep = h2s2r("report", ws)
    if _ok(val):
        vo = Outcome(
            "WEAK", "exit 0: validate passes eval/ of a policy.onnx export replaced", [val]
        )
    else:
        names = (
            r"eval[^\n]{0,300}(stale|policy|changed|differ|out of date|upstream|re-?run)|"
            r"(stale|changed|differ)[^\n]{0,200}eval"
        )
        vo = _refused_out(val, names)
    ro = succeeded(rep, checks=[(bool(_page_text(ws)), "no report/index.html")])
    o = worst(("validate", vo), ("report", ro))
    o.runs += steps
    return o


# ----------------------------------------------------------------------------- eval
@case("eval", "eval --policy onnx --checkpoint latest (the ONNX holds the best checkpoint)", R10)
def eval_onnx_with_checkpoint_latest(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_onnx_with_checkpoint_latest", "trained")
    pol0 = _digest(ws / "policy")
    r = h2s2r("eval", ws, "--policy", "onnx", "--checkpoint", "latest", *EVAL)
    same = [(_digest(ws / "policy") == pol0, "eval changed policy/")]
    if not _ok(r):
        return _refused(
            r, r"--checkpoint|checkpoint", fix=FIX + r"|export|only|ignored", checks=same
        )
    if not same[0][0]:
        return Outcome("BAD", "exit 0 but eval changed policy/", [r])
    said = (
        r"--checkpoint.{0,160}(ignor|not used|no effect|onnx)|checkpoint.{0,40}ignor|"
        r"ignor.{0,80}checkpoint"
    )
    if _says(r, said):
        return succeeded(r)
    rec = _json(ws / "eval" / "meta.json").get("config", {})
    why = "exit 0: --checkpoint latest ignored without a word"
    if rec.get("checkpoint") == "latest":
        why += " (eval/meta.json records checkpoint 'latest' for the best's ONNX)"
    return Outcome("WEAK", why, [r])


@case("eval", "eval --episodes 1 --presets none (one episode each); metrics, then report", R10)
def eval_episodes_one_report(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_episodes_one_report", "trained")
    r = h2s2r("eval", ws, "--episodes", "1", "--no-video", "--presets", "none")
    m = _json(ws / "eval" / "metrics.json")
    missing = [k for k in EVAL_KEYS if k not in m]
    bad = [k for k, v in _numbers(m) if isinstance(v, float) and not math.isfinite(v)]
    rep = h2s2r("report", ws)
    txt = _page_text(ws)
    nan_shown = re.search(r"(?<![\w-])nan(?![\w-])\s*(%|m\b|mm\b|cm\b|°)", txt, re.I)
    return chain(
        r,
        [rep],
        checks=[
            (bool(m), "no eval/metrics.json"),
            (not missing, f"eval/metrics.json lacks {missing}"),
            (not bad, f"non-finite values in eval/metrics.json: {bad[:6]}"),
            (m.get("episodes") in (1, None), f"episodes recorded as {m.get('episodes')}"),
            (bool(txt), "no report/index.html"),
            (not nan_shown, f"the page shows '{nan_shown.group(0) if nan_shown else ''}'"),
        ],
    )


@case("eval", "eval twice and export again with the same options: the same bytes?", R10)
def rerun_eval_export_same_bytes(fx: Fixtures) -> Outcome:
    ws = fx.ws("rerun_eval_export_same_bytes", "trained")
    pol0 = _file_shas(ws / "policy")
    e1 = h2s2r("eval", ws, *EVAL)
    if (bad := failed_step([e1])) is not None:
        return bad
    ev1 = _file_shas(ws / "eval")
    e2 = h2s2r("eval", ws, *EVAL)
    ev2 = _file_shas(ws / "eval")
    ex = h2s2r("export", ws)
    pol1 = _file_shas(ws / "policy")
    val = h2s2r("validate", ws)
    o = chain(e2, [ex, val])
    o.runs.append(e1)
    if o.verdict != "GOOD":
        return o
    diff = [f"eval/{k}" for k in sorted(set(ev1) | set(ev2)) if ev1.get(k) != ev2.get(k)]
    diff += [f"policy/{k}" for k in sorted(set(pol0) | set(pol1)) if pol0.get(k) != pol1.get(k)]
    if diff:
        why = f"re-run with the same inputs and options wrote other bytes: {diff[:6]}"
        return Outcome("WEAK", why + " (README: the same inputs give the same bytes)", o.runs)
    return o


# ----------------------------------------------------------------------------- report
@case("report", "report after a deploy that commanded nothing (no --sim, no robot)", R10)
def report_after_failed_deploy(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_after_failed_deploy", "trained")
    dp = _run_pre(_devnull_stdin, "deploy", ws, "--duration", "7", timeout=120)
    if dp.traceback or dp.timed_out:
        return succeeded(dp)  # BAD: the deploy itself
    if not (ws / "deploy_log").is_dir():
        return Outcome("BAD", "the failed deploy wrote no deploy_log/ (README: either way)", [dp])
    rep = h2s2r("report", ws)
    txt = _page_text(ws)
    o = succeeded(rep, checks=[(bool(txt), "no report/index.html")])
    o.runs.append(dp)
    if o.verdict != "GOOD":
        return o
    m = _deploy_metrics(ws)
    txt = _CASE_DIR.sub("CASE", txt)  # the case folder's name says "failed_deploy"
    if not re.search(r"deploy", txt, re.I):
        return Outcome("WEAK", "the page says nothing of the deploy", o.runs)
    if m.get("success") is False and re.search(r"deploy loop.{0,200}100\s*%", txt, re.I | re.S):
        return Outcome("BAD", "the page shows the failed deploy loop at 100 %", o.runs)
    failed = (
        r"deploy.{0,600}?(\bfail(ed|ure|s)?\b|no joint.?state|nothing (was )?commanded|"
        r"not commanded|never (activated|commanded)|did not (command|move|run)|✗|"
        r"exit(ed)? (status )?1|unsuccessful)|deploy loop.{0,100}?\b0\s*%"
    )
    if re.search(failed, txt, re.I | re.S):
        return o
    return Outcome("WEAK", "the page does not say the deploy commanded nothing", o.runs)


@case("report", "report while `eval` (video, all presets) runs on the workspace", R10)
def report_during_eval(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_during_eval", "trained")
    args = ["eval", ws, "--episodes", "16", "--presets", "all"]
    t0 = time.perf_counter()
    p = start(args)
    wait_for(lambda: (ws / ".h2s2r.lock").exists(), p, 30)
    time.sleep(2.0)
    if p.poll() is not None:
        ev = finish(p, args, t0)
        return failed_step([ev]) or Outcome("BAD", "probe: eval ended before report", [ev])
    rep = h2s2r("report", ws)
    overlapped = p.poll() is None
    ev = finish(p, args, t0, timeout=400)
    val = h2s2r("validate", ws)
    left = leftovers(ws)
    checks = [
        (overlapped, "probe: eval ended while report ran (no overlap seen)"),
        (_ok(ev), f"the running eval failed: {ev.first_line or ev.rc}"),
        (_ok(val), f"validate fails after both: {val.first_line or val.rc}"),
        (not left, f"left behind: {left}"),
    ]
    if not _ok(rep):
        return _refused(
            rep,
            r"lock|running|\beval\b|pid|busy|in progress",
            fix=FIX + r"|after|until|finish",
            checks=checks,
            runs=[ev, val],
        )
    return succeeded(
        rep, checks=[*checks, (bool(_page_text(ws)), "no report/index.html")], runs=[ev, val]
    )


# ----------------------------------------------------------------------------- deploy
@case("deploy", "policy/policy.json reformatted by an editor (indent 4, same content); deploy", R10)
def deploy_policy_json_reformatted(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_policy_json_reformatted", "trained")
    pj = ws / "policy" / "policy.json"
    text = pj.read_text()
    data = json.loads(text)
    new = json.dumps(data, indent=4, ensure_ascii=False) + "\n"
    if new == text:
        new = json.dumps(data, indent=2, ensure_ascii=False)
    pj.write_text(new)
    r = h2s2r("deploy", ws, *DEPLOY, timeout=DEPLOY_TIMEOUT_S)
    if not _ok(r):
        return _refused(r, r"policy\.json", fix=FIX + r"|export|restore")
    return succeeded(r, checks=[(bool(_deploy_metrics(ws)), "no deploy_log/metrics.json")])


@case(
    "deploy", "policy/ copied as policy.onnx + policy.json only (no meta.json); deploy --sim", R10
)
def deploy_policy_without_meta(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_policy_without_meta")
    for sub in ("task", "object"):
        Fixtures.copy_fixture(fx.trained / sub, ws / sub)
    (ws / "policy").mkdir()
    for f in ("policy.onnx", "policy.json"):
        shutil.copy(fx.trained / "policy" / f, ws / "policy" / f)
    r = h2s2r("deploy", ws, *DEPLOY, timeout=DEPLOY_TIMEOUT_S)
    if not _ok(r):
        return _refused(r, r"meta\.json|policy/", fix=FIX + r"|copy|whole|folder|export")
    return succeeded(r, checks=[(bool(_deploy_metrics(ws)), "no deploy_log/metrics.json")])


@case("deploy", "robot YAML watchdog_s: 0.05 (shorter than the 15 Hz policy's 67 ms)", R10)
def deploy_robot_yaml_watchdog_short(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_robot_yaml_watchdog_short", "trained")

    def edit(cfg: dict) -> None:
        cfg["command"]["watchdog_s"] = 0.05

    cfg = _robot_yaml(ws.parent / "my_robot.yaml", edit)
    r = h2s2r("deploy", ws, *DEPLOY, "--robot-config", cfg, timeout=DEPLOY_TIMEOUT_S)
    if not _ok(r):
        return _refused(r, r"watchdog")
    m = _deploy_metrics(ws)
    if not m:
        return Outcome("BAD", "exit 0 but no deploy_log/metrics.json", [r])
    n = _watchdog_count(m)
    if n:
        said = "with a word" if _says(r, r"watchdog") else "without a word"
        why = f"exit 0 ({said}): the watchdog fired {n} times at 0.05 s"
        return Outcome("WEAK", why, [r])
    return succeeded(r)


@case("deploy", "deploy --sim --activate (the hardware flag beside --sim)", R10)
def deploy_sim_with_activate(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_sim_with_activate", "trained")
    r = h2s2r("deploy", ws, *DEPLOY, "--activate", timeout=DEPLOY_TIMEOUT_S)
    m = _deploy_metrics(ws)
    return succeeded(
        r,
        checks=[
            (bool(m), "no deploy_log/metrics.json"),
            ("success" in m, "deploy_log/metrics.json has no success"),
        ],
    )


@case(
    "deploy", "deploy --config cfg/deploy.yaml holding robot_config: my_robot.yaml (relative)", R10
)
def deploy_config_relative_robot_path(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_config_relative_robot_path", "trained")
    cfgdir = ws.parent / "cfg"
    cfgdir.mkdir()
    shutil.copy(ROBOT_YAML, cfgdir / "my_robot.yaml")
    (cfgdir / "deploy.yaml").write_text("sim: true\nduration: 2\nrobot_config: my_robot.yaml\n")
    r = h2s2r("deploy", ws, "--config", cfgdir / "deploy.yaml", cwd=fx.root, timeout=180)
    if not _ok(r):
        return _refused(
            r, r"my_robot\.yaml|robot_config", fix=FIX + r"|relative|absolute|path|director"
        )
    used = str(_json(ws / "deploy_log" / "meta.json").get("config", {}).get("robot_config", ""))
    return succeeded(
        r,
        checks=[
            (bool(_deploy_metrics(ws)), "no deploy_log/metrics.json"),
            (not used or used.endswith("my_robot.yaml"), f"deploy_log records {used!r}"),
        ],
    )


# ----------------------------------------------------------------------------- calibrate
@case("calibrate", "--from-file T_base_cam as a CSV (commas) and as a 3×4 [R|t] text", R10)
def calibrate_from_file_text_layouts(fx: Fixtures) -> Outcome:
    T = _T_base_cam(fx.synth)
    parts = []
    for name, ext, rows, sep in (("csv", "csv", T, ","), ("3x4", "txt", T[:3], " ")):
        ws = fx.ws("calibrate_from_file_text_layouts", "synth", name=name)
        f = ws.parent / f"T_base_cam_{name}.{ext}"
        np.savetxt(f, rows, delimiter=sep, fmt="%.9f")
        r = h2s2r("calibrate", ws, "--from-file", f)
        if _ok(r):
            got = _calib_T(ws)
            ok = got is not None and got.shape == (4, 4) and np.allclose(got, T, atol=1e-6)
            o = succeeded(
                r, checks=[(ok, f"calibration.json's T_base_cam is not the file's: {got}")]
            )
        else:
            o = _refused(
                r,
                rf"T_base_cam_{name}|--from-file",
                fix=FIX + r"|4\s*[×x]\s*4|rows?|format|columns",
            )
        parts.append((name, o))
    return worst(*parts)


@case("calibrate", "--from-file /tf_static as `ros2 topic echo --once` prints it (---)", R10)
def calibrate_from_file_ros2_echo(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_from_file_ros2_echo", "synth")
    T = _T_base_cam(ws)
    x, y, z, w = (float(v) for v in Rotation.from_matrix(T[:3, :3]).as_quat())
    t = [float(v) for v in T[:3, 3]]
    f = ws.parent / "tf_static.yaml"
    f.write_text(
        "transforms:\n"
        "- header:\n"
        "    stamp:\n"
        "      sec: 0\n"
        "      nanosec: 0\n"
        "    frame_id: iiwa_link_0\n"
        "  child_frame_id: camera_color_optical_frame\n"
        "  transform:\n"
        "    translation:\n"
        f"      x: {t[0]!r}\n"
        f"      y: {t[1]!r}\n"
        f"      z: {t[2]!r}\n"
        "    rotation:\n"
        f"      x: {x!r}\n"
        f"      y: {y!r}\n"
        f"      z: {z!r}\n"
        f"      w: {w!r}\n"
        "---\n"
    )
    r = h2s2r("calibrate", ws, "--from-file", f)
    if not _ok(r):
        return _refused(
            r,
            r"tf_static\.yaml|--from-file",
            fix=FIX + r"|translation|rotation|transform|keys?|document",
        )
    got = _calib_T(ws)
    ok = got is not None and got.shape == (4, 4) and np.allclose(got, T, atol=1e-5)
    return succeeded(r, checks=[(ok, f"calibration.json's T_base_cam is not the file's: {got}")])


# ----------------------------------------------------------------------------- import
@case("import", "import --from another workspace's capture/ (a take synthesized at 15 fps)", R10)
def import_from_other_workspace_capture(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_from_other_workspace_capture")
    take = ws.parent / "take15"
    sy = h2s2r("synth", "--out", take, "--frames", "30", "--fps", "15")
    if (bad := failed_step([sy])) is not None:
        return bad
    r = h2s2r("import", "--from", take / "capture", ws)
    if not _ok(r):
        o = succeeded(r)  # a fine input refused: WEAK (BAD on a traceback)
        o.runs.append(sy)
        return o
    cap = ws / "capture"
    n = len(list((cap / "rgb").glob("*.png")))
    K_ok = np.allclose(np.loadtxt(cap / "cam_K.txt"), np.loadtxt(take / "capture" / "cam_K.txt"))
    d_src, d_new = _depth_m(take / "capture"), _depth_m(cap)
    d_ok = d_src.shape == d_new.shape and np.allclose(d_src, d_new, atol=1.1e-3)
    o = succeeded(
        r,
        checks=[
            (n == 30, f"capture/ holds {n} frames, not 30"),
            (K_ok, "capture/cam_K.txt is not the source's"),
            (d_ok, "depth in metres differs from the source's"),
        ],
    )
    o.runs.append(sy)
    if o.verdict != "GOOD":
        return o
    fps = _json(cap / "meta.json").get("fps")
    if fps is not None and abs(float(fps) - 15.0) < 1e-6:
        return o
    if _said(r, r"fps|frame rate"):
        return o
    why = f"exit 0: fps {fps} recorded, the source's capture/meta.json says 15, no word"
    return Outcome("WEAK", why, o.runs)


@case("import", "a folder of 000001-color.png / 000001-depth.png pairs + depth_scale.txt", R10)
def import_color_depth_pairs(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_color_depth_pairs")
    src = ws.parent / "ycbv_style"
    src.mkdir()
    scale_src = float(_json(fx.synth / "capture" / "meta.json").get("depth_scale_m", 0.001))
    for i in range(30):  # 1-based, as ../shared/data/posecnn_ycbv_demo
        shutil.copy(fx.src / "rgb" / f"{i:06d}.png", src / f"{i + 1:06d}-color.png")
        d = np.asarray(Image.open(fx.src / "depth" / f"{i:06d}.png"), dtype=np.float64)
        units = np.round(d * scale_src * 10000.0)  # 10000 units per metre
        Image.fromarray(units.astype(np.uint16)).save(src / f"{i + 1:06d}-depth.png")
    shutil.copy(fx.src / "cam_K.txt", src / "cam_K.txt")
    (src / "depth_scale.txt").write_text("10000.0\n")
    r = h2s2r("import", "--from", src, ws)
    if not _ok(r):
        return succeeded(r)  # a documented layout refused: WEAK (BAD on a traceback)
    cap = ws / "capture"
    n = len(list((cap / "rgb").glob("*.png")))
    first = cap / "rgb" / "000000.png"
    rgb_ok = first.is_file() and np.array_equal(
        np.asarray(Image.open(first)), np.asarray(Image.open(fx.src / "rgb" / "000000.png"))
    )
    want = np.asarray(Image.open(fx.src / "depth" / "000000.png"), dtype=np.float64) * scale_src
    got = _depth_m(cap) if (cap / "depth" / "000000.png").is_file() else np.zeros(0)
    d_ok = got.shape == want.shape and np.allclose(got, want, atol=1.1e-3)
    return succeeded(
        r,
        checks=[
            (n == 30, f"capture/ holds {n} frames, not 30"),
            (rgb_ok, "capture/rgb/000000.png is not the first pair's colour (order/offset)"),
            (d_ok, "depth in metres is not the source's (depth_scale.txt not applied?)"),
        ],
    )


# ----------------------------------------------------------------------------- synth
@case("synth", "synth --max-depth-m 0.3 (nearer than anything in view); then track-object", R10)
def synth_max_depth_too_short(fx: Fixtures) -> Outcome:
    ws = fx.ws("synth_max_depth_too_short")
    sy = h2s2r("synth", "--out", ws, "--frames", "30", "--max-depth-m", "0.3")
    if not _ok(sy):
        return _refused(sy, r"--max-depth-m|max_depth", fix=FIX + r"|farther|larger|raise")
    tr = h2s2r("track-object", ws, "--no-overlay")
    if _ok(tr):
        vf = _json(ws / "object_track" / "metrics.json").get("valid_fraction")
        why = f"exit 0: an object tracked (valid_fraction {vf}) in a demo with no valid depth"
        return Outcome("BAD", why, [tr, sy])
    no_depth = (
        r"(no|zero|invalid|missing|without|empty)\W+(valid\W+)?depth|"
        r"depth.{0,80}(zero|invalid|missing|empty|none)"
    )
    o = _refused(tr, no_depth, runs=[sy])
    o.runs = [tr, sy]
    if o.verdict == "GOOD" and not _says(sy, r"depth"):
        o.why += " (synth itself said nothing)"
    return o


@case("synth", "Ctrl-C half-way through `synth --out WS --frames 150`; the same synth again", R10)
def synth_ctrl_c_rerun(fx: Fixtures) -> Outcome:
    ws = fx.ws("synth_ctrl_c_rerun")
    args = ["synth", "--out", ws, "--frames", "150"]
    t0 = time.perf_counter()
    p = start(args)

    def staging() -> bool:
        try:
            return any(ws.parent.rglob("*.partial"))
        except OSError:
            return False

    hit = wait_for(lambda: staging() or any(ws.parent.rglob("000010.png")), p, 180)
    if hit:
        time.sleep(0.3)
        os.killpg(p.pid, signal.SIGINT)
    r = finish(p, args, t0)
    if not hit or r.rc == 0:
        return Outcome("WEAK", "probe could not interrupt it (finished first)", [r])
    retry = h2s2r(*args)
    val = h2s2r("validate", ws)
    left = leftovers(ws) if ws.exists() else []
    refused_clearly = not _ok(retry) and not retry.traceback and not retry.timed_out
    if refused_clearly and _said(retry, r"delete|remove|another|--out|rm "):
        why = "the retry is refused (a half-written workspace); its message says to delete it"
        return Outcome("WEAK", why, [r, retry, val])
    checks = [
        (_ok(retry), f"the retry fails: {retry.first_line or retry.rc}"),
        (_ok(val), f"validate after the retry fails: {val.first_line or val.rc}"),
        (not left, f"left behind after the retry: {left}"),
    ]
    return _interrupted(r, checks, [retry, val])


@case("synth", "two `synth --out WS` at once into one new folder (seeds 0 and 1)", R10)
def synth_two_at_once_same_out(fx: Fixtures) -> Outcome:
    ws = fx.ws("synth_two_at_once_same_out")
    a = ["synth", "--out", ws, "--frames", "30", "--seed", "0"]
    b = ["synth", "--out", ws, "--frames", "30", "--seed", "1"]
    t0 = time.perf_counter()
    pa, pb = start(a), start(b)
    ra, rb = finish(pa, a, t0), finish(pb, b, t0)
    val = h2s2r("validate", ws)
    runs = [ra, rb, val]
    if any(x.traceback or x.timed_out for x in (ra, rb)):
        return Outcome("BAD", "traceback or hang in one of the two", runs)
    if not _ok(ra) and not _ok(rb):
        return Outcome("BAD", "neither synth wrote the demo", runs)

    def seed_of_gt() -> int | None:
        p = ws / "ground_truth" / "gt.npz"
        if not p.is_file():
            return None
        T = np.load(p)["T_base_cam"]
        for seed, ref in ((0, fx.synth), (1, fx.synth2)):
            if np.allclose(T, _T_base_cam(ref)):
                return seed
        return None

    def seed_of_rgb() -> int | None:
        s = _sha(ws / "capture" / "rgb" / "000000.png")
        for seed, ref in ((0, fx.synth), (1, fx.synth2)):
            if s and s == _sha(ref / "capture" / "rgb" / "000000.png"):
                return seed
        return None

    sg, sr = seed_of_gt(), seed_of_rgb()
    if sg is not None and sr is not None and sg != sr:
        return Outcome("BAD", f"mixed: capture/ of seed {sr}, ground_truth/ of seed {sg}", runs)
    if not _ok(val):
        return Outcome("BAD", f"validate fails after both: {val.first_line or val.rc}", runs)
    if _ok(ra) and _ok(rb):
        return Outcome("WEAK", "both exit 0: one demo silently replaced the other's", runs)
    loser = rb if _ok(ra) else ra
    o = _refused(
        loser,
        r"lock|running|already|exist|pid|busy|in use",
        fix=FIX + r"|after|until|finish|another|--out",
        runs=[ra if loser is rb else rb, val],
    )
    return o


# ----------------------------------------------------------------------------- options
@case("cli", "a negative seed: eval --seed -1, deploy --sim-seed -1, track-object --seed -1", R10)
def options_negative_seed(fx: Fixtures) -> Outcome:
    fix = FIX + r"|non-?negative|>= ?0|positive|≥ ?0"
    parts = []
    ws = fx.ws("options_negative_seed", "trained", name="eval")
    r = h2s2r("eval", ws, *EVAL, "--seed", "-1")
    if _ok(r):
        o = succeeded(r, checks=[(bool(_json(ws / "eval" / "metrics.json")), "no metrics")])
    else:
        o = _refused(r, r"--seed|\bseed\b", fix)
    parts.append(("eval --seed -1", o))
    ws = fx.ws("options_negative_seed", "trained", name="deploy")
    r = h2s2r("deploy", ws, *DEPLOY, "--sim-seed", "-1", timeout=DEPLOY_TIMEOUT_S)
    if _ok(r):
        o = succeeded(r, checks=[(bool(_deploy_metrics(ws)), "no deploy_log/metrics.json")])
    else:
        o = _refused(r, r"--sim-seed|sim_seed", fix)
    parts.append(("deploy --sim-seed -1", o))
    ws = fx.ws("options_negative_seed", "synth", name="track")
    r = h2s2r("track-object", ws, "--no-overlay", "--seed", "-1")
    if _ok(r):
        vf = _json(ws / "object_track" / "metrics.json").get("valid_fraction", 0.0)
        o = succeeded(r, checks=[(vf >= 0.8, f"object tracked in {vf:.0%} of the frames")])
    else:
        o = _refused(r, r"--seed|\bseed\b", fix)
    parts.append(("track-object --seed -1", o))
    return worst(*parts)


@case("cli", "options with no range in --help: 0 or negative (retarget, track-hand)", R10)
def options_unranged_values(fx: Fixtures) -> Outcome:
    fix = FIX + r"|greater|positive|non-?negative|> ?0|>= ?0|--allow-unreachable"
    parts = []
    ws = fx.ws("options_unranged_values", "tracked", name="retarget")
    task0 = _digest(ws / "task")
    r = h2s2r("retarget", ws, "--max-palm-residual-m", "0")
    if _ok(r):
        o = Outcome("WEAK", "exit 0: --max-palm-residual-m 0 accepted (no palm is 0 m off)", [r])
    else:
        o = _refused(
            r,
            r"--max-palm-residual-m|max_palm_residual",
            fix,
            checks=[(_digest(ws / "task") == task0, "task/ changed by the refused retarget")],
        )
    parts.append(("retarget --max-palm-residual-m 0", o))
    for opt, val in (("--smooth-half-window", "-1"), ("--max-reprojection-palm", "-0.25")):
        ws = fx.ws("options_unranged_values", "synth", name=opt.strip("-"))
        r = h2s2r("track-hand", ws, "--method", "ground-truth", opt, val)
        if _ok(r):
            o = Outcome("WEAK", f"exit 0: {opt} {val} accepted", [r])
        else:
            o = _refused(r, re.escape(opt) + "|" + opt.strip("-").replace("-", "_"), fix)
        parts.append((f"track-hand {opt} {val}", o))
    return worst(*parts)


@case(
    "track-hand", "--method hamer without --hamer-output; foundationpose without --fp-output", R10
)
def track_method_without_its_folder(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_method_without_its_folder", "synth", name="hand")
    r = h2s2r("track-hand", ws, "--method", "hamer")
    a = _refused(
        r,
        r"--hamer-output|hamer_output",
        checks=[(not (ws / "hand_track").exists(), "hand_track/ written")],
    )
    ws = fx.ws("track_method_without_its_folder", "synth", name="object")
    r = h2s2r("track-object", ws, "--no-overlay", "--method", "foundationpose")
    b = _refused(
        r,
        r"--fp-output|fp_output",
        checks=[(not (ws / "object_track").exists(), "object_track/ written")],
    )
    return worst(("track-hand --method hamer", a), ("track-object --method foundationpose", b))


# ----------------------------------------------------------------------------- environment
@case("workspace", "a fresh shell: MUJOCO_GL unset (eval, video); then no README variable", R10)
def env_fresh_shell(fx: Fixtures) -> Outcome:
    ws = fx.ws("env_fresh_shell", "trained")
    env_a = {k: v for k, v in ENV.items() if k != "MUJOCO_GL"}
    ra = _run_env(env_a, "eval", ws, "--episodes", "2")
    parts = [
        (
            "MUJOCO_GL unset: eval (video)",
            succeeded(ra, checks=[(_mp4_ok(ws / "eval" / "rollout.mp4"), "no playable video")]),
        )
    ]
    gone = ("MENAGERIE_ROOT", "MUJOCO_GL", "OMP_WAIT_POLICY", "ROS_AUTOMATIC_DISCOVERY_RANGE")
    env_b = {k: v for k, v in ENV.items() if k not in gone}
    fix = FIX + r"|set|export"
    rb = _run_env(env_b, "eval", ws, *EVAL, timeout=150)
    ob = succeeded(rb) if _ok(rb) else _refused(rb, r"MENAGERIE_ROOT|menagerie", fix)
    parts.append(("none set: eval --no-video", ob))
    if not rb.timed_out:
        rc = _run_env(env_b, "deploy", ws, *DEPLOY, timeout=150)
        if _ok(rc):
            oc = succeeded(rc, checks=[(bool(_deploy_metrics(ws)), "no deploy_log/metrics.json")])
        else:
            oc = _refused(rc, r"MENAGERIE_ROOT|menagerie|ROS_AUTOMATIC_DISCOVERY_RANGE", fix)
        parts.append(("none set: deploy --sim", oc))
    return worst(*parts)
