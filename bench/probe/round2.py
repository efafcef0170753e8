"""Round 2 of the bad-input probe (held-out: none is a variant of a round-1 case)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from .fixtures import Fixtures, src_copy, write_png
from .round1 import _interrupted, _with
from .run import (
    ENV,
    EVAL,
    FIX,
    REPO,
    TRACEBACK,
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

# ============================================================================= round 2
# Held-out cases of the second round: none is a variant of a round-1 case.
R2 = 2
VERBS = ["capture", "import", "synth", "calibrate", "track-object", "track-hand", "retarget"]
VERBS += ["train", "eval", "export", "deploy", "run", "demo", "validate"]


def chain(main: Run, more: list[Run], checks=()) -> Outcome:
    """A legitimate sequence: ``main`` and every run of ``more`` must work, then ``checks``."""
    if any(x.traceback for x in more):
        bad = next(x for x in more if x.traceback)
        return Outcome("BAD", f"traceback in `h2s2r {bad.argv[1]}`", [main, *more])
    done = [(x.rc == 0, f"`h2s2r {x.argv[1]}` then fails: {x.first_line or x.rc}") for x in more]
    o = succeeded(main, checks=[*done, *checks])
    o.runs += more
    return o


def group_members(pgid: int) -> list[str]:
    """Command lines of the live processes of process group ``pgid`` (nodes left behind)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(cmd.strip()[:100])
        except (OSError, IndexError, ValueError):
            continue
    return found


def hamer_from_gt(synth_ws: Path, out: Path, frames: range) -> Path:
    """hamer_depth-style per-frame JSON (00000.json …) from a synthetic demo's true hand."""
    kp = np.load(synth_ws / "ground_truth" / "gt.npz")["hand_keypoints_cam"]
    pairs = {"wrist": 0, "index_0": 5, "middle_0": 9, "ring_0": 13}
    tips = {"index_3": 8, "middle_3": 12, "ring_3": 16, "thumb_3": 4}
    out.mkdir(parents=True, exist_ok=True)
    for i in frames:
        d = {f"{k}_{s}": kp[i, j].tolist() for k, j in pairs.items() for s in ("back", "front")}
        d.update({k: kp[i, j].tolist() for k, j in tips.items()})
        (out / f"{i:05d}.json").write_text(json.dumps(d))
    return out


def _metrics(folder: Path) -> dict:
    p = folder / "metrics.json"
    return json.loads(p.read_text()) if p.is_file() else {}


# --- cli ------------------------------------------------------------------------------
@case("cli", "`h2s2r VERB --help` for every verb (a new user's first command)", R2)
def cli_help_every_verb(fx: Fixtures) -> Outcome:
    runs = [h2s2r(v, "--help", timeout=90) for v in VERBS]
    bad = [r for r in runs if r.traceback or r.timed_out]
    off = [r for r in runs if r not in bad and (r.rc != 0 or "usage:" not in r.out)]
    if bad:
        names = ", ".join(f"{r.argv[1]} --help" for r in bad)
        return Outcome("BAD", f"traceback: {names}", bad + off)
    if off:
        names = ", ".join(r.argv[1] for r in off)
        return Outcome("WEAK", f"no help printed for {names}", off)
    return Outcome("GOOD", f"all {len(runs)} verbs print their help", runs[:1])


