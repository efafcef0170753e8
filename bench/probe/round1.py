"""Round 1 of the bad-input probe (55 cases, found and fixed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import numpy as np
from PIL import Image

from .fixtures import Fixtures, src_copy, write_png
from .run import (
    EVAL,
    FIX,
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


# --- import -------------------------------------------------------------------------
@case("import", "a folder with rgb/ and cam_K.txt but no depth/")
def import_rgb_only(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_rgb_only")
    src = src_copy(fx, ws)
    shutil.rmtree(src / "depth")
    r = h2s2r("import", "--from", src, ws)
    return refused(r, r"depth", checks=[(not (ws / "capture").exists(), "capture/ left behind")])


@case("import", "depth at 320×240 beside 640×480 colour (depth not aligned to colour)")
def import_depth_other_size(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_depth_other_size")
    src = src_copy(fx, ws)
    for p in sorted((src / "depth").glob("*.png")):
        im = Image.open(p)
        im.resize((320, 240), Image.NEAREST).save(p)
    r = h2s2r("import", "--from", src, ws)
    return refused(r, r"depth.*(align|match|size|320)")


@case("import", "two recordings merged: the last 10 frames are 320×240 (rgb and depth)")
def import_mixed_resolution(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_mixed_resolution")
    src = src_copy(fx, ws)
    for i in range(20, 30):
        for sub in ("rgb", "depth"):
            p = src / sub / f"{i:06d}.png"
            Image.open(p).resize((320, 240), Image.NEAREST).save(p)
    r = h2s2r("import", "--from", src, ws)
    ok = not (ws / "capture").exists() and not leftovers(ws.parent)
    return refused(r, r"(000020|frame 20)", checks=[(ok, "capture/ or a partial left behind")])


@case("import", "every depth PNG is all zero (depth stream off); then the retry with depth")
def import_all_zero_depth(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_all_zero_depth")
    src = src_copy(fx, ws, "src_zero")
    for p in sorted((src / "depth").glob("*.png")):
        write_png(p, np.zeros((480, 640), np.uint16))
    r = h2s2r("import", "--from", src, ws)
    retry = h2s2r("import", "--from", fx.src, ws)
    o = refused(r, r"depth")
    return o if retry.rc == 0 else _with(o, retry, "the retry with good depth fails")


def _with(o: Outcome, extra: Run, why: str) -> Outcome:
    """``o`` downgraded to BAD because ``extra`` (a follow-up) failed."""
    return Outcome("BAD", f"{why}: {extra.first_line}", [*o.runs, extra])


@case("import", "cam_K.txt with a zero focal length (fx = 0)")
def import_camk_zero_focal(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_camk_zero_focal")
    src = src_copy(fx, ws)
    K = np.loadtxt(src / "cam_K.txt")
    K[0, 0] = 0.0
    np.savetxt(src / "cam_K.txt", K)
    r = h2s2r("import", "--from", src, ws)
    return refused(r, r"cam_K\.txt")


@case("import", "one colour PNG of the source is 0 bytes (a copy that was interrupted)")
def import_empty_source_png(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_empty_source_png")
    src = src_copy(fx, ws)
    (src / "rgb" / "000007.png").write_bytes(b"")
    r = h2s2r("import", "--from", src, ws)
    ok = not (ws / "capture").exists() and not leftovers(ws.parent)
    return refused(r, r"000007\.png", checks=[(ok, "capture/ or a partial left behind")])


@case("import", "depth exported as a colourised 8-bit RGB image (a viewer's export)")
def import_colourised_depth(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_colourised_depth")
    src = src_copy(fx, ws)
    for p in sorted((src / "depth").glob("*.png")):
        d = np.asarray(Image.open(p)).astype(np.float64)
        v = np.clip(d / 3000 * 255, 0, 255).astype(np.uint8)
        write_png(p, np.stack([v, 255 - v, v // 2], axis=-1))
    r = h2s2r("import", "--from", src, ws)
    return refused(r, r"depth/0{5}\d\.png|0{5}\d\.png")


@case("import", "a RealSense .bag that is truncated (4 kB of a download)")
def import_truncated_bag(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_truncated_bag")
    bag = ws.parent / "take.bag"
    bag.write_bytes(b"#ROSBAG V2.0\n" + np.random.default_rng(0).bytes(4096))
    r = h2s2r("import", "--from", bag, ws)
    return refused(r, r"take\.bag", checks=[(not (ws / "capture").exists(), "capture/ left")])


@case("import", "a ROS 2 bag folder copied half-way: metadata.yaml cut short, empty .db3")
def import_broken_rosbag(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_broken_rosbag")
    bag = ws.parent / "rosbag2_take"
    bag.mkdir()
    (bag / "metadata.yaml").write_text(
        "rosbag2_bagfile_information:\n  version: 5\n  storage_identifier: sqlite3\n  dura"
    )
    (bag / "rosbag2_take_0.db3").write_bytes(b"")
    r = h2s2r("import", "--from", bag, ws)
    return refused(r, r"rosbag2_take")


@case("import", "Ctrl-C (SIGINT) half-way through an import; then the same import again")
def import_sigint_retry(fx: Fixtures) -> Outcome:
    ws = fx.ws("import_sigint_retry")
    src = src_copy(fx, ws)
    for sub in ("rgb", "depth"):  # 90 frames: time to interrupt it
        for i in range(30, 90):
            shutil.copy(src / sub / f"{i % 30:06d}.png", src / sub / f"{i:06d}.png")
    t0 = time.perf_counter()
    args = ["import", "--from", src, ws]
    p = start(args)
    hit = wait_for(lambda: (ws / ".capture.partial" / "rgb" / "000010.png").exists(), p, 120)
    if hit:
        os.killpg(p.pid, signal.SIGINT)
    r = finish(p, args, t0)
    if not hit:
        return Outcome("WEAK", "probe could not interrupt it (finished first)", [r])
    left = leftovers(ws) if ws.exists() else []
    half = (ws / "capture").exists()
    retry = h2s2r(*args)
    val = h2s2r("validate", ws)
    checks = [
        (retry.rc == 0, f"the retry fails: {retry.first_line}"),
        (val.rc == 0 and "(90 frames)" in val.out, "the retried capture is not 90 valid frames"),
        (not half, "a capture/ was left by the interrupted import"),
    ]
    o = _interrupted(r, checks, [retry, val])
    if o.verdict == "GOOD" and left:
        o.why += f" (left {left}, cleaned by the retry)"
    return o


def _interrupted(r: Run, checks, more: list[Run]) -> Outcome:
    """An interruption: no traceback, a clean state after it, the retry works."""
    runs = [r, *more]
    if r.traceback:
        return Outcome("BAD", "traceback on the interruption", runs)
    failed = [what for ok, what in checks if not ok]
    if failed:
        return Outcome("BAD", "; ".join(failed), runs)
    return Outcome("GOOD", "clean state after the interruption; the retry works", runs)


@case("import", "paths with spaces and non-ASCII letters (source and workspace)")
def import_unicode_paths(fx: Fixtures) -> Outcome:
    d = fx.ws("import_unicode_paths").parent
    src = d / "my démo data (ü)"
    shutil.copytree(fx.src, src)
    ws = d / "runs" / "démo ü 1"
    r = h2s2r("import", "--from", src, ws)
    v = h2s2r("validate", ws)
    if r.rc == 0:
        Fixtures.copy_fixture(fx.synth / "object", ws / "object")
    t = h2s2r("track-object", ws, "--no-overlay")
    return succeeded(
        r,
        checks=[
            (v.rc == 0 and "(30 frames)" in v.out, "validate does not find 30 frames"),
            (t.rc == 0, f"track-object then fails: {t.first_line}"),
        ],
    )


@case("import", "the workspace is in a folder that cannot be written (/sys)")
def import_unwritable_dest(fx: Fixtures) -> Outcome:
    if os.getuid() == 0:  # root writes through chmod: /sys refuses even root
        ws = Path("/sys/h2s2r-probe-ws")
    else:
        ro = fx.ws("import_unwritable_dest").parent / "read_only"
        ro.mkdir()
        ro.chmod(0o555)
        ws = ro / "ws"
    r = h2s2r("import", "--from", fx.src, ws)
    return refused(r, re.escape(str(ws.parent)))


# --- capture --------------------------------------------------------------------------
@case("capture", "capture with no RealSense plugged in")
def capture_no_camera(fx: Fixtures) -> Outcome:
    ws = fx.ws("capture_no_camera")
    r = h2s2r("capture", ws, "--seconds", "1", "--countdown", "0", "--no-preview", timeout=90)
    left = sorted(str(p.relative_to(ws)) for p in ws.rglob("*")) if ws.exists() else []
    imp = h2s2r("import", "--from", fx.src, ws)  # the user gives up and imports instead
    o = refused(
        r, r"camera|RealSense", checks=[(imp.rc == 0, f"import then fails: {imp.first_line}")]
    )
    o.runs.append(imp)
    if left:
        o.why += f" (left {left} behind; the import into it works)"
    return o


# --- synth ----------------------------------------------------------------------------
@case("synth", "synth --out onto a workspace that already holds a tracked, retargeted demo")
def synth_over_existing(fx: Fixtures) -> Outcome:
    ws = fx.ws("synth_over_existing", "tracked")
    before = digest(ws / "capture")
    r = h2s2r("synth", "--out", ws, "--frames", "30", "--seed", "5")
    if r.rc == 0:
        v = h2s2r("validate", ws)
        # Overwritten under existing downstream artifacts: they must at least show as stale.
        if v.rc == 0:
            return Outcome("BAD", "capture/ replaced, task/ etc. still validate", [r, v])
        return Outcome("WEAK", "silently replaced capture/ (validate flags the rest)", [r, v])
    return refused(
        r, r"capture|exist|already", checks=[(digest(ws / "capture") == before, "capture/ changed")]
    )


# --- calibrate ------------------------------------------------------------------------
@case("calibrate", "calibrate with a board pose but no --images")
def calibrate_no_images(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_no_images", "synth")
    r = h2s2r("calibrate", ws, "--board-pose", "0.45,-0.15,0,0,1,0,0")
    return refused(r, r"--images", checks=[(not (ws / "calibration").exists(), "calibration/")])


@case("calibrate", "--images of photos with no board in them (the demo's frames)")
def calibrate_no_board_found(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_no_board_found", "synth")
    imgs = ws.parent / "board_photos"
    imgs.mkdir()
    for i in (0, 10, 20):
        shutil.copy(ws / "capture" / "rgb" / f"{i:06d}.png", imgs / f"img{i:02d}.png")
    r = h2s2r("calibrate", ws, "--images", imgs, "--board-pose", "0.45,-0.15,0,0,1,0,0")
    return refused(
        r,
        r"board.*(not found|no board|none of|found in no|not (be )?detected)|no board",
        checks=[(not (ws / "calibration").exists(), "calibration/ written")],
    )


@case("calibrate", "--from-file: a 4×4 camera pose written in millimetres")
def calibrate_from_file_mm(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_from_file_mm", "synth")
    T = np.eye(4)
    T[:3, :3] = [[0, -1, 0], [-1, 0, 0], [0, 0, -1]]
    T[:3, 3] = [450.0, -120.0, 900.0]
    f = ws.parent / "T_base_cam.txt"
    np.savetxt(f, T)
    r = h2s2r("calibrate", ws, "--from-file", f)
    return refused(r, r"T_base_cam\.txt.*(millimet|metres)|(millimet|metres).*T_base_cam\.txt")


@case("calibrate", "calibrate --check before any calibration exists")
def calibrate_check_first(fx: Fixtures) -> Outcome:
    ws = fx.ws("calibrate_check_first", "synth")
    r = h2s2r("calibrate", ws, "--check")
    return refused(r, r"calibration")


# --- track-object ---------------------------------------------------------------------
@case("track-object", "the workspace argument is a file (the .bag itself)")
def track_object_ws_is_file(fx: Fixtures) -> Outcome:
    d = fx.ws("track_object_ws_is_file").parent
    bag = d / "take.bag"
    bag.write_bytes(b"#ROSBAG V2.0\n" + b"\0" * 1000)
    r = h2s2r("track-object", bag)
    return refused(
        r,
        r"take\.bag.*(not a (folder|directory)|is a file|workspace)",
        checks=[(bag.is_file() and bag.stat().st_size == 1013, "the file was changed")],
    )


@case("track-object", "--mesh a 0-byte .obj (an export that failed)")
def track_object_empty_mesh(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_empty_mesh", "synth")
    shutil.rmtree(ws / "object")
    mesh = ws.parent / "mug.obj"
    mesh.write_bytes(b"")
    r = h2s2r("track-object", ws, "--mesh", mesh, "--no-overlay")
    return refused(r, r"mug\.obj", checks=[(not (ws / "object").exists(), "object/ written")])


@case("track-object", "--mesh a PLY point cloud (vertices, no faces: a raw scan)")
def track_object_mesh_no_faces(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_mesh_no_faces", "synth")
    shutil.rmtree(ws / "object")
    pts = np.random.default_rng(0).uniform(-0.05, 0.05, (200, 3))
    mesh = ws.parent / "scan.ply"
    head = f"ply\nformat ascii 1.0\nelement vertex {len(pts)}\n"
    head += "property float x\nproperty float y\nproperty float z\nend_header\n"
    mesh.write_text(head + "\n".join(" ".join(f"{v:.5f}" for v in p) for p in pts) + "\n")
    r = h2s2r("track-object", ws, "--mesh", mesh, "--no-overlay")
    return refused(r, r"scan\.ply", checks=[(not (ws / "object").exists(), "object/ written")])


@case("track-object", "--mesh-scale 0.001 without --mesh (object/ is already in metres)")
def track_object_scale_without_mesh(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_scale_without_mesh", "synth")
    r = h2s2r("track-object", ws, "--mesh-scale", "0.001", "--no-overlay")
    if r.rc == 0 and not r.traceback:
        said = re.search(r"mesh.scale", r.out + r.err, re.I)
        if said:
            return Outcome("GOOD", "works (object/ kept) and says --mesh-scale was ignored", [r])
        return Outcome("WEAK", "--mesh-scale silently ignored (no --mesh)", [r])
    return refused(r, r"--mesh-scale")


@case("track-object", "--roi box partly outside the 640×480 image")
def track_object_roi_outside(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_roi_outside", "synth")
    r = h2s2r("track-object", ws, "--roi", "500,400,800,600", "--no-overlay")
    return refused(r, r"--roi")


@case("track-object", "--masks folder of all-black masks (the segmenter found nothing)")
def track_object_black_masks(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_black_masks", "synth")
    masks = ws.parent / "masks"
    for i in range(30):
        write_png(masks / f"{i:06d}.png", np.zeros((480, 640), np.uint8))
    r = h2s2r("track-object", ws, "--masks", masks, "--no-overlay")
    return refused(r, r"mask", checks=[(not (ws / "object_track").exists(), "object_track/")])


@case("track-object", "--max-points 0 (meaning: no limit)")
def track_object_max_points_zero(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_max_points_zero", "synth")
    r = h2s2r("track-object", ws, "--max-points", "0", "--no-overlay")
    if r.rc == 0 and not r.traceback:
        got = json.loads((ws / "object_track" / "metrics.json").read_text())["valid_fraction"]
        ref = json.loads((fx.tracked / "object_track" / "metrics.json").read_text())
        if got < ref["valid_fraction"] - 0.1:
            return Outcome(
                "WEAK",
                f"accepted; {got:.0%} of frames valid (default {ref['valid_fraction']:.0%}), "
                "no warning",
                [r],
            )
        return Outcome("GOOD", "0 works as no limit", [r])
    return refused(r, r"--max-points|max_points")


@case("track-object", "FoundationPose output with poses for 3 of 30 frames (it crashed)")
def track_object_fp_partial(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_fp_partial", "synth")
    fp = ws.parent / "fp_out" / "ob_in_cam"
    fp.mkdir(parents=True)
    gt = np.load(ws / "ground_truth" / "gt.npz")["T_cam_obj"]
    for i in range(3):
        np.savetxt(fp / f"{i:06d}.txt", gt[i])
    r = h2s2r(
        "track-object", ws, "--method", "foundationpose", "--fp-output", fp.parent, "--no-overlay"
    )
    if r.rc == 0 and not r.traceback:
        said = re.search(r"(missing|no pose|27 |ob_in_cam)", r.out + r.err, re.I)
        if said:
            return Outcome("WEAK", "accepted, with a warning about the missing poses", [r])
        return Outcome("WEAK", "accepted 3/30 poses; only '10% valid' is said", [r])
    return refused(r, r"ob_in_cam|fp_out|missing")


@case("track-object", "SIGKILL while track-object re-writes object_track/; then re-run")
def track_object_sigkill_rerun(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_sigkill_rerun", "tracked")
    before = digest(ws / "object_track")
    args = ["track-object", ws]  # with the overlay: the staged folder lives longer
    t0 = time.perf_counter()
    p = start(args)
    hit = wait_for(lambda: (ws / ".object_track.partial").exists(), p, 180)
    _kill_group(p)
    r = finish(p, args, t0)
    after = digest(ws / "object_track") if (ws / "object_track").is_dir() else "gone"
    val = h2s2r("validate", ws)
    retry = h2s2r("track-object", ws, "--no-overlay")
    val2 = h2s2r("validate", ws)
    checks = [
        (after == before, "object_track/ changed or vanished after the kill"),
        (val.rc == 0, f"validate after the kill: {val.first_line}"),
        (retry.rc == 0, f"the re-run fails: {retry.first_line}"),
        (not leftovers(ws), f"left after the re-run: {leftovers(ws)}"),
        (val2.rc == 0, f"validate after the re-run: {val2.first_line}"),
    ]
    o = _interrupted(r, checks, [val, retry, val2])
    o.why += "" if hit else " (killed before the staged write: tracking was still running)"
    return o


# --- track-hand -----------------------------------------------------------------------
@case("track-hand", "--method ground-truth on an imported (real) capture")
def track_hand_gt_on_real(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_hand_gt_on_real", "imported")
    r = h2s2r("track-hand", ws, "--method", "ground-truth")
    return refused(r, r"ground.truth.*mediapipe|mediapipe.*ground.truth")


@case("track-hand", "hamer output files named frame_00000.json (the tool's other naming)")
def track_hand_hamer_names(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_hand_hamer_names", "synth")
    d = ws.parent / "hamer_out"
    d.mkdir()
    keys = ["wrist_back", "wrist_front", "index_0_back", "index_0_front", "middle_0_back"]
    keys += ["middle_0_front", "ring_0_back", "ring_0_front", "index_3", "middle_3"]
    keys += ["ring_3", "thumb_3"]
    for i in range(30):
        data = {k: [0.01 * j, 0.0, 0.6] for j, k in enumerate(keys)}
        (d / f"frame_{i:05d}.json").write_text(json.dumps(data))
    r = h2s2r("track-hand", ws, "--method", "hamer", "--hamer-output", d)
    return refused(r, r"frame_000\d\d\.json", fix=r"\b0{5}\.json|named|rename|" + FIX)


@case("track-hand", "--model points at an HTML page saved as hand_landmarker.task")
def track_hand_model_html(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_hand_model_html", "synth")
    model = ws.parent / "hand_landmarker.task"
    model.write_text("<!DOCTYPE html><html><head><title>GitHub</title></head></html>\n")
    r = h2s2r("track-hand", ws, "--model", model)
    return refused(
        r, r"hand_landmarker\.task", checks=[(not (ws / "hand_track").exists(), "hand_track/")]
    )


# --- retarget -------------------------------------------------------------------------
@case("retarget", "hand_track/ copied in from another demo (another capture)")
def retarget_foreign_hand_track(fx: Fixtures) -> Outcome:
    ws = fx.ws("retarget_foreign_hand_track", "tracked")
    shutil.rmtree(ws / "hand_track")
    shutil.copytree(fx.synth2 / "hand_track", ws / "hand_track")
    before = digest(ws / "task")
    r = h2s2r("retarget", ws)
    return refused(
        r,
        r"hand_track",
        fix=r"track-hand",
        checks=[(digest(ws / "task") == before, "task/ changed")],
    )


@case("retarget", "ground_truth/gt.npz re-saved by hand with the camera moved 10 cm")
def retarget_edited_ground_truth(fx: Fixtures) -> Outcome:
    ws = fx.ws("retarget_edited_ground_truth", "tracked")
    path = ws / "ground_truth" / "gt.npz"
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    data["T_base_cam"] = data["T_base_cam"].copy()
    data["T_base_cam"][..., 2, 3] += 0.1
    np.savez(path, **data)
    r = h2s2r("retarget", ws)
    return refused(r, r"gt\.npz|ground_truth")


# --- train ----------------------------------------------------------------------------
@case("train", "--num-envs 2.5")
def train_num_envs_float(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_num_envs_float", "tracked")
    r = h2s2r("train", ws, *TRAIN[2:], "--num-envs", "2.5")
    return refused(r, r"--num-envs", checks=[(not (ws / "train").exists(), "train/ created")])


@case("train", "--budget-min -1 (no --total-steps)")
def train_budget_negative(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_budget_negative", "tracked")
    r = h2s2r("train", ws, "--num-envs", "8", "--threads", "1", "--budget-min", "-1")
    return refused(r, r"--budget-min", checks=[(not (ws / "train").exists(), "train/ created")])


@case("train", "--learning-rate 0")
def train_lr_zero(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_lr_zero", "tracked")
    r = h2s2r("train", ws, *TRAIN, "--learning-rate", "0")
    return refused(r, r"--learning-rate", checks=[(not (ws / "train").exists(), "train/")])


@case("train", "--randomization huge")
def train_randomization_unknown(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_randomization_unknown", "tracked")
    r = h2s2r("train", ws, *TRAIN, "--randomization", "huge")
    return refused(
        r,
        r"randomization.*huge|huge.*randomization",
        fix=r"none.*small.*medium.*large|large.*medium",
        checks=[(not (ws / "train").exists(), "train/ created")],
    )


@case("train", "--task track-demo (hyphen for underscore)")
def train_task_typo(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_task_typo", "tracked")
    r = h2s2r("train", ws, *TRAIN, "--task", "track-demo")
    return refused(
        r,
        r"track-demo",
        fix=r"track_demo",
        checks=[(not (ws / "train").exists(), "train/ created")],
    )


@case("train", "--config YAML that is a list of one-key mappings")
def train_yaml_list(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_yaml_list", "tracked")
    cfg = ws.parent / "my_train.yaml"
    cfg.write_text("- num_envs: 8\n- total_steps: 256\n")
    r = h2s2r("train", ws, "--config", cfg)
    return refused(r, r"my_train\.yaml", checks=[(not (ws / "train").exists(), "train/")])


@case("train", "--config YAML written as a scalar: 'num_envs=8 total_steps=256'")
def train_yaml_scalar(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_yaml_scalar", "tracked")
    cfg = ws.parent / "quick.yaml"
    cfg.write_text("num_envs=8 total_steps=256\n")
    r = h2s2r("train", ws, "--config", cfg)
    return refused(r, r"quick\.yaml", checks=[(not (ws / "train").exists(), "train/")])


@case("train", "--resume on the very first run (no train/ yet)")
def train_resume_first_run(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_resume_first_run", "tracked")
    r = h2s2r("train", ws, *TRAIN, "--resume")
    if r.rc == 0 and not r.traceback:
        v = h2s2r("validate", ws)
        return succeeded(r, checks=[(v.rc == 0, "train/ does not validate")], runs=[])
    retry = h2s2r("train", ws, *TRAIN)
    o = refused(r, r"--resume", fix=r"(drop|without|omit|remove) .*--resume|--resume.*(drop|omit)")
    if retry.rc != 0:
        return _with(o, retry, "the retry without --resume fails")
    o.runs.append(retry)
    return o


@case("train", "SIGTERM (kill) during the first training run; eval; then --resume")
def train_sigterm_resume(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_sigterm_resume", "tracked")
    args = ["train", ws, *TRAIN[:2], "--total-steps", "100000", *TRAIN[4:], "--save-every", "1"]
    t0 = time.perf_counter()
    p = start(args)
    hit = wait_for(lambda: (ws / "train" / "model_2.pt").exists(), p, 200)
    os.killpg(p.pid, signal.SIGTERM)
    r = finish(p, args, t0)
    if not hit:
        return Outcome("BAD", "no checkpoint within 200 s", [r])
    ev = h2s2r("eval", ws, *EVAL)
    ev_ok = ev.rc == 0 or (
        not ev.traceback and re.search(r"--resume", ev.err) and "train" in ev.err
    )
    res = h2s2r("train", ws, *TRAIN[:2], "--total-steps", "768", *TRAIN[4:], "--resume")
    ev2 = h2s2r("eval", ws, *EVAL)
    checks = [
        (bool(ev_ok), f"eval after the kill: {ev.first_line or ev.rc}"),
        (res.rc == 0, f"--resume fails: {res.first_line}"),
        (ev2.rc == 0, f"eval after --resume fails: {ev2.first_line}"),
    ]
    return _interrupted(r, checks, [ev, res, ev2])


@case("train", "SIGKILL during a --resume of a finished run; eval, export; --resume again")
def train_sigkill_resumed(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_sigkill_resumed", "trained")
    policy_before = digest(ws / "policy")
    args = ["train", ws, *TRAIN[:2], "--total-steps", "100000", *TRAIN[4:]]
    args += ["--save-every", "1", "--resume"]
    t0 = time.perf_counter()
    p = start(args)
    hit = wait_for(lambda: (ws / "train" / "model_4.pt").exists(), p, 200)
    _kill_group(p)
    r = finish(p, args, t0)
    if not hit:
        return Outcome("BAD", "no new checkpoint within 200 s", [r])
    ev = h2s2r("eval", ws, *EVAL)
    ex = h2s2r("export", ws)
    told = [x for x in (ev, ex) if x.rc == 0 or re.search(r"--resume", x.err)]
    res = h2s2r("train", ws, *TRAIN[:2], "--total-steps", "1024", *TRAIN[4:], "--resume")
    ev2 = h2s2r("eval", ws, *EVAL)
    checks = [
        (not ev.traceback and not ex.traceback, "traceback in eval/export after the kill"),
        (res.rc == 0, f"--resume fails: {res.first_line}"),
        (ev2.rc == 0, f"eval after --resume fails: {ev2.first_line}"),
        (ex.rc == 0 or digest(ws / "policy") == policy_before, "policy/ damaged"),
    ]
    o = _interrupted(r, checks, [ev, ex, res, ev2])
    if o.verdict == "GOOD" and len(told) < 2:
        return Outcome(
            "WEAK", "eval/export after the kill refuse without pointing to --resume", o.runs
        )
    return o


# --- eval -----------------------------------------------------------------------------
@case("eval", "eval a workspace that was never trained (no train/)")
def eval_no_train(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_no_train", "tracked")
    r = h2s2r("eval", ws, *EVAL)
    return refused(r, r"train", checks=[(not (ws / "eval").exists(), "eval/ written")])


@case("eval", "--checkpoint model_999.pt (no such checkpoint)")
def eval_checkpoint_missing(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_checkpoint_missing", "trained")
    r = h2s2r("eval", ws, *EVAL, "--checkpoint", "model_999.pt")
    return refused(r, r"model_999\.pt")


@case("eval", "--checkpoint: the absolute path of another run's checkpoint")
def eval_foreign_checkpoint(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_foreign_checkpoint", "trained")
    other = (fx.other / "train" / "model_1.pt").resolve()
    r = h2s2r("eval", ws, *EVAL, "--checkpoint", other)
    if r.rc == 0 and not r.traceback:
        meta = json.loads((ws / "eval" / "meta.json").read_text())
        used = meta.get("config", {}).get("policy_file")
        return Outcome(
            "BAD",
            f"exit 0: evaluated another run's checkpoint as this run's (policy_file {used!r})",
            [r],
        )
    return refused(r, r"model_1\.pt|/other/train")


@case("eval", "two evals at once on one workspace")
def eval_concurrent(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_concurrent", "trained")
    a1 = ["eval", ws, *EVAL]
    a2 = ["eval", ws, *EVAL, "--seed", "2"]
    t0 = time.perf_counter()
    p1 = start(a1)
    time.sleep(1.0)
    p2 = start(a2)
    r2 = finish(p2, a2, t0)
    r1 = finish(p1, a1, t0)
    v = h2s2r("validate", ws)
    runs = [r1, r2, v]
    if any(x.traceback for x in (r1, r2)):
        return Outcome("BAD", "traceback", runs)
    if v.rc != 0:
        return Outcome("BAD", f"eval/ broken afterwards: {v.first_line}", runs)
    if r1.rc == 0 and r2.rc == 0:
        return Outcome("GOOD", "both ran, one after the other; eval/ valid", runs)
    loser = r2 if r2.rc != 0 else r1
    if (r1.rc == 0) != (r2.rc == 0) and re.search(r"another h2s2r command", loser.err):
        ok = re.search(r"(pid|`h2s2r)", loser.err) and re.search(FIX, loser.err)
        return Outcome(
            "GOOD" if ok else "WEAK", "the second is refused naming the first; eval/ valid", runs
        )
    return Outcome("BAD", "both failed" if r1.rc and r2.rc else "unexplained failure", runs)


@case("eval", "--policy onnx before export (no policy/)")
def eval_onnx_before_export(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_onnx_before_export", "trained")
    shutil.rmtree(ws / "policy")
    r = h2s2r("eval", ws, *EVAL, "--policy", "onnx")
    return refused(r, r"policy", fix=r"export")


# --- export ---------------------------------------------------------------------------
@case("export", "export a workspace that was never trained")
def export_no_train(fx: Fixtures) -> Outcome:
    ws = fx.ws("export_no_train", "tracked")
    r = h2s2r("export", ws)
    return refused(r, r"train", checks=[(not (ws / "policy").exists(), "policy/ written")])


@case("export", "task/task.npz replaced by another .npz (ground_truth's)")
def export_task_npz_replaced(fx: Fixtures) -> Outcome:
    ws = fx.ws("export_task_npz_replaced", "trained")
    before = digest(ws / "policy")
    shutil.copy(ws / "ground_truth" / "gt.npz", ws / "task" / "task.npz")
    r = h2s2r("export", ws)
    return refused(
        r, r"task\.npz|task/", checks=[(digest(ws / "policy") == before, "policy/ changed")]
    )


# --- deploy ---------------------------------------------------------------------------
@case("deploy", "deploy --sim before export (no policy/)")
def deploy_no_policy(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_no_policy", "trained")
    shutil.rmtree(ws / "policy")
    r = h2s2r("deploy", ws, "--sim", "--duration", "5", timeout=120)
    return refused(r, r"policy", fix=r"export")


@case("deploy", "--robot-config a file that does not exist")
def deploy_robot_config_missing(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_robot_config_missing", "trained")
    cfg = ws.parent / "configs" / "deploy" / "iiwa_allegro_lab.yaml"
    r = h2s2r("deploy", ws, "--sim", "--duration", "5", "--robot-config", cfg, timeout=120)
    return refused(r, r"iiwa_allegro_lab\.yaml")


# --- run ------------------------------------------------------------------------------
@case("run", "run --budget-min 0")
def run_budget_zero(fx: Fixtures) -> Outcome:
    ws = fx.ws("run_budget_zero", "synth")
    r = h2s2r("run", ws, "--budget-min", "0", "--num-envs", "8", "--episodes", "2")
    return refused(
        r, r"--budget-min", checks=[(not (ws / "object_track").exists(), "stages ran first")]
    )


@case("run", "run on a tracked real-style demo (no ground_truth/) never calibrated")
def run_no_calibration(fx: Fixtures) -> Outcome:
    # object_track/ and hand_track/ done (run skips them); no calibration/, and no
    # ground_truth/ to take the camera pose from, as with a recorded demo.
    ws = fx.ws("run_no_calibration", "tracked")
    shutil.rmtree(ws / "ground_truth")
    shutil.rmtree(ws / "task")
    r = h2s2r("run", ws, "--budget-min", "0.05", "--num-envs", "8", "--episodes", "2")
    return refused(
        r, r"calibration", fix=r"calibrate", checks=[(not (ws / "task").exists(), "task/")]
    )


# --- validate -------------------------------------------------------------------------
@case("validate", "validate an empty folder")
def validate_empty(fx: Fixtures) -> Outcome:
    ws = fx.ws("validate_empty")
    ws.mkdir()
    r = h2s2r("validate", ws)
    return refused(r, r"/ws\b")


@case("validate", "validate pointed at an artifact folder (ws/capture) instead of ws")
def validate_artifact_folder(fx: Fixtures) -> Outcome:
    ws = fx.ws("validate_artifact_folder", "tracked")
    r = h2s2r("validate", ws / "capture")
    return refused(
        r,
        r"capture",
        fix=r"(parent|\.\./?|the workspace (folder )?(above|that holds)|validate \S*/ws\b)",
    )
