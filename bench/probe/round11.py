"""Round 11 of the bad-input probe (held-out: none is a variant of an earlier case).

Written from README.md, docs/, DESIGN.md, configs/ and ``h2s2r VERB --help`` only. The
stages of rounds 1-10's 271 cases, tallied from their ``@case`` lines: train 48, import
35, deploy 31, eval 29, track-object 21, calibrate 17, track-hand 13, report 13, run 12,
retarget 9, validate 9, synth 8, export 8, workspace 8, demo 5, cli 4, capture 1. This
round goes to the surfaces probed least that this machine (no camera, root: no read-only
folders) can reach: ``retarget``'s and ``track-hand``'s own options, ``validate`` after a
hand edit, ``calibrate`` variants (a re-run, the documented YAML spellings, ``--check``),
``report`` on odd workspaces, ``export``'s checkpoint by file name, the files under
``policy/`` copied one by one, the robot YAML's command section and outputs, ``import``
options and a source inside the workspace, the metrics files as tools read them, ``run``
after a user deleted an artifact, a command suspended with Ctrl-Z, and an environment
oddity. Not chosen: ``train`` beyond one refusal (the most probed), ``capture`` (no
camera), ``demo`` (its stages are ``run``'s), ``track-object`` (much probed already).

The cases: ``calibration/calibration.json`` edited by hand, then ``validate``;
``calibrate --from-file`` run twice (the same bytes?); ``--from-file`` YAML with
``position``/``orientation`` and with a ``wxyz`` list and ``quaternion_order``;
``calibrate --check --joints`` with the 7 arm joints only; ``import`` of float-metre
``.npy`` depth with ``--depth-scale 0.001``; ``import --config`` holding ``from:``; a
source folder inside the workspace and the source as the workspace; ``report`` with
``report/`` a symbolic link to a web share, and of a training server's copy (``task/
object/ train/``); every ``metrics.json`` read as strict, flat JSON; ``export
--checkpoint best_model.pt``; ``policy/policy.onnx`` alone copied from a sibling run's
export; a robot YAML with ``rate_hz`` below the policy rate and with one joint in two
outputs; ``ROS_DOMAIN_ID`` set but empty; ``retarget --allow-unreachable`` with a tiny
``--max-palm-residual-m``; a retarget YAML with ``allow_unreachable: "false"`` quoted;
``track-hand --method ground-truth --hand left``; ``--smooth-half-window 100`` on a
30-frame take; ``run`` after ``policy/`` was deleted; ``export`` while ``eval`` is
suspended (Ctrl-Z), then resumed; a train YAML with ``hidden_dims: [128, 0, 32]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image
from scipy.spatial.transform import Rotation

from .fixtures import Fixtures
from .round2 import chain, hamer_from_gt
from .round3 import failed_step, worst
from .round5 import SHORT_RUN, _said
from .round7 import GT, _json, _page_text, _run_env, _T_base_cam
from .round8 import _digest
from .round9 import (
    DEPLOY,
    DEPLOY_TIMEOUT_S,
    _deploy_metrics,
    _ok,
    _refused,
    _refused_out,
    _robot_yaml,
    _says,
)
from .round10 import _calib_T, _depth_m, _sha
from .run import (
    ENV,
    EVAL,
    FIX,
    TRAIN,
    Outcome,
    case,
    finish,
    h2s2r,
    leftovers,
    start,
    succeeded,
    wait_for,
)

R11 = 11


# ----------------------------------------------------------------------------- helpers
def _calibrated(fx: Fixtures, name: str, fixture: str = "synth") -> tuple[Path, Path, object]:
    """A copy of ``fixture`` and the synthetic demo's true T_base_cam as a 4×4 text file."""
    ws = fx.ws(name, fixture)
    T = _T_base_cam(ws)
    f = ws.parent / "T_base_cam.txt"
    np.savetxt(f, T, fmt="%.9f")
    return ws, f, T


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _clear_refusal(r, names: str, fix: str = FIX) -> bool:
    return not _ok(r) and not r.timed_out and not r.traceback and _says(r, names) and _said(r, fix)


