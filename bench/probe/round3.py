"""Round 3 of the bad-input probe (held-out: none is a variant of an earlier case)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .fixtures import Fixtures, write_png
from .round1 import _interrupted
from .round2 import chain, hamer_from_gt
from .run import (
    ENV,
    EVAL,
    FIX,
    REPO,
    TRAIN,
    Outcome,
    Run,
    _kill_group,
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

# ============================================================================= round 3
# Held-out cases of the third round: none is a variant of a round-1 or round-2 case.
R3 = 3
HAND_MODEL = REPO.parent / "shared" / "data" / "models" / "hand_landmarker.task"
_RANK = {"GOOD": 0, "WEAK": 1, "BAD": 2}


def worst(*parts: tuple[str, Outcome]) -> Outcome:
    """One verdict for a case made of several ``(label, outcome)`` parts: the worst one,
    its runs first (the table shows the first run's exit status and stderr)."""
    v = max((o.verdict for _, o in parts), key=_RANK.__getitem__)
    shown = [(label, o) for label, o in parts if o.verdict == v]
    rest = [(label, o) for label, o in parts if o.verdict != v]
    why = "; ".join(f"{label}: {o.why}" for label, o in shown)
    runs = [r for _, o in [*shown, *rest] for r in o.runs]
    return Outcome(v, why, runs)


def failed_step(runs: list[Run]) -> Outcome | None:
    """A legitimate set-up step that failed (``None`` if all worked): the tool's fault."""
    bad = next((x for x in runs if x.rc != 0 or x.traceback), None)
    if bad is None:
        return None
    o = succeeded(bad)
    o.why = f"the legitimate step `h2s2r {bad.argv[1]}` fails: {bad.first_line or bad.rc}"
    return o


def files_of(folder: Path, pattern: str = "*") -> dict[str, str]:
    """``{name: sha256}`` of the files of ``folder`` matching ``pattern``."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.glob(pattern))
        if p.is_file()
    }


def scaled_obj(src: Path, dst: Path, s: float) -> Path:
    """An OBJ whose vertices are ``s`` times those of ``src`` (a rescan of the object)."""
    out = []
    for ln in src.read_text().splitlines():
        if ln.startswith("v "):
            ln = "v " + " ".join(f"{float(x) * s:.6f}" for x in ln.split()[1:4])
        out.append(ln)
    dst.write_text("\n".join(out) + "\n")
    return dst


def started_nodes(ws: Path) -> bool:
    """Whether a deploy got as far as starting its nodes (their logs in deploy_log/)."""
    return any((ws / "deploy_log").glob("*.log")) if (ws / "deploy_log").is_dir() else False


# --- synth ----------------------------------------------------------------------------
@case("synth", "synth --out a folder that already holds the user's own files", R3)
def synth_into_user_folder(fx: Fixtures) -> Outcome:
    d = fx.ws("synth_into_user_folder", name="Documents")
    d.mkdir()
    (d / "notes.txt").write_text("grasp the box from the left\n")
    write_png(d / "photos" / "table.png", np.full((8, 8, 3), 200, np.uint8))
    (d / ".settings").write_text("theme=dark\n")
    mine = {
        p: p.read_bytes() for p in (d / "notes.txt", d / "photos" / "table.png", d / ".settings")
    }
    r = h2s2r("synth", "--out", d, "--frames", "30")
    kept = all(p.is_file() and p.read_bytes() == b for p, b in mine.items())
    if r.rc == 0 and not r.traceback:
        v = h2s2r("validate", d)
        return chain(r, [v], [(kept, "the user's own files were changed or removed")])
    return refused(r, r"Documents", checks=[(kept, "the user's own files were changed or removed")])


# --- calibrate ------------------------------------------------------------------------
@case("calibrate", "--board-pose with the quaternion in ROS order (x,y,z,w), not w,x,y,z", R3)
def calibrate_board_pose_xyzw(fx: Fixtures) -> Outcome:
    from h2s2r.calibration.board import BoardSpec
    from h2s2r.calibration.synthetic import render_board
    from h2s2r.core.geometry import T_inv, make_T, matrix_to_quat, rot_x, rot_z

    ws = fx.ws("calibrate_board_pose_xyzw", "synth")
    gt = np.load(ws / "ground_truth" / "gt.npz")
    T_base_cam, K = gt["T_base_cam"], np.loadtxt(ws / "capture" / "cam_K.txt")
    spec = BoardSpec.parse("charuco:7x5:0.06:0.045:DICT_5X5_100")
    centre = (T_base_cam @ gt["T_cam_obj"][0])[:3, 3] * np.array([1.0, 1.0, 0.0])
    R = rot_z(0.3) @ rot_x(np.pi)  # lying face up on the table, under the object
    w, h = spec.size_m
    T_base_board = make_T(R, centre - R @ np.array([w / 2, h / 2, 0.0]))
    imgs = ws.parent / "board"
    rng = np.random.default_rng(0)
    for i in range(3):
        img = render_board(spec, K, T_inv(T_base_cam) @ T_base_board, rng=rng, occlusion=0.05)
        write_png(imgs / f"{i:02d}.png", img)
    p, q = T_base_board[:3, 3], matrix_to_quat(T_base_board[:3, :3])  # q: w, x, y, z
    wxyz = ",".join(f"{x:.6f}" for x in [*p, *q])
    xyzw = ",".join(f"{x:.6f}" for x in [*p, *q[1:], q[0]])
    good = h2s2r("calibrate", ws, "--images", imgs, "--board-pose", wxyz)  # the right order
    if good.rc != 0 or good.traceback:
        return failed_step([good])
    before = digest(ws / "calibration")
    r = h2s2r("calibrate", ws, "--images", imgs, "--board-pose", xyzw)
    o = refused(
        r,
        r"--board-pose",
        checks=[(digest(ws / "calibration") == before, "the good calibration/ was replaced")],
    )
    o.runs.append(good)
    return o


# --- track-object ---------------------------------------------------------------------
@case("track-object", "`cp box.obj ws/object`: object is a file; then with --mesh", R3)
def track_object_object_is_file(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_object_is_file", "synth")
    mesh = ws.parent / "box.obj"
    shutil.copy(ws / "object" / "mesh.obj", mesh)
    shutil.rmtree(ws / "object")
    shutil.copy(mesh, ws / "object")  # meant: into object/
    r = h2s2r("track-object", ws, "--no-overlay")
    o = refused(r, r"object", fix=r"--mesh|folder|director")
    retry = h2s2r("track-object", ws, "--mesh", mesh, "--no-overlay")
    o.runs.append(retry)
    if o.verdict == "BAD":
        return o
    if retry.traceback or retry.rc != 0:
        part = succeeded(retry)
        part.why = f"the run with --mesh then fails: {retry.first_line or retry.rc}"
        return worst(("first run", o), ("with --mesh", part))
    left = leftovers(ws)
    if not (ws / "object").is_dir() or left:
        return Outcome(
            "WEAK", f"the run with --mesh works but leaves {left or 'no object/'}", o.runs
        )
    return o


# --- track-hand -----------------------------------------------------------------------
@case("track-hand", "MediaPipe on a demo in which it sees no hand (model given)", R3)
def track_hand_no_hand_seen(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_hand_no_hand_seen", "imported")
    r = h2s2r("track-hand", ws, "--model", HAND_MODEL)
    return refused(r, r"hand", checks=[(not (ws / "hand_track").exists(), "hand_track/ written")])


@case("track-hand", "hamer_depth JSON with NaN fingertips (depth holes) in 5 frames", R3)
def track_hand_hamer_nan(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_hand_hamer_nan", "tracked")
    shutil.rmtree(ws / "hand_track")
    hamer = hamer_from_gt(fx.synth, ws.parent / "hamer_out", range(30))
    for i in range(5):
        f = hamer / f"{i:05d}.json"
        d = json.loads(f.read_text())
        d["index_3"] = d["thumb_3"] = [float("nan")] * 3
        f.write_text(json.dumps(d))  # Python's json writes NaN
    r = h2s2r("track-hand", ws, "--method", "hamer", "--hamer-output", hamer)
    if r.rc != 0 or r.traceback:
        return refused(
            r, r"0000[0-4]\.json", checks=[(not (ws / "hand_track").exists(), "hand_track/")]
        )
    rt = h2s2r("retarget", ws)
    v = h2s2r("validate", ws)
    return chain(r, [rt, v])


# --- retarget -------------------------------------------------------------------------
@case("retarget", "a 30-frame take in which the object never moves; on to retarget", R3)
def retarget_object_never_moves(fx: Fixtures) -> Outcome:
    ws = fx.ws("retarget_object_never_moves")
    d = ws.parent
    pre = int(np.load(fx.synth / "ground_truth" / "gt.npz")["pre_manip_idx"])
    src = d / "src"
    for sub in ("rgb", "depth"):
        (src / sub).mkdir(parents=True)
        for i in range(30):  # the hand in place at the object, nothing moves
            shutil.copy(fx.src / sub / f"{pre:06d}.png", src / sub / f"{i:06d}.png")
    shutil.copy(fx.src / "cam_K.txt", src / "cam_K.txt")
    runs = [h2s2r("import", "--from", src, ws)]
    if runs[-1].rc == 0:
        Fixtures.copy_fixture(fx.synth / "object", ws / "object")
        runs.append(h2s2r("track-object", ws, "--no-overlay"))
    if runs[-1].rc == 0:
        one = hamer_from_gt(fx.synth, d / "hamer_one", range(pre, pre + 1)) / f"{pre:05d}.json"
        hamer = d / "hamer_out"
        hamer.mkdir()
        for i in range(30):
            shutil.copy(one, hamer / f"{i:05d}.json")
        runs.append(h2s2r("track-hand", ws, "--method", "hamer", "--hamer-output", hamer))
    if runs[-1].rc == 0:
        T = d / "T_base_cam.txt"
        np.savetxt(T, np.load(fx.synth / "ground_truth" / "gt.npz")["T_base_cam"])
        runs.append(h2s2r("calibrate", ws, "--from-file", T))
    if runs[-1].rc == 0:
        runs.append(h2s2r("retarget", ws))
    last = runs[-1]
    if last.rc == 0 and last.argv[1] == "retarget" and not last.traceback:
        return Outcome("BAD", "exit 0: task/ from a demo in which the object never moves", runs)
    if any(x.traceback for x in runs):
        return Outcome("BAD", f"traceback in `h2s2r {last.argv[1]}`", [last, *runs[:-1]])
    o = refused(last, r"mov|static|still|motion|identical|frozen")
    o.runs += runs[:-1]
    o.why += f" (`h2s2r {last.argv[1]}` refuses)"
    return o


@case("retarget", "SIGKILL during retarget (while it writes task/); validate; retarget again", R3)
def retarget_sigkill_retry(fx: Fixtures) -> Outcome:
    ws = fx.ws("retarget_sigkill_retry", "tracked")
    before = digest(ws / "task")
    args = ["retarget", ws]
    r, hit = None, False
    for _ in range(2):  # the staged write is short: a second try if it was missed
        t0 = time.perf_counter()
        p = start(args)
        hit = wait_for(lambda: (ws / ".task.partial").exists(), p, 180)
        _kill_group(p)
        r = finish(p, args, t0)
        if hit:
            break
    if not hit:
        return Outcome("WEAK", "probe could not interrupt it (finished first, twice)", [r])
    after = digest(ws / "task") if (ws / "task").is_dir() else "gone"
    val = h2s2r("validate", ws)
    retry = h2s2r("retarget", ws)
    val2 = h2s2r("validate", ws)
    checks = [
        (after == before, "task/ changed or vanished after the kill"),
        (val.rc == 0, f"validate after the kill: {val.first_line}"),
        (retry.rc == 0, f"the re-run fails: {retry.first_line}"),
        (not leftovers(ws), f"left after the re-run: {leftovers(ws)}"),
        (val2.rc == 0, f"validate after the re-run: {val2.first_line}"),
    ]
    return _interrupted(r, checks, [val, retry, val2])


# --- run ------------------------------------------------------------------------------
@case("run", "run --config YAML with the robot misspelt (iiwa-allegro)", R3)
def run_yaml_robot_typo(fx: Fixtures) -> Outcome:
    ws = fx.ws("run_yaml_robot_typo", "synth")
    cfg = ws.parent / "run.yaml"
    cfg.write_text(
        "robot: iiwa-allegro\nhand_method: ground-truth\nbudget_min: 0.05\nnum_envs: 8\n"
        "episodes: 2\n"
    )
    r = h2s2r("run", ws, "--config", cfg)
    if r.rc == 0 and not r.traceback:
        header = ws / "policy" / "policy.json"
        robot = json.loads(header.read_text()).get("robot") if header.is_file() else None
        v = h2s2r("validate", ws)
        return chain(r, [v], [(robot == "iiwa_allegro", f"policy.json robot is {robot!r}")])
    o = refused(r, r"iiwa-allegro", fix=r"iiwa_allegro|" + FIX)
    ran = [s for s in ("object_track", "hand_track", "task", "train") if (ws / s).is_dir()]
    if o.verdict == "GOOD" and ran:
        return Outcome("WEAK", f"refused only after {', '.join(ran)}/ were made", o.runs)
    return o


# --- train ----------------------------------------------------------------------------
@case("train", "--config YAML and flags that disagree (flags must win, the rest from YAML)", R3)
def train_flag_overrides_yaml(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_flag_overrides_yaml", "tracked")
    cfg = ws.parent / "mine.yaml"
    cfg.write_text("num_envs: 16\nrandomization: large\nlearning_rate: 0.0005\n")
    r = h2s2r("train", ws, "--config", cfg, *TRAIN)  # --num-envs 8
    path = ws / "train" / "config.json"
    saved = json.loads(path.read_text()).get("train", {}) if path.is_file() else {}
    got = {k: saved.get(k) for k in ("num_envs", "randomization", "learning_rate")}
    want = {"num_envs": 8, "randomization": "large", "learning_rate": 0.0005}
    v = h2s2r("validate", ws)
    return chain(r, [v], [(got == want, f"train/config.json has {got}, not {want}")])


@case("train", "--config YAML with learning_rate: 1e-3 (PyYAML reads it as a string)", R3)
def train_yaml_sci_notation(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_yaml_sci_notation", "tracked")
    cfg = ws.parent / "lr.yaml"
    cfg.write_text("learning_rate: 1e-3\n")
    r = h2s2r("train", ws, "--config", cfg, *TRAIN)
    if r.rc == 0 and not r.traceback:
        path = ws / "train" / "config.json"
        lr = json.loads(path.read_text())["train"].get("learning_rate") if path.is_file() else None
        return succeeded(r, checks=[(lr == 0.001, f"train/config.json learning_rate is {lr!r}")])
    # "must be a number, got '1e-3'" leaves the user puzzled: 1e-3 is a number to them.
    return refused(
        r,
        r"learning_rate",
        fix=r"1\.0e-3|0\.001|decimal point|YAML 1\.1|\bquot|scientific|PyYAML",
        checks=[(not (ws / "train").exists(), "train/ created")],
    )


@case("train", "--config the deploy robot YAML (configs/deploy/…) by mistake", R3)
def train_config_of_deploy(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_config_of_deploy", "tracked")
    cfg = REPO / "configs" / "deploy" / "iiwa_allegro_ros2_control.yaml"
    r = h2s2r("train", ws, "--config", cfg, *TRAIN)
    return refused(
        r,
        r"iiwa_allegro_ros2_control\.yaml",
        checks=[(not (ws / "train").exists(), "train/ created")],
    )


@case("train", "--resume with another network (large_network.yaml) than the run's", R3)
def train_resume_other_network(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_resume_other_network", "trained")
    before = files_of(ws / "train", "*.pt")
    big = REPO / "configs" / "train" / "large_network.yaml"
    r = h2s2r(
        "train", ws, "--config", big, *TRAIN[:2], "--total-steps", "512", *TRAIN[4:], "--resume"
    )
    after = files_of(ws / "train", "*.pt")
    ev = h2s2r("eval", ws, *EVAL)
    if r.rc == 0 and not r.traceback:
        o = chain(r, [ev])
        if o.verdict == "GOOD" and not re.search(r"hidden.dims|network", r.out + r.err, re.I):
            return Outcome("WEAK", "exit 0; the YAML's network was silently dropped", o.runs)
        return o
    gone = sorted(set(before) - set(after))
    o = refused(
        r,
        r"hidden.dims|network|large_network\.yaml|256",
        checks=[
            (not gone, f"checkpoints {gone} renamed or removed by the refused resume"),
            (ev.rc == 0, f"eval of the finished run then fails: {ev.first_line}"),
        ],
    )
    o.runs.append(ev)
    return o


def _limit_file_size(limit: int) -> Callable[[], None]:
    def set_limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return set_limit


@case("train", "the disk fills up (file-size limit 300 kB) when train saves; then again", R3)
def train_disk_full(fx: Fixtures) -> Outcome:
    # RLIMIT_FSIZE: a write past 300 kB fails (EFBIG; Python ignores SIGXFSZ), as on a
    # full disk; a checkpoint is about 600 kB, the logs and config.json a few kB.
    ws = fx.ws("train_disk_full", "tracked")
    args = ["train", ws, *TRAIN]
    t0 = time.perf_counter()
    r = finish(start(args, preexec=_limit_file_size(300_000)), args, t0)
    left = leftovers(ws)
    retry = h2s2r(*args)  # space freed: the same command
    more = [retry]
    if retry.rc != 0 and "--resume" in retry.message:
        more.append(h2s2r(*args, "--resume"))  # as it says
    ev = h2s2r("eval", ws, *EVAL)
    more.append(ev)
    o = refused(
        r,
        r"space|too large|disk|model_\d+\.pt|best_model\.pt|/train\b",
        checks=[
            (not left, f"left behind: {left}"),
            (more[-2].rc == 0, f"the retry fails: {more[-2].first_line}"),
            (ev.rc == 0, f"eval after the retry fails: {ev.first_line}"),
        ],
    )
    o.runs += more
    return o


# --- export ---------------------------------------------------------------------------
def _poison_checkpoint(ws: Path, name: str) -> None:
    """``train/name`` with NaN actor weights, as a diverged run saves it, and its sha256
    in train/meta.json updated (training wrote it: no tampering to detect)."""
    import torch

    from h2s2r.core.artifacts.base import sha256_file

    path = ws / "train" / name
    ck = torch.load(path, weights_only=False)
    for k, v in ck["actor_state_dict"].items():
        if k.startswith("mlp.") and torch.is_floating_point(v):
            v.fill_(float("nan"))
    torch.save(ck, path)
    meta = ws / "train" / "meta.json"
    m = json.loads(meta.read_text())
    m["files"][name] = sha256_file(path)
    meta.write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")


@case("export", "export a checkpoint whose weights are NaN (training diverged)", R3)
def export_nan_checkpoint(fx: Fixtures) -> Outcome:
    ws = fx.ws("export_nan_checkpoint", "trained")
    _poison_checkpoint(ws, "best_model.pt")
    before = digest(ws / "policy")
    r = h2s2r("export", ws)
    if r.rc == 0 and not r.traceback:
        import onnxruntime as ort

        header = json.loads((ws / "policy" / "policy.json").read_text())
        sess = ort.InferenceSession(str(ws / "policy" / "policy.onnx"))
        obs = np.zeros((1, int(header["observation_size"])), np.float32)
        act = sess.run(None, {"obs": obs})[0]
        if not np.all(np.isfinite(act)):
            return Outcome("BAD", "exit 0: policy/policy.onnx outputs NaN actions", [r])
        return Outcome("GOOD", "exported finite actions (the NaN weights were not used)", [r])
    return refused(
        r,
        r"best_model\.pt",
        checks=[(digest(ws / "policy") == before, "the previous policy/ was replaced")],
    )


@case("export", "policy/ is a symlink to the robot PC's share; export another checkpoint", R3)
def export_policy_symlink(fx: Fixtures) -> Outcome:
    ws = fx.ws("export_policy_symlink", "trained")
    share = ws.parent / "robot_pc" / "policy"
    share.parent.mkdir()
    shutil.move(ws / "policy", share)
    (ws / "policy").symlink_to(share, target_is_directory=True)
    r = h2s2r("export", ws, "--checkpoint", "model_1.pt")
    header = share / "policy.json"
    ck = json.loads(header.read_text()).get("checkpoint") if header.is_file() else None
    link = (ws / "policy").is_symlink()
    left = leftovers(ws)
    if r.rc != 0 or r.traceback:
        return refused(r, r"policy", checks=[(header.is_file(), "the linked folder was emptied")])
    v = h2s2r("validate", ws)
    if not header.is_file():
        return Outcome("BAD", "exit 0, but the linked folder's policy was deleted", [r, v])
    if link and ck == "model_1.pt":
        return chain(r, [v], [(not left, f"left behind: {left}")])
    if link:
        return Outcome("BAD", f"exit 0 through the link, but it still holds {ck}", [r, v])
    extra = f"; left {left}" if left else ""
    return Outcome(
        "WEAK",
        "exit 0: the link policy/ was replaced by a local folder, silently; the robot "
        f"PC's folder keeps the old policy ({ck}){extra}",
        [r, v],
    )


# --- eval -----------------------------------------------------------------------------
@case("eval", "track-object --mesh a rescan of the object after training; then eval", R3)
def eval_after_mesh_swap(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_after_mesh_swap", "trained")
    mesh = scaled_obj(ws / "object" / "mesh.obj", ws.parent / "box_rescan.obj", 1.03)
    shutil.rmtree(ws / "object")  # the old mesh out; the rescan in
    t = h2s2r("track-object", ws, "--mesh", mesh, "--no-overlay")
    if t.rc != 0 or t.traceback:
        return failed_step([t])
    e = h2s2r("eval", ws, *EVAL)
    o = refused(
        e,
        r"object|stale|task/|train/",
        fix=r"retarget|\btrain\b",
        checks=[(not (ws / "eval").exists(), "eval/ written for the old object")],
    )
    o.runs.append(t)
    return o


@case("eval", "validate and eval while a first `train` runs on the workspace", R3)
def eval_validate_during_train(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_validate_during_train", "tracked")
    args = ["train", ws, *TRAIN[:2], "--total-steps", "100000", *TRAIN[4:], "--save-every", "1"]
    t0 = time.perf_counter()
    p = start(args)
    hit = wait_for(lambda: (ws / "train" / "model_0.pt").exists(), p, 200)
    v = h2s2r("validate", ws)
    e = h2s2r("eval", ws, *EVAL)
    running = p.poll() is None
    os.killpg(p.pid, signal.SIGINT)  # Ctrl-C: done with it
    r = finish(p, args, t0, timeout=120)
    if not hit or not running:
        return Outcome("BAD", f"train stopped by itself: {r.first_line or r.rc}", [r, v, e])
    if v.traceback:
        pv = Outcome("BAD", "traceback", [v])
    elif v.rc == 0:
        pv = Outcome("GOOD", "validate works", [v])
    elif re.search(r"in progress|being written|is running|another h2s2r|pid \d+|still", v.message):
        pv = Outcome("GOOD", "validate says train/ is being written", [v])
    else:
        pv = Outcome("WEAK", f"validate calls the running train/ broken: {v.first_line}", [v])
    if e.rc == 0 and not e.traceback:
        val = h2s2r("validate", ws)
        pe = Outcome("GOOD", "eval works", [e, val])
    else:
        pe = refused(e, r"another h2s2r|h2s2r train|running|in progress|pid")
    return worst(("validate", pv), ("eval", pe))


@case("eval", "MUJOCO_GL=bogus in the environment: synth, and eval with its video", R3)
def eval_mujoco_gl_bogus(fx: Fixtures) -> Outcome:
    env = {**ENV, "MUJOCO_GL": "bogus"}
    new = fx.ws("eval_mujoco_gl_bogus", name="new_demo")
    ws = fx.ws("eval_mujoco_gl_bogus", "trained")
    s = h2s2r("synth", "--out", new, "--frames", "30", env=env)
    e = h2s2r("eval", ws, "--episodes", "2", env=env)  # the video needs the renderer
    parts = []
    for label, x, ok in (
        ("synth", s, (new / "capture").is_dir()),
        ("eval", e, any((ws / "eval").glob("*.mp4")) if (ws / "eval").is_dir() else False),
    ):
        if x.rc == 0 and not x.traceback:
            parts.append((label, succeeded(x, checks=[(ok, "nothing rendered")])))
        else:
            parts.append((label, refused(x, r"MUJOCO_GL", fix=r"egl|osmesa|unset")))
    return worst(*parts)


# --- deploy ---------------------------------------------------------------------------
@case("deploy", "policy.json's observation_layout edited by hand (an entry removed)", R3)
def deploy_policy_json_edited(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_policy_json_edited", "trained")
    path = ws / "policy" / "policy.json"
    header = json.loads(path.read_text())
    header["observation_layout"] = header["observation_layout"][:-1]
    path.write_text(json.dumps(header, indent=2, sort_keys=True) + "\n")
    r = h2s2r("deploy", ws, "--sim", "--duration", "2", timeout=150)
    return refused(
        r,
        r"policy\.json",
        fix=r"export",
        checks=[(not started_nodes(ws), "the nodes were started")],
    )


@case("deploy", "deploy --sim with policy/ copied from another demo's workspace", R3)
def deploy_policy_other_demo(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_policy_other_demo", "synth2")
    steps = [h2s2r("track-object", ws, "--no-overlay")]
    steps.append(h2s2r("retarget", ws))
    bad = failed_step(steps)
    if bad is not None:
        return bad
    Fixtures.copy_fixture(fx.trained / "policy", ws / "policy")
    r = h2s2r("deploy", ws, "--sim", "--duration", "2", timeout=180)
    o = refused(r, r"policy", fix=r"export|train")
    o.runs += steps
    return o


@case("deploy", "ROS_DOMAIN_ID=250 in the environment (valid: 0-232) for deploy --sim", R3)
def deploy_domain_id_env_invalid(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_domain_id_env_invalid", "trained")
    env = {**ENV, "ROS_DOMAIN_ID": "250"}
    r = h2s2r("deploy", ws, "--sim", "--duration", "2", timeout=150, env=env)
    return refused(r, r"ROS_DOMAIN_ID", fix=r"232|101|--domain-id|unset")


_COUNT_PUBLISHERS = """
import json, sys, time
import rclpy
rclpy.init()
node = rclpy.create_node("h2s2r_probe_counter")
most = {t: 0 for t in sys.argv[2:]}
t_end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < t_end:
    rclpy.spin_once(node, timeout_sec=0.2)
    for t in most:
        most[t] = max(most[t], node.count_publishers(t))
print(json.dumps(most))
"""


@case("deploy", "two `deploy --sim` at once on one machine and ROS domain", R3)
def deploy_two_on_one_domain(fx: Fixtures) -> Outcome:
    ws_a = fx.ws("deploy_two_on_one_domain", "trained", name="ws_a")
    ws_b = fx.ws("deploy_two_on_one_domain", "trained", name="ws_b")
    a_args = ["deploy", ws_a, "--sim", "--duration", "40"]
    t0 = time.perf_counter()
    pa = start(a_args)
    log = ws_a / "deploy_log" / "command.log"
    hit = wait_for(lambda: log.is_file() and "activated" in log.read_text(), pa, 150)
    if not hit:
        a = finish(pa, a_args, t0)
        return Outcome("BAD", f"the first deploy did not start: {a.first_line or a.rc}", [a])
    topics = ["/h2s2r/joint_targets", "/h2s2r/joint_command"]
    counter = subprocess.Popen(
        [sys.executable, "-c", _COUNT_PUBLISHERS, "25", *topics],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    b = h2s2r("deploy", ws_b, "--sim", "--duration", "8", timeout=180)
    try:
        out, _ = counter.communicate(timeout=90)
        most = json.loads(out.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        _kill_group(counter)
        most = {}
    a = finish(pa, a_args, t0)
    runs = [b, a]
    if a.traceback or b.traceback:
        return Outcome("BAD", "traceback", runs)
    shared = {t: n for t, n in most.items() if n >= 2}
    if b.rc != 0:
        o = refused(b, r"ROS_DOMAIN_ID|--domain-id|another (deploy|h2s2r)|already")
        if a.rc != 0:
            return Outcome("BAD", f"the running deploy failed too: {a.first_line}", runs)
        o.runs.append(a)
        return o
    if a.rc != 0:
        return Outcome(
            "BAD", f"the first deploy fails once the second starts: {a.first_line}", runs
        )
    if shared:
        return Outcome(
            "BAD",
            f"both exit 0 while sharing topics: {shared} publishers (each command node took "
            "both policies' targets, each robot both command streams)",
            runs,
        )
    if not most:
        return Outcome("WEAK", "both exit 0; the probe could not count publishers", runs)
    return Outcome("GOOD", "both ran, isolated (one publisher per topic)", runs)


# --- workspace ------------------------------------------------------------------------
@case("workspace", "the workspace path is a symlink (runs/mug -> data/mug): eval, export", R3)
def workspace_symlinked(fx: Fixtures) -> Outcome:
    d = fx.ws("workspace_symlinked").parent
    real = d / "data" / "mug"
    real.parent.mkdir()
    Fixtures.copy_fixture(fx.trained, real)
    link = d / "runs" / "mug"
    link.parent.mkdir()
    link.symlink_to(real, target_is_directory=True)
    ev = h2s2r("eval", link, *EVAL)
    more = [h2s2r("export", link), h2s2r("validate", link)]
    beside = sorted(p.name for p in link.parent.iterdir())
    return chain(
        ev,
        more,
        [
            (link.is_symlink(), "the link was replaced"),
            ((real / "eval" / "meta.json").is_file(), "eval/ not in the linked folder"),
            (beside == ["mug"], f"written beside the link: {beside}"),
            (not leftovers(real), f"left behind: {leftovers(real)}"),
        ],
    )
