"""Round 9 of the bad-input probe (held-out: none is a variant of an earlier case).

Written from README.md, docs/, DESIGN.md, configs/ and ``h2s2r VERB --help`` only, on
the surfaces rounds 1-8 probed least (``validate``, ``report``, ``export``, ``synth``,
``import``'s and ``deploy``'s own options, the robot YAML, ``policy/`` as a deliverable,
the environment): a finished workspace that is read-only (a colleague's archived run:
``validate``, ``eval``, ``report``); ``validate`` on two problems at once and on an
artifact written by a newer h2s2r (schema version + 1); ``import`` with ``--color-topic``
/ ``--depth-topic`` on a folder, ``--cam-k`` beside the source's own ``cam_K.txt``, one
depth frame more than colour frames, the same take imported again over a calibrated
workspace; ``eval --no-video`` after an eval with video; ``export --checkpoint latest``
then ``eval --policy onnx`` and ``deploy --sim``; a user's ``NOTES.txt`` in ``policy/``
when ``export`` re-writes it; ``deploy --config`` with ``sim:``/``duration:``; a robot YAML
with a joint left out of every output and with ``object_pose`` on the ``joint_states``
topic; a ``joint_delta`` policy deployed; a workspace path holding ``:=``, ``,``, ``#``
and brackets through ``deploy --sim`` and ``report``; ``calibrate --from-file`` given
easy_handeye2's file as it writes it; ``nan`` for float options of five verbs;
``--config`` given twice; ``configs/train/task_defaults.yaml`` used as it is shipped; a
``run --config`` holding ``task_config:``; ``train``'s standard output closed (``| head``);
``retarget --robot`` while ``train`` runs; ``synth`` at 320×240 down to ``task/``;
``report`` of a robot PC's copy (``policy/ task/ object/`` and a deploy) and of a folder
that is no workspace.

``launch/deploy.launch.py``'s arguments are not probed: ``ros2 launch`` (the ``launch``
package) is not installed on this PyPI-only machine, as launch/README.md says.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

from .fixtures import Fixtures, src_copy
from .round2 import chain
from .round3 import failed_step, worst
from .round5 import _said
from .round7 import GT, _json, _page_text, _T_base_cam
from .round8 import _digest, _train_rec
from .run import (
    ENV,
    EVAL,
    FIX,
    H2S2R,
    REPO,
    TRAIN,
    Outcome,
    Run,
    _kill_group,
    case,
    finish,
    h2s2r,
    leftovers,
    refused,
    start,
    succeeded,
    wait_for,
)

R9 = 9
ROBOT_YAML = REPO / "configs" / "deploy" / "iiwa_allegro_ros2_control.yaml"
DEPLOY = ["--sim", "--duration", "2"]
DEPLOY_TIMEOUT_S = 180
# Root keeps write access to a read-only folder through CAP_DAC_OVERRIDE; without it
# (and the two like it) the owner's permission bits apply, as for any other user.
NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


# ----------------------------------------------------------------------------- helpers
def _run_prefixed(prefix: list[str], *args, timeout: float = 240) -> Run:
    """``prefix h2s2r args`` (e.g. without root's override of permissions)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [*prefix, H2S2R, *map(str, args)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return finish(p, list(args), t0, timeout)


def _set_writable(root: Path, writable: bool) -> None:
    paths = [root, *root.rglob("*")] if root.is_dir() else [root]
    for p in paths:
        if p.is_symlink():
            continue
        mode = p.stat().st_mode
        w = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
        os.chmod(p, (mode | stat.S_IWUSR) if writable else (mode & ~w))


def _ok(r: Run) -> bool:
    return r.rc == 0 and not r.traceback and not r.timed_out


def _robot_yaml(path: Path, edit) -> Path:
    cfg = yaml.safe_load(ROBOT_YAML.read_text())
    edit(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


_CASE_DIR = re.compile(r"[^\s'\"`]*/cases/[\w.-]+")


def _clean(r: Run) -> Run:
    """``r`` with the case folders' paths (which hold the case's name) as ``CASE``."""
    return dataclasses.replace(
        r, err=_CASE_DIR.sub("CASE", r.err), out=_CASE_DIR.sub("CASE", r.out)
    )


def _says(r: Run, pattern: str) -> bool:
    """Whether stdout or stderr says ``pattern`` (file names in paths count)."""
    return bool(re.search(pattern, _CASE_DIR.sub("CASE", r.err + r.out), re.I | re.S))


def _refused(r: Run, names: str, fix: str = FIX, checks=(), runs=()) -> Outcome:
    """``refused``, with the case's own folder name kept out of the name check."""
    o = refused(_clean(r), names, fix, checks, runs)
    o.runs = [*runs, r]
    return o


def _refused_out(r: Run, names: str, fix: str = FIX, each=()) -> Outcome:
    """``refused`` for a command that reports on stdout (``validate``): names and fix
    are looked for in stdout and stderr; ``each`` must all be named."""
    o = _refused(r, r".", fix=r".")
    if o.verdict != "GOOD":
        return o
    missing = []
    if not _says(r, names):
        missing.append(f"does not name the culprit (/{names}/)")
    if each and (left := [n for n in each if not _says(r, n)]):
        missing.append(f"names only some problems, not {left}")
    if not _said(r, fix):
        missing.append("says nothing to do")
    if missing:
        return Outcome("WEAK", "refused, but the output " + " and ".join(missing), [r])
    return o


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rewrite_meta(ws: Path, meta_p: Path, text: str) -> None:
    """Write ``meta_p`` and carry its new sha256 into every meta.json that records the
    old one as upstream, and so on down (a consistent workspace, not a stale one)."""
    old = _sha(meta_p)
    meta_p.write_text(text)
    repl = {old: _sha(meta_p)}
    changed = True
    while changed:
        changed = False
        for m in sorted(ws.glob("*/meta.json")):
            t = m.read_text()
            t2 = t
            for a, b in repl.items():
                t2 = t2.replace(a, b)
            if t2 != t:
                before = _sha(m)
                m.write_text(t2)
                repl[before] = _sha(m)
                changed = True


def _deploy_metrics(ws: Path) -> dict:
    return _json(ws / "deploy_log" / "metrics.json")


# ----------------------------------------------------------------------------- read-only
@case("workspace", "a finished workspace that is read-only (a colleague's archived run)", R9)
def workspace_read_only(fx: Fixtures) -> Outcome:
    if shutil.which("setpriv") is None:
        return Outcome("BAD", "probe: no setpriv on this machine (util-linux)")
    ws = fx.ws("workspace_read_only", "trained")
    _set_writable(ws.parent, False)
    try:
        probe = subprocess.run([*NO_DAC, "touch", str(ws / "x")], capture_output=True)
        if probe.returncode == 0:
            return Outcome("BAD", "probe: the workspace is still writable under setpriv")
        val = _run_prefixed(NO_DAC, "validate", ws)
        ev = _run_prefixed(NO_DAC, "eval", ws, *EVAL)
        rep = _run_prefixed(NO_DAC, "report", ws)
    finally:
        _set_writable(ws.parent, True)
    names = r"permission|read-only|read only|not writable|writ(e|able|ing)|EACCES"
    fix = FIX + r"|copy|\bcp\b|chmod|owner|another folder"
    return worst(
        ("validate (reads only)", succeeded(val)),
        ("eval", _refused(ev, names, fix=fix)),
        ("report", _refused(rep, names, fix=fix)),
    )


# ----------------------------------------------------------------------------- validate
@case("validate", "two problems at once: hand_track/keypoints.npz gone, policy.onnx cut", R9)
def validate_lists_every_problem(fx: Fixtures) -> Outcome:
    ws = fx.ws("validate_lists_every_problem", "trained")
    (ws / "hand_track" / "keypoints.npz").unlink()
    onnx = ws / "policy" / "policy.onnx"
    data = onnx.read_bytes()
    onnx.write_bytes(data[: len(data) // 2])
    r = h2s2r("validate", ws)
    # The README: "validate lists every problem it finds".
    return _refused_out(r, r"hand_track|policy", each=("hand_track", "policy"))


@case("validate", "task/meta.json of a newer h2s2r (schema version + 1); validate, eval", R9)
def validate_newer_schema(fx: Fixtures) -> Outcome:
    ws = fx.ws("validate_newer_schema", "trained")
    meta_p = ws / "task" / "meta.json"
    meta = json.loads(meta_p.read_text())
    meta["schema"]["version"] = int(meta["schema"]["version"]) + 1
    meta["h2s2r_version"] = "9.9.0"
    # As a newer h2s2r writes it: the folders downstream record the new meta.json's hash.
    _rewrite_meta(ws, meta_p, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    names = r"task.{0,300}(schema|version|newer)|(schema|version|newer).{0,300}task"
    fix = FIX + r"|upgrade|update|install|newer"
    val = h2s2r("validate", ws)
    ev = h2s2r("eval", ws, *EVAL)
    return worst(
        ("validate", _refused_out(val, names, fix=fix)),
        ("eval", _refused(ev, names, fix=fix)),
    )


# ----------------------------------------------------------------------------- import
@case("import", "--color-topic/--depth-topic with a folder source (the options are a bag's)", R9)
def import_topic_options_on_folder(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_topic_options_on_folder")
    src = src_copy(fx, ws)
    r = h2s2r(
        "import", "--from", src, ws,
        "--color-topic", "/camera/color/image_raw",
        "--depth-topic", "/camera/depth/image_rect_raw",
    )  # fmt: skip
    if not _ok(r):
        return _refused(
            r, r"--colou?r-topic|--depth-topic|colou?r.topic|depth.topic", FIX + r"|only|bag"
        )
    n = len(list((ws / "capture" / "rgb").glob("*.png")))
    if n != 30:
        return Outcome("BAD", f"exit 0 but capture/ holds {n} frames, not 30", [r])
    if _said(r, r"topic"):
        return succeeded(r)
    return Outcome("WEAK", "exit 0: --color-topic/--depth-topic ignored without a word", [r])


@case("import", "--cam-k a re-calibrated K while the source folder has its own cam_K.txt", R9)
def import_cam_k_beside_source_camk(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_cam_k_beside_source_camk")
    src = src_copy(fx, ws)
    K_src = np.loadtxt(src / "cam_K.txt")
    K_mine = K_src.copy()
    K_mine[0, 0] *= 1.05
    K_mine[1, 1] *= 1.05
    mine = ws.parent / "my_K.txt"
    np.savetxt(mine, K_mine)
    r = h2s2r("import", "--from", src, ws, "--cam-k", mine)
    if not _ok(r):
        return _refused(
            r,
            r"--cam-k|cam_K\.txt|my_K\.txt",
            checks=[(not (ws / "capture").exists(), "capture/ written before the refusal")],
        )
    K_ws = np.loadtxt(ws / "capture" / "cam_K.txt")
    if np.allclose(K_ws, K_mine, rtol=1e-6):
        return succeeded(r)
    if np.allclose(K_ws, K_src, rtol=1e-6):
        said = "with a word" if _says(r, r"--cam-k|my_K|cam_K") else "without a word"
        return Outcome("WEAK", f"exit 0: --cam-k ignored {said}, the source's K used", [r])
    return Outcome("BAD", f"exit 0: capture/cam_K.txt is neither K: {K_ws.tolist()}", [r])


@case("import", "depth/ holds one frame more than rgb/ (colour stopped first)", R9)
def import_one_more_depth_frame(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_one_more_depth_frame")
    src = src_copy(fx, ws)
    shutil.copy(src / "depth" / "000029.png", src / "depth" / "000030.png")
    r = h2s2r("import", "--from", src, ws)
    names = r"000030|\b31\b|count|number of|depth/.{0,120}rgb|rgb/.{0,120}depth|unpaired"
    if not _ok(r):
        return _refused(r, names, fix=FIX + r"|delete|remove|match")
    n_rgb = len(list((ws / "capture" / "rgb").glob("*.png")))
    n_depth = len(list((ws / "capture" / "depth").glob("*.png")))
    if n_rgb != n_depth or n_rgb not in (30, 31):
        return Outcome("BAD", f"exit 0: capture/ holds {n_rgb} rgb, {n_depth} depth", [r])
    if _says(r, r"000030|\b31\b|extra|unpaired|no colou?r|without (a )?colou?r|drop|skip|ignor"):
        return succeeded(r)
    return Outcome("WEAK", "exit 0: the unpaired depth frame dropped without a word", [r])


@case("import", "the same take imported again over an imported, calibrated workspace", R9)
def import_same_take_again(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_same_take_again")
    f = ws.parent / "T_base_cam.txt"
    np.savetxt(f, _T_base_cam(fx.synth))
    steps = [h2s2r("import", "--from", fx.src, ws)]
    steps.append(h2s2r("calibrate", ws, "--from-file", f))
    if (bad := failed_step(steps)) is not None:
        return bad
    cap0, cal0 = _digest(ws / "capture"), _digest(ws / "calibration")
    r = h2s2r("import", "--from", fx.src, ws)
    same = [
        (_digest(ws / "capture") == cap0, "capture/ re-written with other bytes"),
        (_digest(ws / "calibration") == cal0, "calibration/ changed"),
    ]
    if not _ok(r):
        # Probe fix (after the first run): "import into a new workspace" is a fix that the
        # shared FIX words miss (they know re-import, not import).
        fix = FIX + r"|import into|new workspace"
        return _refused(r, r"capture", fix=fix, checks=same, runs=steps)
    val = h2s2r("validate", ws)
    o = chain(r, [val], checks=same)
    o.runs += steps
    return o


# ----------------------------------------------------------------------------- eval
@case("eval", "eval (video on), then eval --no-video: no stale rollout.mp4 left in eval/", R9)
def eval_no_video_after_video(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_no_video_after_video", "trained")
    first = h2s2r("eval", ws, "--episodes", "2")
    if (bad := failed_step([first])) is not None:
        return bad
    had_video = (ws / "eval" / "rollout.mp4").is_file()
    r = h2s2r("eval", ws, *EVAL)
    mp4 = ws / "eval" / "rollout.mp4"
    listed = "rollout.mp4" in _json(ws / "eval" / "meta.json").get("files", {})
    more = [h2s2r("validate", ws), h2s2r("report", ws)]
    o = chain(
        r,
        more,
        checks=[
            (had_video, "the first eval (video on) wrote no eval/rollout.mp4"),
            (not mp4.exists() or listed, "the first eval's rollout.mp4 left, not in meta.json"),
        ],
    )
    o.runs.append(first)
    return o


# ----------------------------------------------------------------------------- export
@case("export", "export --checkpoint latest; eval --policy onnx; deploy --sim", R9)
def export_latest_eval_onnx_deploy(fx: Fixtures) -> Outcome:
    ws = fx.ws("export_latest_eval_onnx_deploy", "trained")
    ex = h2s2r("export", ws, "--checkpoint", "latest")
    more = [
        h2s2r("eval", ws, "--policy", "onnx", *EVAL),
        h2s2r("deploy", ws, *DEPLOY, timeout=DEPLOY_TIMEOUT_S),
    ]
    return chain(ex, more, checks=[(bool(_deploy_metrics(ws)), "no deploy_log/metrics.json")])


@case("export", "policy/NOTES.txt of the user's (the folder goes to the robot PC); export", R9)
def export_keeps_user_notes(fx: Fixtures) -> Outcome:
    ws = fx.ws("export_keeps_user_notes", "trained")
    notes = ws / "policy" / "NOTES.txt"
    text = "robot PC: copy to /opt/policies/box; tested on the bench 5 Dec, thumb slow\n"
    notes.write_text(text)
    r = h2s2r("export", ws, "--checkpoint", "latest")
    kept = notes.is_file() and notes.read_text() == text
    if not _ok(r):
        return _refused(
            r, r"NOTES\.txt|policy/", checks=[(kept, "policy/NOTES.txt lost by a refused export")]
        )
    if kept:
        return succeeded(r)
    elsewhere = [str(p.relative_to(ws.parent)) for p in ws.parent.rglob("NOTES.txt*")]
    if _says(r, r"NOTES\.txt"):
        return Outcome("WEAK", f"policy/NOTES.txt removed with a word (now: {elsewhere})", [r])
    return Outcome("BAD", f"the user's policy/NOTES.txt deleted without a word ({elsewhere})", [r])


# ----------------------------------------------------------------------------- deploy
@case("deploy", "deploy --config a YAML with sim: true, duration: 3, sim_seed: 3", R9)
def deploy_config_file_sim(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_config_file_sim", "trained")
    cfg = ws.parent / "my_deploy.yaml"
    cfg.write_text("sim: true\nduration: 3\nsim_seed: 3\n")
    r = h2s2r("deploy", ws, "--config", cfg, timeout=DEPLOY_TIMEOUT_S)
    used = _json(ws / "deploy_log" / "meta.json").get("config", {})
    want = {"sim": True, "duration": 3, "sim_seed": 3}
    off = [f"{k}={used[k]!r}" for k, v in want.items() if k in used and used[k] != v]
    return succeeded(
        r,
        checks=[
            (bool(_deploy_metrics(ws)), "no deploy_log/metrics.json"),
            (not off, f"deploy_log/meta.json records {', '.join(off)}, not the file's"),
        ],
    )


@case("deploy", "robot YAML with hand/thj3 left out of every output (a copy-paste slip)", R9)
def deploy_robot_yaml_missing_joint(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_robot_yaml_missing_joint", "trained")

    def edit(cfg: dict) -> None:
        for out in cfg["outputs"]:
            if "hand/thj3" in out["joints"]:
                i = out["joints"].index("hand/thj3")
                del out["joints"][i]
                if "driver_names" in out:
                    del out["driver_names"][i]

    cfg = _robot_yaml(ws.parent / "my_robot.yaml", edit)
    r = h2s2r("deploy", ws, *DEPLOY, "--robot-config", cfg, timeout=DEPLOY_TIMEOUT_S)
    if not _ok(r):
        return _refused(r, r"thj3")
    if _says(r, r"thj3"):
        return Outcome("WEAK", "exit 0: a joint without an output, with a warning", [r])
    return Outcome("WEAK", "exit 0: hand/thj3 in no output (never commanded), no word", [r])


@case("deploy", "robot YAML with topics.object_pose: /joint_states (the same topic twice)", R9)
def deploy_robot_yaml_topic_clash(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_robot_yaml_topic_clash", "trained")

    def edit(cfg: dict) -> None:
        cfg["topics"]["object_pose"] = cfg["topics"]["joint_states"]

    cfg = _robot_yaml(ws.parent / "my_robot.yaml", edit)
    r = h2s2r("deploy", ws, *DEPLOY, "--robot-config", cfg, timeout=DEPLOY_TIMEOUT_S)
    if not _ok(r):
        return _refused(r, r"object_pose|joint_states")
    if _says(r, r"object_pose.{0,200}(same|twice|clash|conflict|already)"):
        return Outcome("WEAK", "exit 0: two topics on one name, with a warning", [r])
    return Outcome("WEAK", "exit 0: object_pose and joint_states on one topic, no word", [r])


@case("deploy", "train --action-mode joint_delta; export; deploy --sim (the 23-D policy)", R9)
def deploy_joint_delta_policy(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_joint_delta_policy", "tracked")
    tr = h2s2r("train", ws, *TRAIN, "--action-mode", "joint_delta")
    if (bad := failed_step([tr])) is not None:
        return bad
    ex = h2s2r("export", ws)
    dp = h2s2r("deploy", ws, *DEPLOY, timeout=DEPLOY_TIMEOUT_S)
    mode = _json(ws / "policy" / "policy.json").get("action_semantics", {}).get("mode")
    o = chain(
        ex,
        [dp],
        checks=[
            (mode == "joint_delta", f"policy.json action mode {mode!r}"),
            (bool(_deploy_metrics(ws)), "no deploy_log/metrics.json"),
        ],
    )
    o.runs.append(tr)
    return o


@case("deploy", "a workspace named 'take:=2,b#1 [x]': deploy --sim, then report", R9)
def deploy_path_special_chars(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_path_special_chars", "trained", name="take:=2,b#1 [x]")
    dp = h2s2r("deploy", ws, *DEPLOY, timeout=DEPLOY_TIMEOUT_S)
    if not _ok(dp) and not dp.traceback and not dp.timed_out:
        # A clear refusal of a path that ROS 2's arguments cannot carry is acceptable.
        return _refused(dp, r"character|symbol|not allowed|cannot", fix=FIX + r"|rename|move")
    rep = h2s2r("report", ws)
    return chain(
        dp,
        [rep],
        checks=[
            (bool(_deploy_metrics(ws)), "no deploy_log/metrics.json"),
            ((ws / "report" / "index.html").is_file(), "no report/index.html"),
        ],
    )


# ----------------------------------------------------------------------------- calibrate
@case("calibrate", "--from-file easy_handeye2's calibration file as it writes it", R9)
def calibrate_from_file_easy_handeye2(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_from_file_easy_handeye2", "synth")
    T = _T_base_cam(ws)
    x, y, z, w = (float(v) for v in Rotation.from_matrix(T[:3, :3]).as_quat())
    t = [float(v) for v in T[:3, 3]]
    f = ws.parent / "box_calib.calib"
    f.write_text(
        "parameters:\n"
        "  name: box_calib\n"
        "  calibration_type: eye_on_base\n"
        "  robot_base_frame: iiwa_link_0\n"
        "  robot_effector_frame: iiwa_link_ee\n"
        "  tracking_base_frame: camera_color_optical_frame\n"
        "  tracking_marker_frame: board\n"
        "transform:\n"
        f"  translation: {{x: {t[0]!r}, y: {t[1]!r}, z: {t[2]!r}}}\n"
        f"  rotation: {{x: {x!r}, y: {y!r}, z: {z!r}, w: {w!r}}}\n"
    )
    r = h2s2r("calibrate", ws, "--from-file", f)
    got = _json(ws / "calibration" / "calibration.json").get("T_base_cam")
    ok = got is not None and np.allclose(np.asarray(got, float), T, atol=1e-5)
    return succeeded(r, checks=[(ok, f"calibration.json's T_base_cam is not the file's: {got}")])


# ----------------------------------------------------------------------------- options
@case("cli", "nan for a float option: train, eval, import, track-object, deploy", R9)
def options_nan(fx: Fixtures) -> Outcome:
    fix = FIX + r"|finite|a number"
    parts = []
    ws = fx.ws("options_nan", "tracked", name="train")
    r = h2s2r("train", ws, *TRAIN, "--learning-rate", "nan")
    parts.append(("train --learning-rate nan", _refused(r, r"--learning-rate|learning_rate", fix)))
    ws = fx.ws("options_nan", "trained", name="eval")
    r = h2s2r("eval", ws, *EVAL, "--path-tol-m", "nan")
    parts.append(("eval --path-tol-m nan", _refused(r, r"--path-tol-m|path_tol_m", fix)))
    ws = fx.ws("options_nan", name="import")
    r = h2s2r("import", "--from", fx.src, ws, "--fps", "nan")
    parts.append(("import --fps nan", _refused(r, r"--fps|\bfps\b", fix)))
    ws = fx.ws("options_nan", "synth", name="track")
    r = h2s2r("track-object", ws, "--no-overlay", "--max-jump-m", "nan")
    parts.append(("track-object --max-jump-m nan", _refused(r, r"--max-jump-m|max_jump_m", fix)))
    ws = fx.ws("options_nan", "trained", name="deploy")
    r = h2s2r("deploy", ws, *DEPLOY, "--goal-speed", "nan", timeout=DEPLOY_TIMEOUT_S)
    parts.append(("deploy --goal-speed nan", _refused(r, r"--goal-speed|goal_speed", fix)))
    return worst(*parts)


@case("train", "--config given twice: large_network.yaml, then my own (seed, randomization)", R9)
def config_given_twice(fx: Fixtures) -> Outcome:
    ws = fx.ws("config_given_twice", "tracked")
    mine = ws.parent / "my_train.yaml"
    mine.write_text("seed: 7\nrandomization: small\n")
    big = REPO / "configs" / "train" / "large_network.yaml"
    r = h2s2r("train", ws, *TRAIN, "--config", big, "--config", mine)
    if not _ok(r):
        return _refused(r, r"--config", fix=FIX + r"|one file|once|merge")
    rec = _train_rec(ws)
    net = list(rec.get("hidden_dims") or []) == [256, 128, 64]
    own = rec.get("seed") == 7 and rec.get("randomization") == "small"
    if net and own:
        return succeeded(r)
    used = "only my_train.yaml" if own else "only large_network.yaml" if net else "neither"
    return Outcome("WEAK", f"exit 0: two --config files, {used} applied, silently", [r])


@case("train", "--config configs/train/task_defaults.yaml as shipped: the defaults' run", R9)
def train_task_defaults_verbatim(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_task_defaults_verbatim", "tracked")
    r = h2s2r("train", ws, *TRAIN, "--config", REPO / "configs/train/task_defaults.yaml")
    got = _json(ws / "train" / "config.json").get("task", {})
    ref = _json(fx.trained / "train" / "config.json").get("task", {})
    off = sorted(k for k in set(got) | set(ref) if got.get(k) != ref.get(k))
    return succeeded(
        r,
        checks=[
            (bool(ref), "probe: the fixture's train/config.json has no task"),
            (not off, f"resolved task config differs from the defaults' run in {off}"),
        ],
    )


# ----------------------------------------------------------------------------- run
@case("run", "run --config holding task_config: rewards (meant for its train stage)", R9)
def run_config_task_config(fx: Fixtures) -> Outcome:
    ws = fx.ws("run_config_task_config", "tracked")
    cfg = ws.parent / "my_run.yaml"
    cfg.write_text(
        "budget_min: 0.2\nnum_envs: 8\nepisodes: 2\n"
        "task_config:\n  rewards:\n    action_rate: -0.05\n"
    )
    r = h2s2r("run", ws, "--config", cfg, *GT, timeout=400)
    if not _ok(r):
        return _refused(
            r,
            r"task_config",
            fix=FIX + r"|train --config",
            checks=[(not (ws / "train").exists(), "trained anyway")],
        )
    rw = _json(ws / "train" / "config.json").get("task", {}).get("rewards", {})
    return succeeded(
        r, checks=[(rw.get("action_rate") == -0.05, f"task_config ignored: rewards {rw}")]
    )


# ----------------------------------------------------------------------------- streams
@case("train", "`h2s2r train … | head -2`: stdout closed while it trains; then eval", R9)
def train_stdout_closed(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_stdout_closed", "tracked")
    args = ["train", ws, "--num-envs", "8", "--total-steps", "2048", "--threads", "1"]
    args += ["--validate-every", "4", "--validate-episodes", "4"]
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [H2S2R, *map(str, args)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True)
    reader.start()
    got, lines = b"", 0
    while lines < 2 and time.perf_counter() - t0 < 120 and p.poll() is None:
        ready, _, _ = select.select([p.stdout], [], [], 1.0)
        if ready:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            got += chunk
            lines = got.count(b"\n")
    p.stdout.close()  # `head -2` has exited
    try:
        p.wait(timeout=400)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        _kill_group(p)
        p.wait()
        rc = None
    reader.join(timeout=10)
    _kill_group(p)
    run = Run(
        ["h2s2r", *map(str, args)],
        rc,
        got.decode(errors="replace"),
        b"".join(err).decode(errors="replace"),
        time.perf_counter() - t0,
    )
    if run.timed_out or run.traceback:
        return succeeded(run)  # BAD: a hang or a traceback
    if "BrokenPipeError" in run.err:
        return Outcome("WEAK", "no traceback, but 'BrokenPipeError' noise on stderr", [run])
    left = leftovers(ws)
    if rc == 0:
        return chain(run, [h2s2r("eval", ws, *EVAL)], checks=[(not left, f"left: {left}")])
    # Stopped by the closed pipe (as `yes | head` stops): the retry must work.
    again = [*args, "--resume"] if list(ws.glob("train/*.pt")) else args
    more = [h2s2r(*again), h2s2r("eval", ws, *EVAL)]
    if any(x.traceback or x.timed_out for x in more):
        return Outcome("BAD", "traceback or hang in the retry after the closed pipe", [run, *more])
    failed = [f"`h2s2r {x.argv[1]}` fails: {x.first_line or x.rc}" for x in more if x.rc != 0]
    if left:
        failed.append(f"left behind: {left}")
    if failed:
        return Outcome("BAD", "after the closed pipe: " + "; ".join(failed), [run, *more])
    why = f"stopped (exit {rc}) when stdout closed; retried, evaluated"
    return Outcome("GOOD", why, [run, *more])


# ----------------------------------------------------------------------------- concurrency
@case("retarget", "retarget --robot iiwa_leap while `train` runs on the workspace", R9)
def retarget_during_train(fx: Fixtures) -> Outcome:
    ws = fx.ws("retarget_during_train", "tracked")
    task0 = _digest(ws / "task")
    args = ["train", ws, "--num-envs", "8", "--total-steps", "200000", "--threads", "1"]
    args += ["--validate-every", "0", "--save-every", "1"]
    t0 = time.perf_counter()
    p = start(args)

    def checkpointed() -> bool:  # training under way: the lock held, a checkpoint written
        try:
            return any(ws.rglob("model_*.pt"))
        except OSError:  # a folder renamed while we look
            return False

    seen = wait_for(checkpointed, p, 180)
    if not seen or p.poll() is not None:
        _kill_group(p)
        tr = finish(p, args, t0, timeout=30)
        why = "probe: no checkpoint seen while train ran"
        return failed_step([tr]) or Outcome("BAD", why, [tr])
    r = h2s2r("retarget", ws, "--robot", "iiwa_leap")
    task1 = _digest(ws / "task")
    os.killpg(p.pid, signal.SIGINT)  # Ctrl-C: train saves a checkpoint and stops
    tr = finish(p, args, t0, timeout=120)
    ev = h2s2r("eval", ws, *EVAL, "--checkpoint", "latest")
    checks = [
        (task1 == task0, "task/ replaced while train ran"),
        (not tr.traceback and not tr.timed_out, "the running train broke"),
        (_ok(ev), f"eval after the Ctrl-C'd train fails: {ev.first_line}"),
    ]
    return _refused(
        r,
        r"lock|running|\btrain\b|pid|busy",
        fix=FIX + r"|after|until|finish",
        checks=checks,
        runs=[tr, ev],
    )


# ----------------------------------------------------------------------------- synth
@case("synth", "synth --width 320 --height 240 --focal-px 307.5; track, retarget, validate", R9)
def synth_small_resolution_chain(fx: Fixtures) -> Outcome:
    ws = fx.ws("synth_small_resolution_chain")
    sy = h2s2r(
        "synth", "--out", ws, "--frames", "30",
        "--width", "320", "--height", "240", "--focal-px", "307.5",
    )  # fmt: skip
    if (bad := failed_step([sy])) is not None:
        return bad
    more = [
        h2s2r("track-object", ws, "--no-overlay"),
        h2s2r("track-hand", ws, "--method", "ground-truth"),
        h2s2r("retarget", ws),
        h2s2r("validate", ws),
    ]
    m = _json(ws / "object_track" / "metrics.json")
    ref = _json(fx.tracked / "object_track" / "metrics.json")
    vf, err = m.get("valid_fraction", 0.0), m.get("trans_err_mean_m")
    ref_err = ref.get("trans_err_mean_m")
    bound = max(2 * ref_err, ref_err + 0.02) if ref_err is not None else None
    checks = [
        (vf >= 0.8, f"object tracked in {vf:.0%} of the frames"),
        (
            bound is None or (err is not None and err <= bound),
            f"object {err} m off the truth (640×480: {ref_err} m)",
        ),
        ((ws / "task" / "task.npz").is_file(), "no task/task.npz"),
    ]
    return chain(sy, more, checks=checks)


# ----------------------------------------------------------------------------- report
@case("report", "report of a robot PC's copy: policy/ task/ object/ and a deploy --sim", R9)
def report_robot_pc_copy(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_robot_pc_copy")
    for sub in ("policy", "task", "object"):
        Fixtures.copy_fixture(fx.trained / sub, ws / sub)
    dp = h2s2r("deploy", ws, *DEPLOY, timeout=DEPLOY_TIMEOUT_S)
    if (bad := failed_step([dp])) is not None:
        return bad
    rep = h2s2r("report", ws)
    txt = _page_text(ws)
    o = chain(
        rep,
        [],
        checks=[
            (bool(txt), "no report/index.html"),
            (bool(txt) and "deploy" in txt.lower(), "the page says nothing of the deploy"),
        ],
    )
    o.runs.append(dp)
    if o.verdict == "GOOD":
        bad_txt = re.search(r".{0,160}does not load.{0,160}", txt, re.I)
        if bad_txt:
            return Outcome("WEAK", f"the page says: {bad_txt.group(0)}", o.runs)
    return o


@case("report", "report on a folder that is no workspace (~/Downloads: notes, photos)", R9)
def report_not_a_workspace(fx: Fixtures) -> Outcome:
    d = fx.ws("report_not_a_workspace", name="Downloads")
    (d / "papers").mkdir(parents=True)
    (d / "notes.txt").write_text("buy a ChArUco board\n")
    (d / "IMG_2041.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 2000)
    (d / "papers" / "human2sim2robot.pdf").write_bytes(b"%PDF-1.5\n" + b"\0" * 2000)
    r = h2s2r("report", d)
    if not _ok(r):
        return _refused(
            r,
            r"workspace|artifact|capture|Downloads",
            fix=FIX + r"|import|capture|synth|demo",
            checks=[(not (d / "report").exists(), "report/ written before the refusal")],
        )
    if (d / "report").exists():
        return Outcome("WEAK", "exit 0: report/ written into a folder with no artifact", [r])
    return Outcome("WEAK", "exit 0 on a folder that is no workspace", [r])