# ----------------------------------------------------------------------------- validate
@case("validate", "calibration/calibration.json edited by hand (z + 1 cm); validate", R11)
def validate_calibration_hand_edited(fx: Fixtures) -> Outcome:
    ws, f, _ = _calibrated(fx, "validate_calibration_hand_edited")
    cal = h2s2r("calibrate", ws, "--from-file", f)
    if (bad := failed_step([cal])) is not None:
        return bad
    cj = ws / "calibration" / "calibration.json"
    d = json.loads(cj.read_text())
    d["T_base_cam"][2][3] = float(d["T_base_cam"][2][3]) + 0.01  # "the camera is 1 cm higher"
    cj.write_text(json.dumps(d, indent=2) + "\n")
    val = h2s2r("validate", ws)
    if _ok(val):
        why = "exit 0: validate passes a calibration.json edited by hand (its hash changed)"
        return Outcome("BAD", why, [val, cal])
    o = _refused_out(val, r"calibration", fix=FIX + r"|calibrate|--from-file")
    o.runs.append(cal)
    return o


# ----------------------------------------------------------------------------- calibrate
@case("calibrate", "calibrate --from-file twice with the same file: the same bytes?", R11)
def calibrate_from_file_rerun_same_bytes(fx: Fixtures) -> Outcome:
    ws, f, _ = _calibrated(fx, "calibrate_from_file_rerun_same_bytes")
    a = h2s2r("calibrate", ws, "--from-file", f)
    if (bad := failed_step([a])) is not None:
        return bad
    d0 = _digest(ws / "calibration")
    b = h2s2r("calibrate", ws, "--from-file", f)
    if not _ok(b):
        o = succeeded(b)  # the same fine input refused the second time: WEAK
        o.runs.append(a)
        return o
    val = h2s2r("validate", ws)
    o = chain(
        b,
        [val],
        checks=[
            (_digest(ws / "calibration") == d0, "calibration/ re-written with other bytes"),
            (not leftovers(ws), f"left behind: {leftovers(ws)}"),
        ],
    )
    o.runs.append(a)
    return o


@case("calibrate", "--from-file YAML: position/orientation mapping; wxyz list + order key", R11)
def calibrate_from_file_yaml_spellings(fx: Fixtures) -> Outcome:
    parts = []
    for name in ("pose_mapping", "wxyz_list"):
        ws = fx.ws("calibrate_from_file_yaml_spellings", "synth", name=name)
        T = _T_base_cam(ws)
        x, y, z, w = (float(v) for v in Rotation.from_matrix(T[:3, :3]).as_quat())
        t = [float(v) for v in T[:3, 3]]
        f = ws.parent / f"{name}.yaml"
        if name == "pose_mapping":  # geometry_msgs/Pose as a user copies it
            doc = {
                "position": {"x": t[0], "y": t[1], "z": t[2]},
                "orientation": {"x": x, "y": y, "z": z, "w": w},
            }
        else:
            doc = {"translation": t, "rotation": [w, x, y, z], "quaternion_order": "wxyz"}
        f.write_text(yaml.safe_dump(doc, sort_keys=False))
        r = h2s2r("calibrate", ws, "--from-file", f)
        if _ok(r):
            got = _calib_T(ws)
            ok = got is not None and got.shape == (4, 4) and np.allclose(got, T, atol=1e-5)
            o = succeeded(r, checks=[(ok, f"T_base_cam is not the file's: {got}")])
        else:
            o = succeeded(r)  # a documented spelling refused: WEAK (BAD on a traceback)
        parts.append((name, o))
    return worst(*parts)


@case("calibrate", "calibrate --check --joints with the 7 arm joints only (hand left out)", R11)
def calibrate_check_arm_joints_only(fx: Fixtures) -> Outcome:
    ws, f, _ = _calibrated(fx, "calibrate_check_arm_joints_only")
    cal = h2s2r("calibrate", ws, "--from-file", f)
    if (bad := failed_step([cal])) is not None:
        return bad
    png = ws / "calibration" / "check.png"
    before = _sha(png)
    r = h2s2r("calibrate", ws, "--check", "--joints", "0,0.5,0,-1.2,0,0.6,0")
    if not _ok(r):
        o = _refused(
            r,
            r"--joints|joints?",
            fix=FIX + r"|\b(7|16|23)\b|values|angles",
            checks=[(_sha(png) == before, "check.png changed by the refused check")],
        )
    else:
        o = succeeded(r, checks=[(png.is_file(), "no calibration/check.png")])
    o.runs.append(cal)
    return o