# --- import ---------------------------------------------------------------------------
@case("import", "cam_K.txt of a 1920×1080 camera beside 640×480 frames (another camera's)", R2)
def import_camk_other_camera(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_camk_other_camera")
    src = src_copy(fx, ws)
    (src / "cam_K.txt").write_text("1380 0 960\n0 1380 540\n0 0 1\n")  # cx, cy off the image
    r = h2s2r("import", "--from", src, ws)
    if r.rc == 0 and not r.traceback:
        Fixtures.copy_fixture(fx.synth / "object", ws / "object")
        t = h2s2r("track-object", ws, "--no-overlay")
        if t.rc != 0 and re.search(r"cam_K|intrinsic|principal", t.message):
            return Outcome("WEAK", "import accepts it; track-object then names cam_K", [r, t])
        return Outcome(
            "BAD",
            "exit 0: principal point (960, 540) outside the 640×480 frames accepted; "
            f"track-object then: {t.first_line or t.rc}",
            [r, t],
        )
    return refused(r, r"cam_K\.txt", checks=[(not (ws / "capture").exists(), "capture/ written")])


@case("import", "16-bit depth PNGs in centimetres (a converter's output); then the fix", R2)
def import_depth_centimetres(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_depth_centimetres")
    src = src_copy(fx, ws)
    for p in sorted((src / "depth").glob("*.png")):
        d = np.asarray(Image.open(p)).astype(np.float64)
        write_png(p, np.round(d / 10).astype(np.uint16))
    r = h2s2r("import", "--from", src, ws)
    o = refused(
        r, r"depth", fix=r"--depth-scale", checks=[(not (ws / "capture").exists(), "capture/")]
    )
    retry = h2s2r("import", "--from", src, ws, "--depth-scale", "0.01")
    if o.verdict != "BAD" and retry.rc != 0:
        return _with(o, retry, "the import with --depth-scale 0.01 fails")
    o.runs.append(retry)
    return o


@case("import", "colour frames as JPEG (rgb/*.jpg) beside 16-bit depth PNGs", R2)
def import_rgb_jpeg(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_rgb_jpeg")
    src = src_copy(fx, ws)
    for p in sorted((src / "rgb").glob("*.png")):
        Image.open(p).convert("RGB").save(p.with_suffix(".jpg"), quality=95)
        p.unlink()
    r = h2s2r("import", "--from", src, ws)
    v = h2s2r("validate", ws)
    same = False
    if r.rc == 0 and (ws / "capture" / "rgb" / "000005.png").is_file():
        a = np.asarray(Image.open(src / "rgb" / "000005.jpg").convert("RGB"), np.float64)
        b = np.asarray(Image.open(ws / "capture" / "rgb" / "000005.png").convert("RGB"))
        same = a.shape == b.shape and float(np.abs(a - b).mean()) < 2.0
    return chain(r, [v], [(same, "capture/rgb/000005.png is not the decoded JPEG")])


@case("import", "frames named frame_0.png … frame_29.png (no zero padding)", R2)
def import_unpadded_names(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_unpadded_names")
    src = ws.parent / "src"
    for sub in ("rgb", "depth"):
        (src / sub).mkdir(parents=True)
        for i in range(30):
            shutil.copy(fx.src / sub / f"{i:06d}.png", src / sub / f"frame_{i}.png")
    shutil.copy(fx.src / "cam_K.txt", src / "cam_K.txt")
    r = h2s2r("import", "--from", src, ws)

    def hashes(d: Path) -> list[str]:
        return [hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.glob("*.png"))]

    ok = r.rc == 0 and all(
        hashes(ws / "capture" / s) == hashes(fx.imported / "capture" / s) for s in ("rgb", "depth")
    )
    return succeeded(r, checks=[(ok, "frames out of order (frame_10 before frame_2)")])


@case("import", "an RGB-only phone video (take.mp4)", R2)
def import_mp4_video(fx: Fixtures) -> Outcome:
    import cv2

    ws = fx.ws("import_mp4_video")
    vid = ws.parent / "take.mp4"
    w = cv2.VideoWriter(str(vid), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
    for p in sorted((fx.src / "rgb").glob("*.png")):
        w.write(cv2.imread(str(p)))
    w.release()
    r = h2s2r("import", "--from", vid, ws)
    # Listing the formats it takes counts as saying what to do.
    return refused(
        r,
        r"take\.mp4",
        fix=FIX + r"|\.bag",
        checks=[(not (ws / "capture").exists(), "capture/ written")],
    )


@case("import", "a folder with a single frame (a snapshot, not a video); on to retarget", R2)
def import_single_frame(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_single_frame")
    src = ws.parent / "src"
    for sub in ("rgb", "depth"):
        (src / sub).mkdir(parents=True)
        shutil.copy(fx.src / sub / "000000.png", src / sub / "000000.png")
    shutil.copy(fx.src / "cam_K.txt", src / "cam_K.txt")
    r = h2s2r("import", "--from", src, ws)
    if r.rc != 0 or r.traceback:
        return refused(r, r"frame", checks=[(not (ws / "capture").exists(), "capture/ written")])
    # Accepted: go on as a user would (hand from hamer_depth, a known camera pose).
    Fixtures.copy_fixture(fx.synth / "object", ws / "object")
    t = h2s2r("track-object", ws, "--no-overlay")
    hamer = hamer_from_gt(fx.synth, ws.parent / "hamer_out", range(1))
    h = h2s2r("track-hand", ws, "--method", "hamer", "--hamer-output", hamer)
    T = ws.parent / "T_base_cam.txt"
    np.savetxt(T, np.load(fx.synth / "ground_truth" / "gt.npz")["T_base_cam"])
    c = h2s2r("calibrate", ws, "--from-file", T)
    rt = h2s2r("retarget", ws)
    runs = [r, t, h, c, rt]
    if any(x.traceback for x in runs):
        return Outcome("BAD", "traceback downstream of a 1-frame capture", runs)
    if rt.rc == 0:
        return Outcome("BAD", "exit 0: a task/ from a single frame", runs)
    first = next(x for x in runs if x.rc != 0)
    said = re.search(r"\b(1|one|single) frames?\b|at least \d+ frames", first.message)
    return Outcome(
        "WEAK",
        f"import{', track-object' if t.rc == 0 else ''} accept 1 frame silently; "
        f"`{first.argv[1]}` refuses{' naming the frame count' if said else ''}: "
        f"{first.first_line}",
        runs,
    )


# --- track-object ---------------------------------------------------------------------
@case("track-object", "--mesh an .fbx export (a format it does not read)", R2)
def track_object_mesh_fbx(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_mesh_fbx", "synth")
    shutil.rmtree(ws / "object")
    mesh = ws.parent / "mug.fbx"
    mesh.write_bytes(b"Kaydara FBX Binary  \x00\x1a\x00" + np.random.default_rng(0).bytes(2000))
    r = h2s2r("track-object", ws, "--mesh", mesh, "--no-overlay")
    # "export it as OBJ, …" is a fix that FIX (re-export) does not spell.
    fix = FIX + r"|\bexport it as\b"
    return refused(r, r"mug\.fbx", fix=fix, checks=[(not (ws / "object").exists(), "object/")])


@case("track-object", "--masks folder with masks for 20 of the 30 frames", R2)
def track_object_masks_fewer(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_masks_fewer", "synth")
    masks = ws.parent / "masks"
    for i in range(20):
        write_png(masks / f"{i:06d}.png", np.full((480, 640), 255, np.uint8))
    r = h2s2r("track-object", ws, "--masks", masks, "--no-overlay")
    return refused(
        r,
        r"masks?/0000[23]\d\.png|\b(10|20) of 30\b",
        checks=[(not (ws / "object_track").exists(), "object_track/ written")],
    )


@case("track-object", "--masks at 320×240 for 640×480 frames (a downscaled segmenter)", R2)
def track_object_masks_wrong_size(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_masks_wrong_size", "synth")
    masks = ws.parent / "masks"
    for i in range(30):
        write_png(masks / f"{i:06d}.png", np.full((240, 320), 255, np.uint8))
    r = h2s2r("track-object", ws, "--masks", masks, "--no-overlay")
    return refused(
        r, r"mask.*320", checks=[(not (ws / "object_track").exists(), "object_track/ written")]
    )


@case("track-object", "--roi given as u1,v1,u0,v0 (corners swapped)", R2)
def track_object_roi_inverted(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_roi_inverted", "synth")
    r = h2s2r("track-object", ws, "--roi", "400,300,100,50", "--no-overlay")
    return refused(
        r, r"--roi", checks=[(not (ws / "object_track").exists(), "object_track/ written")]
    )


@case("track-object", "capture/ is a symlink to the take on another disk; on to retarget", R2)
def track_object_symlinked_capture(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_symlinked_capture")
    take = ws.parent / "disk2" / "take1"
    shutil.copytree(fx.synth / "capture", take)
    ws.mkdir()
    (ws / "capture").symlink_to(take, target_is_directory=True)
    for sub in ("object", "ground_truth"):
        Fixtures.copy_fixture(fx.synth / sub, ws / sub)
    before = digest(take)
    r = h2s2r("track-object", ws, "--no-overlay")
    h = h2s2r("track-hand", ws, "--method", "ground-truth")
    rt = h2s2r("retarget", ws)
    v = h2s2r("validate", ws)
    got, ref = _metrics(ws / "object_track"), _metrics(fx.tracked / "object_track")
    same = bool(got) and got.get("trans_err_mean_m") == ref.get("trans_err_mean_m")
    return chain(
        r,
        [h, rt, v],
        [
            ((ws / "capture").is_symlink() and digest(take) == before, "the link or take changed"),
            (same, "tracking differs from the same capture as a plain folder"),
        ],
    )


# --- track-hand -----------------------------------------------------------------------
@case("track-hand", "--method hamer --hand left (a left-handed demo's hamer_depth output)", R2)
def track_hand_hamer_left(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_hand_hamer_left", "synth")
    hamer = hamer_from_gt(fx.synth, ws.parent / "hamer_out", range(30))
    r = h2s2r("track-hand", ws, "--method", "hamer", "--hamer-output", hamer, "--hand", "left")
    if r.rc == 0 and not r.traceback:
        if re.search(r"\bleft hand", r.out):
            return Outcome("GOOD", "hand_track/ records the left hand asked for", [r])
        return Outcome(
            "WEAK", "--hand left silently ignored: hand_track/ written as a right hand", [r]
        )
    return refused(r, r"--hand|left", checks=[(not (ws / "hand_track").exists(), "hand_track/")])


# --- calibrate ------------------------------------------------------------------------
@case("calibrate", "--board with the square and marker sizes swapped", R2)
def calibrate_board_spec_swapped(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_board_spec_swapped", "synth")
    imgs = ws.parent / "board"
    imgs.mkdir()
    shutil.copy(ws / "capture" / "rgb" / "000000.png", imgs / "img00.png")
    r = h2s2r(
        "calibrate",
        ws,
        "--images",
        imgs,
        "--board",
        "charuco:7x5:0.045:0.06:DICT_5X5_100",
        "--board-pose",
        "0.45,-0.15,0,1,0,0,0",
    )
    return refused(r, r"--board", checks=[(not (ws / "calibration").exists(), "calibration/")])


# --- retarget -------------------------------------------------------------------------
@case("retarget", "MENAGERIE_ROOT set to a folder that does not exist (a typo)", R2)
def retarget_menagerie_wrong(fx: Fixtures) -> Outcome:
    ws = fx.ws("retarget_menagerie_wrong", "tracked")
    before = digest(ws / "task")
    env = {**ENV, "MENAGERIE_ROOT": str(ws.parent / "mujoco_menagrie")}
    r = h2s2r("retarget", ws, env=env)
    return refused(
        r,
        r"MENAGERIE_ROOT",
        fix=r"(set|point|unset)\b.{0,60}MENAGERIE_ROOT|MENAGERIE_ROOT.{0,80}\b(checkout|clone|"
        r"unset|point)",
        checks=[(digest(ws / "task") == before, "task/ changed")],
    )


@case("retarget", "--robot iiwa_leap, then train, eval, export, deploy --sim (legitimate)", R2)
def retarget_leap_full(fx: Fixtures) -> Outcome:
    ws = fx.ws("retarget_leap_full", "tracked")
    r = h2s2r("retarget", ws, "--robot", "iiwa_leap")
    more = [h2s2r("train", ws, *TRAIN), h2s2r("eval", ws, *EVAL), h2s2r("export", ws)]
    more.append(h2s2r("deploy", ws, "--sim", "--duration", "2", timeout=180))
    more.append(h2s2r("validate", ws))
    header = ws / "policy" / "policy.json"
    robot = json.loads(header.read_text()).get("robot") if header.is_file() else None
    return chain(r, more, [(robot == "iiwa_leap", f"policy.json robot is {robot!r}")])


# --- train ----------------------------------------------------------------------------
@case("train", "train --recurrent (the documented LSTM policy); export; eval --policy onnx", R2)
def train_recurrent_export(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_recurrent_export", "tracked")
    tr = h2s2r("train", ws, *TRAIN, "--recurrent")
    if tr.rc != 0 or tr.traceback:
        return succeeded(tr)
    ex = h2s2r("export", ws)
    ev = h2s2r("eval", ws, *EVAL, "--policy", "onnx")
    o = succeeded(ex, checks=[(ev.rc == 0, f"eval --policy onnx fails: {ev.first_line}")])
    if o.verdict == "WEAK":
        o.why += ": a recurrent run cannot be exported, so not evaluated as ONNX nor deployed"
    o.runs += [tr, ev]
    return o


@case("train", "--total-steps 10: less than one iteration (8 worlds × 16 steps)", R2)
def train_total_steps_below_iteration(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_total_steps_below_iteration", "tracked")
    r = h2s2r("train", ws, "--num-envs", "8", "--total-steps", "10", *TRAIN[4:])
    if r.rc != 0 or r.traceback:
        return refused(r, r"--total-steps", checks=[(not (ws / "train").exists(), "train/")])
    v = h2s2r("validate", ws)
    o = chain(r, [v])
    if o.verdict == "GOOD" and not re.search(r"\b128 env-steps", r.out + r.err):
        return Outcome("WEAK", "trained another number of steps than asked, silently", o.runs)
    if o.verdict == "GOOD":
        o.why = "one iteration (128 env-steps) trained, and the count is said"
    return o


@case("train", "--config configs/train/large_network.yaml; export; ONNX vs checkpoint eval", R2)
def train_large_network_onnx(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_large_network_onnx", "tracked")
    tr = h2s2r("train", ws, "--config", REPO / "configs" / "train" / "large_network.yaml", *TRAIN)
    ex = h2s2r("export", ws)
    e1 = h2s2r("eval", ws, *EVAL, "--randomization", "none")
    m1 = _metrics(ws / "eval")
    e2 = h2s2r("eval", ws, *EVAL, "--randomization", "none", "--policy", "onnx")
    m2 = _metrics(ws / "eval")
    header = ws / "policy" / "policy.json"
    dims = (
        json.loads(header.read_text())["training_config"].get("hidden_dims")
        if header.is_file()
        else None
    )
    agree = bool(m1 and m2) and (
        m1["success_rate"] == m2["success_rate"]
        and abs(m1["tracking_err_mean_m"] - m2["tracking_err_mean_m"]) < 0.005
    )
    return chain(
        tr,
        [ex, e1, e2],
        [
            (dims == [256, 128, 64], f"the exported network is {dims}, not the config's"),
            (
                agree,
                "ONNX and checkpoint disagree: tracking error "
                f"{m1.get('tracking_err_mean_m')} vs {m2.get('tracking_err_mean_m')}",
            ),
        ],
    )


# --- eval -----------------------------------------------------------------------------
@case("eval", "eval --randomization none, then large (legitimate settings)", R2)
def eval_randomization_none_large(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_randomization_none_large", "trained")
    runs, checks = [], []
    for level in ("none", "large"):
        e = h2s2r("eval", ws, *EVAL, "--randomization", level)
        meta = ws / "eval" / "meta.json"
        got = json.loads(meta.read_text())["config"].get("randomization") if e.rc == 0 else None
        runs.append(e)
        checks.append((got == level, f"eval/meta.json records {got!r}, not {level!r}"))
    return chain(runs[0], runs[1:], checks)


@case("eval", "SIGKILL while eval replaces eval/ (video on); validate; eval again", R2)
def eval_sigkill_reeval(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_sigkill_reeval", "trained")
    first = h2s2r("eval", ws, *EVAL)
    if first.rc != 0:
        return Outcome("BAD", f"the first eval fails: {first.first_line}", [first])
    before = digest(ws / "eval")
    args = ["eval", ws, "--episodes", "4", "--seed", "5"]  # the video: a longer staged write
    t0 = time.perf_counter()
    p = start(args)
    hit = wait_for(lambda: (ws / ".eval.partial").exists(), p, 180)
    _kill_group(p)
    r = finish(p, args, t0)
    if not hit:
        return Outcome("WEAK", "probe could not interrupt it (finished first)", [r])
    after = digest(ws / "eval") if (ws / "eval").is_dir() else "gone"
    val = h2s2r("validate", ws)
    retry = h2s2r("eval", ws, *EVAL)
    val2 = h2s2r("validate", ws)
    checks = [
        (after == before, "eval/ changed or vanished after the kill"),
        (val.rc == 0, f"validate after the kill: {val.first_line}"),
        (retry.rc == 0, f"the re-run fails: {retry.first_line}"),
        (not leftovers(ws), f"left after the re-run: {leftovers(ws)}"),
        (val2.rc == 0, f"validate after the re-run: {val2.first_line}"),
    ]
    return _interrupted(r, checks, [val, retry, val2])


# --- export ---------------------------------------------------------------------------
@case("export", "SIGKILL while export replaces policy/; validate; export again", R2)
def export_sigkill_reexport(fx: Fixtures) -> Outcome:
    ws = fx.ws("export_sigkill_reexport", "trained")
    before = digest(ws / "policy")
    args = ["export", ws]
    t0 = time.perf_counter()
    p = start(args)
    hit = wait_for(lambda: (ws / ".policy.partial").exists(), p, 180)
    _kill_group(p)
    r = finish(p, args, t0)
    if not hit:
        return Outcome("WEAK", "probe could not interrupt it (finished first)", [r])
    after = digest(ws / "policy") if (ws / "policy").is_dir() else "gone"
    val = h2s2r("validate", ws)
    retry = h2s2r("export", ws)
    val2 = h2s2r("validate", ws)
    dp = h2s2r("deploy", ws, "--sim", "--duration", "2", timeout=180)
    checks = [
        (after == before or val.rc == 0, "policy/ damaged by the kill"),
        (val.rc == 0, f"validate after the kill: {val.first_line}"),
        (retry.rc == 0, f"the re-export fails: {retry.first_line}"),
        (not leftovers(ws), f"left after the re-export: {leftovers(ws)}"),
        (val2.rc == 0, f"validate after the re-export: {val2.first_line}"),
        (dp.rc == 0, f"deploy --sim after the re-export: {dp.first_line}"),
    ]
    return _interrupted(r, checks, [val, retry, val2, dp])


# --- deploy ---------------------------------------------------------------------------
@case("deploy", "after a deploy --sim: --robot-config with a misspelt joint (hand/ff_j0)", R2)
def deploy_robot_config_unknown_joint(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_robot_config_unknown_joint", "trained")
    cfg = ws.parent / "my_robot.yaml"
    text = (REPO / "configs" / "deploy" / "iiwa_allegro_ros2_control.yaml").read_text()
    cfg.write_text(text.replace("hand/ffj0", "hand/ff_j0"))
    first = h2s2r("deploy", ws, "--sim", "--duration", "2", timeout=180)  # the sim run before
    if first.rc != 0:
        return Outcome("BAD", f"the first deploy --sim fails: {first.first_line}", [first])
    before = digest(ws / "deploy_log")
    r = h2s2r("deploy", ws, "--sim", "--duration", "2", "--robot-config", cfg, timeout=120)
    after = digest(ws / "deploy_log") if (ws / "deploy_log").is_dir() else "gone"
    tb = [f.name for f in (ws / "deploy_log").glob("*.log") if TRACEBACK in f.read_text()]
    checks = [
        (after == before, "the earlier deploy_log/ was replaced by the refused run's"),
        (not tb, f"nodes were started and crashed: tracebacks in deploy_log/{', '.join(tb)}"),
    ]
    o = refused(r, r"ff_j0", checks=checks)
    o.runs.append(first)
    return o


@case("deploy", "deploy --sim from policy/ task/ object/ only (copied to the robot PC)", R2)
def deploy_without_train(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_without_train")
    for sub in ("policy", "task", "object"):
        Fixtures.copy_fixture(fx.trained / sub, ws / sub)
    r = h2s2r("deploy", ws, "--sim", "--duration", "2", timeout=180)
    m = _metrics(ws / "deploy_log")
    return succeeded(r, checks=[(bool(m), "no deploy_log/metrics.json")])


def _deploy_stopped(fx: Fixtures, name: str, stop: Callable[[subprocess.Popen], None]):
    """Start ``deploy --sim`` for 120 s, ``stop`` it once the loop runs, then look."""
    ws = fx.ws(name, "trained")
    args = ["deploy", ws, "--sim", "--duration", "120"]
    t0 = time.perf_counter()
    p = start(args)
    log = ws / "deploy_log" / "command.log"
    hit = wait_for(lambda: log.is_file() and "activated" in log.read_text(), p, 150)
    time.sleep(2.0)
    stop(p)
    with contextlib.suppress(subprocess.TimeoutExpired):
        p.wait(timeout=60)
    time.sleep(3.0)
    orphans = group_members(p.pid)
    r = finish(p, args, t0)  # kills what is left
    node_tb = []  # "policy.log: RCLError: …": the exception line of a node's traceback
    for f in sorted((ws / "deploy_log").glob("*.log")):
        text = f.read_text(errors="replace")
        if TRACEBACK in text:
            exc = re.findall(r"^[A-Za-z_][\w.]*(?:Error|Exception|Interrupt)\b.*$", text, re.M)
            node_tb.append(f"{f.name}: {exc[-1][:160] if exc else 'traceback'}")
    return ws, hit, r, orphans, node_tb


def _deploy_checks(ws: Path, orphans: list[str], node_tb: list[str]):
    val = h2s2r("validate", ws)
    retry = h2s2r("deploy", ws, "--sim", "--duration", "2", timeout=180)
    checks = [
        (not orphans, f"{len(orphans)} node process(es) still running after h2s2r exited"),
        (not node_tb, f"traceback in deploy_log/{'; '.join(node_tb)}"),
        (val.rc == 0, f"validate after the stop: {val.first_line}"),
        (retry.rc == 0, f"the next deploy fails: {retry.first_line}"),
    ]
    return checks, [val, retry]


@case("deploy", "SIGTERM to `h2s2r deploy --sim` (kill PID, timeout, a supervisor)", R2)
def deploy_sigterm(fx: Fixtures) -> Outcome:
    ws, hit, r, orphans, node_tb = _deploy_stopped(
        fx, "deploy_sigterm", lambda p: p.send_signal(signal.SIGTERM)
    )
    if not hit:
        return Outcome("BAD", "the loop was not running within 150 s", [r])
    checks, more = _deploy_checks(ws, orphans, node_tb)
    o = _interrupted(r, checks, more)
    if orphans:
        o.why += f" ({'; '.join(x.split(' --ros-args')[0] for x in orphans)})"
    return o


@case("deploy", "Ctrl-C (SIGINT to the process group, as a terminal) during deploy --sim", R2)
def deploy_ctrl_c(fx: Fixtures) -> Outcome:
    ws, hit, r, orphans, node_tb = _deploy_stopped(
        fx, "deploy_ctrl_c", lambda p: os.killpg(p.pid, signal.SIGINT)
    )
    if not hit:
        return Outcome("BAD", "the loop was not running within 150 s", [r])
    checks, more = _deploy_checks(ws, orphans, node_tb)
    checks.append((r.rc in (0, 130), f"exit {r.rc} after Ctrl-C: {r.first_line}"))
    nan = re.search(r"deploy_log/:.*\bnan\b", r.out)
    checks.append((not nan, "its summary has nan: a node's log was not written"))
    return _interrupted(r, checks, more)


@case("deploy", "eval, export, deploy --sim in a path with spaces and non-ASCII letters", R2)
def workspace_unicode_downstream(fx: Fixtures) -> Outcome:
    d = fx.ws("workspace_unicode_downstream").parent
    ws = d / "my runs" / "démo ü" / "box (1)"
    ws.parent.mkdir(parents=True)
    Fixtures.copy_fixture(fx.trained, ws)
    ev = h2s2r("eval", ws, *EVAL)
    more = [h2s2r("export", ws), h2s2r("deploy", ws, "--sim", "--duration", "2", timeout=180)]
    more.append(h2s2r("validate", ws))
    return chain(ev, more, [(bool(_metrics(ws / "deploy_log")), "no deploy_log/metrics.json")])


# --- run ------------------------------------------------------------------------------
@case("run", "`h2s2r run` on a freshly imported workspace (capture/ only); its advice", R2)
def run_capture_only(fx: Fixtures) -> Outcome:
    ws = fx.ws("run_capture_only", "imported")
    opts = ["--budget-min", "0.05", "--num-envs", "8", "--episodes", "2"]
    r = h2s2r("run", ws, *opts)
    written = sorted(p.name for p in ws.iterdir() if not p.name.startswith("."))
    o = refused(
        r, r"object", fix=r"track-object", checks=[(written == ["capture"], f"wrote {written}")]
    )
    if "--mesh" in r.message:  # do what it says
        o.runs.append(h2s2r("run", ws, *opts, "--mesh", fx.synth / "object" / "mesh.obj"))
    return o


# --- validate -------------------------------------------------------------------------
@case("validate", "a stray .task.partial/ (left by a kill) beside task/; validate, retarget", R2)
def validate_stray_partial(fx: Fixtures) -> Outcome:
    ws = fx.ws("validate_stray_partial", "tracked")
    shutil.copytree(ws / "task", ws / ".task.partial")
    (ws / ".task.partial" / "meta.json").unlink()
    v = h2s2r("validate", ws)
    rt = h2s2r("retarget", ws)
    v2 = h2s2r("validate", ws)
    return chain(v, [rt, v2], [(not leftovers(ws), f"left after retarget: {leftovers(ws)}")])