# ----------------------------------------------------------------------------- import
@case("import", "float-metre .npy depth with --depth-scale 0.001 (meant for uint16 only)", R11)
def import_npy_depth_with_scale(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_npy_depth_with_scale")
    src = ws.parent / "take_npy"
    shutil.copytree(fx.src / "rgb", src / "rgb")
    shutil.copy(fx.src / "cam_K.txt", src / "cam_K.txt")
    (src / "depth").mkdir()
    scale = float(_json(fx.synth / "capture" / "meta.json").get("depth_scale_m", 0.001))
    for p in sorted((fx.src / "depth").glob("*.png")):
        d = np.asarray(Image.open(p), dtype=np.float64) * scale
        np.save(src / "depth" / f"{p.stem}.npy", d.astype(np.float32))
    r = h2s2r("import", "--from", src, ws, "--depth-scale", "0.001")
    if not _ok(r):
        return _refused(r, r"--depth-scale|depth_scale", fix=FIX + r"|float|metres|uint16")
    want = _depth_m(fx.synth / "capture")
    got = _depth_m(ws / "capture") if (ws / "capture" / "depth" / "000000.png").is_file() else None
    ok = got is not None and got.shape == want.shape and np.allclose(got, want, atol=1.1e-3)
    o = succeeded(r, checks=[(ok, "capture/ depth in metres is not the source's")])
    if o.verdict != "GOOD":
        return o
    if _said(r, r"depth.?scale.{0,120}(ignor|not used|no effect|float|uint16)|ignor.{0,60}scale"):
        return o
    return Outcome("WEAK", "exit 0: --depth-scale ignored for float depth without a word", [r])


@case("import", "import --config holding from: SRC (the take's folder), no --from flag", R11)
def import_config_with_from_key(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_config_with_from_key")
    cfg = ws.parent / "import.yaml"
    cfg.write_text(f"from: {fx.src}\nfps: 30\n")
    r = h2s2r("import", "--config", cfg, ws)
    if not _ok(r):
        return _refused(
            r, r"--from|\bfrom\b|source", fix=FIX + r"|required|flag|command line|--from"
        )
    n = len(list((ws / "capture" / "rgb").glob("*.png")))
    return succeeded(r, checks=[(n == 30, f"capture/ holds {n} frames, not 30")])


@case("import", "the take inside the workspace (ws/raw/) and the take folder as workspace", R11)
def import_source_inside_workspace(fx: Fixtures) -> Outcome:
    parts = []
    d = fx.ws("import_source_inside_workspace")
    for name in ("inside", "same"):
        ws = d.parent / name
        src = ws / "raw" if name == "inside" else ws
        shutil.copytree(fx.src, src)
        before = _files(src)
        r = h2s2r("import", "--from", src, ws)
        after = _files(src)
        lost = [k for k, v in before.items() if after.get(k) != v]
        keep = (not lost, f"source files lost or changed: {lost[:4]}")
        if _ok(r):
            n = len(list((ws / "capture" / "rgb").glob("*.png")))
            o = succeeded(r, checks=[keep, (n == 30, f"capture/ holds {n} frames, not 30")])
        elif not lost and _clear_refusal(r, r"--from|source|raw|inside|same", FIX + r"|another"):
            o = Outcome("GOOD", "refused clearly, the source kept", [r])
        else:
            o = succeeded(r, checks=[keep])
        parts.append((name, o))
    return worst(*parts)


# ----------------------------------------------------------------------------- report
@case("report", "report/ is a symbolic link to a web share (ln -s /srv/www/mug report)", R11)
def report_symlinked_report_dir(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_symlinked_report_dir", "trained")
    share = ws.parent / "www" / "mug"
    share.mkdir(parents=True)
    (ws / "report").symlink_to(share, target_is_directory=True)
    r = h2s2r("report", ws)
    if not _ok(r):
        return succeeded(r)
    link = (ws / "report").is_symlink()
    page = (share / "index.html").is_file()
    if not page:
        why = "exit 0 but the share holds no index.html"
        why += " (report/ link replaced by a folder)" if not link else ""
        return Outcome("BAD" if link else "WEAK", why, [r])
    return succeeded(r, checks=[(link, "report/ link replaced")])


@case("report", "report of a training server's copy: task/ object/ train/ only", R11)
def report_training_server_copy(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_training_server_copy")
    for sub in ("task", "object", "train"):
        Fixtures.copy_fixture(fx.trained / sub, ws / sub)
    r = h2s2r("report", ws)
    txt = _page_text(ws)
    return succeeded(
        r,
        checks=[
            (bool(txt), "no report/index.html"),
            (bool(re.search(r"not run", txt, re.I)), "the page says no stage is 'not run'"),
            (bool(re.search(r"train|validation", txt, re.I)), "the page shows no training"),
        ],
    )


# ----------------------------------------------------------------------------- eval
def _strict(path: Path):
    def bad(c):
        raise ValueError(f"non-finite {c}")

    return json.loads(path.read_text(), parse_constant=bad)


@case("eval", "every metrics.json read as strict JSON, flat and numbers only (DESIGN.md)", R11)
def metrics_json_flat_numbers(fx: Fixtures) -> Outcome:
    ws = fx.ws("metrics_json_flat_numbers", "trained")
    ev = h2s2r("eval", ws, *EVAL)
    dp = h2s2r("deploy", ws, *DEPLOY, timeout=DEPLOY_TIMEOUT_S)
    if (bad := failed_step([ev, dp])) is not None:
        return bad
    problems = []
    found = sorted(ws.glob("*/metrics.json"))
    for p in found:
        rel = str(p.relative_to(ws))
        try:
            m = _strict(p)
        except ValueError as e:
            problems.append(f"{rel}: {e}")
            continue
        if not isinstance(m, dict):
            problems.append(f"{rel}: not a mapping")
            continue
        off = [k for k, v in m.items() if not isinstance(v, (int, float))]
        if off:
            problems.append(f"{rel}: not numbers: {off[:4]}")
    need = {
        "object_track": ("fps", "valid_fraction", "trans_err_mean_m"),
        "eval": ("success_rate", "replay_success_rate", "episodes"),
        "deploy_log": ("success", "final_object_err_m", "latency_p99_ms"),
    }
    for sub, keys in need.items():
        m = _json(ws / sub / "metrics.json")
        if miss := [k for k in keys if k not in m]:
            problems.append(f"{sub}/metrics.json lacks {miss}")
    o = chain(ev, [dp], checks=[(bool(found), "no metrics.json found")])
    if o.verdict != "GOOD":
        return o
    if problems:
        return Outcome("WEAK", "; ".join(problems[:4]), o.runs)
    o.why = f"{len(found)} metrics.json files strict, flat, numbers only"
    return o


# ----------------------------------------------------------------------------- export
@case("export", "export --checkpoint best_model.pt (the best checkpoint by its file name)", R11)
def export_checkpoint_best_model_file(fx: Fixtures) -> Outcome:
    ws = fx.ws("export_checkpoint_best_model_file", "trained")
    sha0 = _sha(ws / "policy" / "policy.onnx")
    weights0 = _onnx_weights(ws / "policy" / "policy.onnx")
    r = h2s2r("export", ws, "--checkpoint", "best_model.pt")
    val = h2s2r("validate", ws)
    o = chain(r, [val])
    if o.verdict != "GOOD":
        return o
    onnx = ws / "policy" / "policy.onnx"
    if _sha(onnx) != sha0 and _onnx_weights(onnx) != weights0:
        why = "exit 0: best_model.pt exported other weights than --checkpoint best"
        return Outcome("WEAK", why, o.runs)
    return o


def _onnx_weights(path: Path) -> str:
    """sha256 over an ONNX file's initializers (its weights), metadata aside."""
    import onnx
    from onnx import numpy_helper

    h = hashlib.sha256()
    for t in onnx.load(str(path)).graph.initializer:
        h.update(t.name.encode())
        h.update(numpy_helper.to_array(t).tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- deploy
@case("deploy", "policy/policy.onnx alone copied from a sibling run's export; deploy --sim", R11)
def deploy_onnx_from_sibling_run(fx: Fixtures) -> Outcome:
    sib = fx.ws("deploy_onnx_from_sibling_run", "other", name="sibling")
    ex = h2s2r("export", sib)
    if (bad := failed_step([ex])) is not None:
        return bad
    ws = fx.ws("deploy_onnx_from_sibling_run", "trained")
    if _sha(sib / "policy" / "policy.onnx") == _sha(ws / "policy" / "policy.onnx"):
        return Outcome("WEAK", "probe: the sibling run exported the same policy.onnx", [ex])
    shutil.copy(sib / "policy" / "policy.onnx", ws / "policy" / "policy.onnx")
    r = h2s2r("deploy", ws, *DEPLOY, timeout=DEPLOY_TIMEOUT_S)
    o = _refused(r, r"policy\.onnx", fix=FIX + r"|export|copy")
    o.runs.append(ex)
    return o


@case("deploy", "robot YAML command rate_hz: 10 (below the policy's 15 Hz)", R11)
def deploy_robot_yaml_rate_below_policy(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_robot_yaml_rate_below_policy", "trained")

    def edit(cfg: dict) -> None:
        cfg["command"]["rate_hz"] = 10.0

    cfg = _robot_yaml(ws.parent / "my_robot.yaml", edit)
    r = h2s2r("deploy", ws, *DEPLOY, "--robot-config", cfg, timeout=DEPLOY_TIMEOUT_S)
    if not _ok(r):
        return _refused(r, r"rate_hz|rate")
    said = "with a word" if _says(r, r"rate_hz|command rate") else "without a word"
    return Outcome("WEAK", f"exit 0 ({said}): a 10 Hz command rate under a 15 Hz policy", [r])


@case("deploy", "robot YAML with joint7 in both outputs (the arm's and the hand's)", R11)
def deploy_robot_yaml_joint_twice(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_robot_yaml_joint_twice", "trained")

    def edit(cfg: dict) -> None:
        hand = cfg["outputs"][1]
        hand["joints"].append("joint7")
        if "driver_names" in hand:
            hand["driver_names"].append("joint_16.0")

    cfg = _robot_yaml(ws.parent / "my_robot.yaml", edit)
    r = h2s2r("deploy", ws, *DEPLOY, "--robot-config", cfg, timeout=DEPLOY_TIMEOUT_S)
    if not _ok(r):
        return _refused(r, r"joint7")
    if _says(r, r"joint7"):
        return Outcome("WEAK", "exit 0: joint7 in two outputs, with a warning", [r])
    return Outcome("BAD", "exit 0: joint7 commanded through two outputs, no word", [r])


@case("deploy", "ROS_DOMAIN_ID set but empty (export ROS_DOMAIN_ID= in a profile); deploy", R11)
def deploy_ros_domain_id_empty(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_ros_domain_id_empty", "trained")
    env = dict(ENV, ROS_DOMAIN_ID="")
    r = _run_env(env, "deploy", ws, *DEPLOY, timeout=DEPLOY_TIMEOUT_S)
    if not _ok(r):
        return _refused(r, r"ROS_DOMAIN_ID", fix=FIX + r"|unset|set|--domain-id")
    return succeeded(r, checks=[(bool(_deploy_metrics(ws)), "no deploy_log/metrics.json")])


# ----------------------------------------------------------------------------- retarget
@case("retarget", "--allow-unreachable with --max-palm-residual-m 0.0001 (0.1 mm)", R11)
def retarget_allow_unreachable_tight(fx: Fixtures) -> Outcome:
    ws = fx.ws("retarget_allow_unreachable_tight", "tracked")
    r = h2s2r("retarget", ws, "--max-palm-residual-m", "0.0001", "--allow-unreachable")
    val = h2s2r("validate", ws)
    o = chain(r, [val])
    if o.verdict != "GOOD":
        return o
    m = _json(ws / "task" / "metrics.json")
    res = [v for k, v in m.items() if "palm" in k and "resid" in k and isinstance(v, float)]
    if res and max(res) <= 0.0001:
        o.why = f"palm residual {max(res):.2e} m within 0.1 mm: nothing to say"
        return o
    if _said(r, r"unreachable|residual|palm.{0,80}(off|from|mm|m\b)|not reached"):
        return o
    return Outcome("WEAK", "exit 0: the palm beyond --max-palm-residual-m written silently", o.runs)


@case("retarget", 'retarget --config YAML with allow_unreachable: "false" (quoted)', R11)
def retarget_config_bool_quoted(fx: Fixtures) -> Outcome:
    ws = fx.ws("retarget_config_bool_quoted", "tracked")
    task0 = _digest(ws / "task")
    cfg = ws.parent / "retarget.yaml"
    cfg.write_text('robot: iiwa_allegro\nallow_unreachable: "false"\n')
    r = h2s2r("retarget", ws, "--config", cfg)
    if not _ok(r):
        return _refused(
            r,
            r"allow_unreachable",
            fix=FIX + r"|true|false|bool|quote",
            checks=[(_digest(ws / "task") == task0, "task/ changed by the refused retarget")],
        )
    rec = _json(ws / "task" / "meta.json").get("config", {}).get("allow_unreachable")
    if rec is True:
        return Outcome("BAD", "exit 0: the string 'false' read as allow_unreachable = True", [r])
    return Outcome("WEAK", "exit 0: a quoted string accepted for a yes/no option", [r])


# ----------------------------------------------------------------------------- track-hand
@case("track-hand", "--method ground-truth --hand left (the synthetic hand is a right hand)", R11)
def track_hand_ground_truth_left(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_hand_ground_truth_left", "synth")
    r = h2s2r("track-hand", ws, "--method", "ground-truth", "--hand", "left")
    if not _ok(r):
        return _refused(r, r"--hand|\bleft\b|right", fix=FIX + r"|right|only")
    kp = ws / "hand_track" / "keypoints.npz"
    try:
        hand = str(np.load(kp, allow_pickle=True)["handedness"]) if kp.is_file() else ""
    except (KeyError, ValueError, OSError):
        hand = ""
    if "left" in hand.lower():
        why = "exit 0: hand_track/ records a left hand for the synthetic right hand"
        return Outcome("BAD", why, [r])
    if _said(r, r"--hand|\bleft\b|ignor"):  # not the summary's "right hand"
        return succeeded(r)
    return Outcome("WEAK", "exit 0: --hand left ignored without a word", [r])


@case("track-hand", "--smooth-half-window 100 (its maximum) on a 30-frame hamer take", R11)
def track_hand_smooth_window_max(fx: Fixtures) -> Outcome:
    d = fx.ws("track_hand_smooth_window_max")
    hamer = hamer_from_gt(fx.synth, d.parent / "hamer_out", range(30))
    runs, kps = [], []
    for name, win in (("ref", "2"), ("max", "100")):
        ws = d.parent / name
        Fixtures.copy_fixture(fx.synth, ws)
        r = h2s2r(
            "track-hand", ws, "--method", "hamer", "--hamer-output", hamer,
            "--smooth-half-window", win,
        )  # fmt: skip
        runs.append(r)
        kp = ws / "hand_track" / "keypoints.npz"
        kps.append(np.load(kp) if kp.is_file() else None)
    ref, big = runs
    if (bad := failed_step([ref])) is not None:
        return bad
    if not _ok(big):
        return _refused(big, r"--smooth-half-window|smooth_half_window", fix=FIX + r"|frames")
    a, b = kps
    if b is None:
        return Outcome("BAD", "exit 0 but no hand_track/keypoints.npz", [big])
    va, vb = np.asarray(a["valid"], bool), np.asarray(b["valid"], bool)
    present = np.asarray(a["present"], bool) if "present" in a.files else np.ones(21, bool)
    if present.ndim == 2:
        present = present.all(axis=0)
    both = va & vb
    if both.sum() < 0.8 * va.sum():
        why = f"exit 0: {int(vb.sum())} valid frames (window 2: {int(va.sum())})"
        return Outcome("WEAK", why, [big, ref])
    ka = np.asarray(a["keypoints_cam"])[both][:, present]
    kb = np.asarray(b["keypoints_cam"])[both][:, present]
    if not np.all(np.isfinite(kb)):
        return Outcome("BAD", "exit 0: non-finite keypoints in valid frames", [big, ref])
    dev = float(np.max(np.linalg.norm(ka - kb, axis=-1)))
    if dev > 0.03 and not _said(big, r"smooth|window"):
        why = f"exit 0: keypoints moved up to {dev * 100:.1f} cm by a window wider than the take"
        return Outcome("WEAK", why, [big, ref])
    return succeeded(big, runs=[ref])


# ----------------------------------------------------------------------------- run
@case("run", "`run` after the user deleted policy/ (rm -r policy to re-export)", R11)
def run_after_policy_deleted(fx: Fixtures) -> Outcome:
    ws = fx.ws("run_after_policy_deleted", "trained")
    onnx0 = _sha(ws / "policy" / "policy.onnx")
    train0 = _digest(ws / "train")
    shutil.rmtree(ws / "policy")
    r = h2s2r("run", ws, *GT, *SHORT_RUN)
    return succeeded(
        r,
        checks=[
            (_digest(ws / "train") == train0, "train/ re-made"),
            ((ws / "policy" / "policy.onnx").is_file(), "no policy/policy.onnx re-made"),
            (_sha(ws / "policy" / "policy.onnx") == onnx0, "policy.onnx not the best's bytes"),
            (bool(_page_text(ws)), "no report/index.html"),
        ],
    )


# ----------------------------------------------------------------------------- workspace
@case("workspace", "export while `eval` is suspended (Ctrl-Z); then fg; export, validate", R11)
def export_while_eval_suspended(fx: Fixtures) -> Outcome:
    ws = fx.ws("export_while_eval_suspended", "trained")
    args = ["eval", ws, "--episodes", "8"]
    t0 = time.perf_counter()
    p = start(args)
    held = wait_for(lambda: (ws / ".h2s2r.lock").exists(), p, 60)
    if not held or p.poll() is not None:
        ev = finish(p, args, t0)
        return failed_step([ev]) or Outcome("WEAK", "probe: no lock seen while eval ran", [ev])
    time.sleep(1.0)
    os.killpg(p.pid, signal.SIGTSTP)
    os.killpg(p.pid, signal.SIGSTOP)  # SIGTSTP may be handled; a terminal's Ctrl-Z stops it
    time.sleep(0.5)
    ex = h2s2r("export", ws, "--checkpoint", "latest", timeout=90)
    os.killpg(p.pid, signal.SIGCONT)
    ev = finish(p, args, t0, timeout=300)
    ex2 = h2s2r("export", ws, "--checkpoint", "latest")
    val = h2s2r("validate", ws)
    checks = [
        (_ok(ev), f"the suspended eval failed after fg: {ev.first_line or ev.rc}"),
        (_ok(ex2), f"export after eval fails: {ex2.first_line or ex2.rc}"),
        (_ok(val), f"validate fails after both: {val.first_line or val.rc}"),
        (not leftovers(ws), f"left behind: {leftovers(ws)}"),
    ]
    if ex.timed_out:
        return Outcome("BAD", "hang: export waited on the stopped eval's lock", [ex, ev, ex2, val])
    if not _ok(ex):
        return _refused(
            ex,
            r"lock|running|\beval\b|pid|busy|in progress|stopped",
            fix=FIX + r"|after|until|finish|fg",
            checks=checks,
            runs=[ev, ex2, val],
        )
    return succeeded(ex, checks=checks, runs=[ev, ex2, val])


# ----------------------------------------------------------------------------- train
@case("train", "train --config YAML with hidden_dims: [128, 0, 32] (a zero-width layer)", R11)
def train_hidden_dims_zero(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_hidden_dims_zero", "tracked")
    cfg = ws.parent / "net.yaml"
    cfg.write_text("hidden_dims: [128, 0, 32]\n")
    r = h2s2r("train", ws, *TRAIN, "--config", cfg)
    return _refused(
        r,
        r"hidden_dims",
        fix=FIX + r"|positive|> ?0|>= ?1|width|units",
        checks=[(not (ws / "train" / "best_model.pt").exists(), "train/ trained anyway")],
    )
