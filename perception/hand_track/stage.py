"""``h2s2r track-hand``: 21 hand keypoints per frame, in the camera frame.

Example::

    h2s2r track-hand runs/box                         # MediaPipe + depth lifting
    h2s2r track-hand runs/box --method ground-truth   # a synthetic demo's own hand
    h2s2r track-hand runs/real --method hamer --hamer-output hamer_out/

Writes ``hand_track/``: ``keypoints.npz`` (``keypoints_cam (N,21,3)``, ``keypoints_px
(N,21,2)``, ``valid (N,)``, ``handedness``, ``present (21,)``), ``metrics.json``,
``timing.json`` (frames/s; not hashed) and ``meta.json``. Frames without a hand, or
without depth under it, are flagged invalid, and so is every hand that fails the
plausibility gate (:mod:`.skeleton`): ``keypoints.npz`` ``quality_gate`` (bits, named in
meta.json ``gate_bits``) with the signals that decided it (``quality_*``, and per frame in
metrics.json as ``frame_NNNNN_*``). MediaPipe's hand is lifted with one skeleton for the
whole video (:func:`.lift.lift_sequence`; docs/hand_size.md).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from h2s2r.core.artifacts import Capture, GroundTruth, HandTrack, Provenance
from h2s2r.core.artifacts.base import staged_folder, write_timing
from h2s2r.core.config import check_options, option
from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import project_points
from h2s2r.perception.hand_track.skeleton import BONES, GATE_BITS
from h2s2r.perception.object_track.smooth import check_smoothing_window, savgol_weights

METHODS = ("mediapipe", "hamer", "ground-truth")
# Plausible wrist-to-middle-knuckle length (MediaPipe keypoints 0 → 9). Anthropometric
# surveys put an adult's palm length (wrist crease to the middle finger's knuckle) at about
# 9–12 cm from small women to large men, and the real hand video in
# shared/data/hand_keypoints measures 8.1–11.1 cm (median 9.7). The bounds are about twice
# as wide either way, so noisy real tracks and small hands pass, while a unit error (×10
# from a depth scale, ×100 centimetres, ×1000 millimetres read as metres) does not.
HAND_SIZE_RANGE_M = (0.04, 0.20)
# hamer_depth's per-frame JSON keys → MediaPipe keypoint index (front/back pairs averaged).
HAMER_KEYS = {
    0: ("wrist_back", "wrist_front"),
    5: ("index_0_back", "index_0_front"),
    9: ("middle_0_back", "middle_0_front"),
    13: ("ring_0_back", "ring_0_front"),
    8: ("index_3",),
    12: ("middle_3",),
    16: ("ring_3",),
    4: ("thumb_3",),
}


@dataclass(frozen=True)
class TrackHandConfig:
    """Options of ``h2s2r track-hand``."""

    method: str = "mediapipe"  # mediapipe | hamer (read hamer_depth JSON) | ground-truth
    model: str = ""  # MediaPipe hand_landmarker.task (else $H2S2R_HAND_MODEL, user cache)
    hand: str = "right"  # which hand to track when several are seen: right | left
    hamer_output: str = ""  # folder of hamer_depth per-frame JSON files (00000.json …)
    min_detection: float = option(0.3, lo=0.0, hi=1.0)  # MediaPipe detection confidence
    # A false detection, or wrong depth under the hand, wants another hand size:
    frame_size_tolerance: float = option(1.33, above=1.0)  # flag a hand size off ×this
    # A frame whose 2D keypoints the video's hand cannot explain is flagged:
    max_reprojection_palm: float = option(0.25, above=0.0)  # reprojection rms / palm px
    # Savitzky–Golay half window over valid runs (frames); 0 = off
    smooth_half_window: int = option(2, lo=0, hi=100)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise H2S2RError(f"--method {self.method!r} is unknown; valid: {', '.join(METHODS)}")
        if self.hand not in ("right", "left"):
            raise H2S2RError(f"--hand must be right or left, got {self.hand!r}")
        check_min_detection(self.min_detection)
        if not self.frame_size_tolerance > 1.0:
            raise H2S2RError(
                f"--frame-size-tolerance must be > 1 (a factor, e.g. 1.33), got "
                f"{self.frame_size_tolerance}"
            )
        if not self.max_reprojection_palm > 0:
            raise H2S2RError(
                f"--max-reprojection-palm must be > 0 (e.g. 0.25), got {self.max_reprojection_palm}"
            )
        check_options(self)


def check_min_detection(value: float) -> None:
    """``--min-detection`` is a confidence in [0, 1]; a percentage (50) is the likely slip.
    Raises ``ValueError`` (a flag or a --config file is named by the caller)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
    if not ok:
        pct = value if isinstance(value, (int, float)) and 1 < value <= 100 else 50
        raise ValueError(
            f"--min-detection must be in [0, 1] (a fraction; {pct:g} % is {pct / 100:g}), "
            f"got {value!r}"
        )


def smooth_keypoints(kp: np.ndarray, valid: np.ndarray, half_window: int) -> np.ndarray:
    """Centred Savitzky–Golay (quadratic) smoothing of each coordinate over valid runs."""
    out = kp.copy()
    n = len(kp)
    for i in np.nonzero(valid)[0]:
        k = half_window
        while k > 0 and (i - k < 0 or i + k >= n or not valid[i - k : i + k + 1].all()):
            k -= 1
        if k >= 2:
            out[i] = np.tensordot(savgol_weights(k, 2), kp[i - k : i + k + 1], axes=1)
    return out


def _mediapipe(cap: Capture, cfg: TrackHandConfig, progress):
    """MediaPipe per frame, the scale-free gate on its 3D shape, then one skeleton for the
    whole video lifted with the depth (:func:`lift.lift_sequence`) and the gates that need
    the depth. Returns the usual tuple plus the per-frame quality signals."""
    from h2s2r.perception.hand_track.lift import keypoint_depths, lift_sequence
    from h2s2r.perception.hand_track.mediapipe_hand import HandDetector, resolve_model
    from h2s2r.perception.hand_track.skeleton import (
        GATE_BITS,
        HAND_LENGTH_RANGE_M,
        NOMINAL_RATIO,
        PALM,
        hand_length,
        shape_gate,
        size_gate,
    )

    model = resolve_model(cfg.model or None)
    n = cap.num_frames
    px = np.full((n, 21, 2), np.nan)
    world = np.full((n, 21, 3), np.nan)
    score = np.full(n, np.nan)
    gate = np.zeros(n, dtype=np.int64)
    detected = np.zeros(n, dtype=bool)
    seen = {"right": 0, "left": 0}
    # The largest adult wrist-to-middle-knuckle length (the hand-length range's top over the
    # palm's usual share of it), with 20 % for depth noise: a 2D hand whose wrist-to-knuckle
    # span, back-projected at its measured depth, is longer cannot be a hand (projection
    # only shortens).
    max_palm_m = 1.2 * HAND_LENGTH_RANGE_M[1] / hand_length(NOMINAL_RATIO)
    with HandDetector(model, min_detection=cfg.min_detection) as det:
        for i in range(n):
            hands = det.detect(cap.read_rgb(i), round(i * 1000 / cap.fps))
            for h in hands:
                seen[h.handedness] += 1
            pick = [h for h in hands if h.handedness == cfg.hand]
            if not pick:
                gate[i] |= GATE_BITS["no_hand"]
            else:
                h = max(pick, key=lambda x: x.score)
                detected[i] = True
                px[i], world[i], score[i] = h.px, h.world, h.score
                gate[i] |= shape_gate(h.world, cfg.hand)[0]
                d = keypoint_depths(cap.read_depth_m(i), h.px)
                if (d > 0).any():
                    z = float(np.median(d[d > 0]))
                    if np.linalg.norm(h.px[9] - h.px[0]) * z / cap.K[0, 0] > max_palm_m:
                        gate[i] |= GATE_BITS["size_2d"]
            if progress:
                progress(i + 1, n)
    if not detected.any():
        other = "left" if cfg.hand == "right" else "right"
        if seen[other]:
            raise H2S2RError(
                f"only a {other} hand was seen ({seen[other]} frames); the robot needs a "
                f"{cfg.hand} hand — record the demo with the {cfg.hand} hand (h2s2r does not "
                f"mirror a hand), or pass --hand {other} for a {other}-handed robot"
            )
        raise H2S2RError(
            f"no hand found in any of the {n} frames of {cap.root}: check that "
            "the hand is in view and lit, or lower --min-detection"
        )
    shape_ok = detected & (gate == 0)
    depths = [lambda i=i: cap.read_depth_m(i) for i in range(n)]
    lifted = lift_sequence(px, world, depths, cap.K, shape_ok if shape_ok.any() else detected)
    kp = lifted.keypoints_cam
    bones = lifted.bone_lengths_m
    gate[detected & ~lifted.lifted & (gate == 0)] |= GATE_BITS["no_depth"]
    ratio = lifted.frame_scale_ratio
    tol = cfg.frame_size_tolerance
    gate[lifted.lifted & ~((ratio >= 1 / tol) & (ratio <= tol))] |= GATE_BITS["frame_size"]
    gate[lifted.lifted & (lifted.depth_inliers < 3)] |= GATE_BITS["depth_outliers"]
    # The fitted hand must explain the 2D keypoints: rms within a quarter of its palm's
    # length in the image (MediaPipe's 2D and 3D landmarks disagree by a few pixels).
    z_wrist = np.where(lifted.lifted, kp[:, 0, 2], np.nan)
    palm_px = bones[PALM] * cap.K[0, 0] / z_wrist
    with np.errstate(invalid="ignore"):
        bad_fit = lifted.reproj_rms_px > cfg.max_reprojection_palm * palm_px
    gate[lifted.lifted & bad_fit] |= GATE_BITS["reprojection"]
    if lifted.lifted.any():
        gate[lifted.lifted] |= size_gate(bones)[0]
    valid = lifted.lifted & (gate == 0)
    kp[~valid] = np.nan
    if not valid.any() and not lifted.lifted.any():
        raise H2S2RError(
            f"a hand was found in {int(detected.sum())} frames but none had depth "
            "under it: check depth alignment and range (capture/depth)"
        )
    metrics = {
        "detected_fraction": float(detected.mean()),
        "no_depth_frames": int(((gate & GATE_BITS["no_depth"]) > 0).sum()),
        "hand_length_m": hand_length(bones),
        "size_fit_frames": lifted.fit_frames,
    }
    quality = {
        "gate": gate,
        "mediapipe_score": score,
        "reproj_rms_px": lifted.reproj_rms_px,
        "depth_inliers": lifted.depth_inliers.astype(np.int64),
        "frame_size_ratio": ratio,
    }
    return kp, px, valid, np.ones(21, dtype=bool), metrics, quality, bones, lifted.lifted


def _hamer(cap: Capture, cfg: TrackHandConfig):
    folder = Path(cfg.hamer_output)
    if not cfg.hamer_output or not folder.is_dir():
        raise H2S2RError(
            "--method hamer needs --hamer-output DIR: the folder of per-frame "
            "JSON files written by the hamer_depth tool (HaMeR needs a GPU and "
            "the MANO model; h2s2r only reads its output)"
        )
    n = cap.num_frames
    kp = np.full((n, 21, 3), np.nan)
    valid = np.zeros(n, dtype=bool)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise H2S2RError(f"{folder}: holds no per-frame JSON files (00000.json …)")
    for f in files:
        if not f.stem.isdigit():
            raise H2S2RError(
                f"{f}: hamer_depth files are named by frame index (00000.json, 00001.json …); "
                "rename them, or point --hamer-output at the folder hamer_depth wrote"
            )
        i = int(f.stem)
        try:
            data = json.loads(f.read_text())
        except (ValueError, json.JSONDecodeError) as e:
            raise H2S2RError(f"{f}: not a hamer_depth frame file ({e})") from e
        if not 0 <= i < n:
            raise H2S2RError(f"{f}: frame {i} is outside the capture's 0..{n - 1}")
        try:
            for k, keys in HAMER_KEYS.items():
                kp[i, k] = np.mean([np.asarray(data[key], dtype=float) for key in keys], axis=0)
        except KeyError as e:
            expected = sorted({x for ks in HAMER_KEYS.values() for x in ks})
            raise H2S2RError(f"{f}: lacks key {e} (hamer_depth writes {expected})") from e
        valid[i] = bool(np.all(np.isfinite(kp[i, list(HAMER_KEYS)])))
    present = np.zeros(21, dtype=bool)
    present[list(HAMER_KEYS)] = True
    px = np.full((n, 21, 2), np.nan)
    px[:, present] = project_points(
        cap.K, np.where(np.isfinite(kp[:, present]), kp[:, present], 1.0)
    )
    px[~valid] = np.nan
    return kp, px, valid, present, {}


MIN_CAMERA_KEYPOINTS = 3  # keypoints on the image, with depth, agreeing: as lift's


def camera_gate(
    kp: np.ndarray, valid: np.ndarray, present: np.ndarray, cap: Capture
) -> tuple[np.ndarray, np.ndarray]:
    """Imported 3D keypoints (camera frame, metres) against the camera: a frame fails
    (``GATE_BITS``) with a keypoint at z <= 0 (``behind_camera``), with fewer than
    ``MIN_CAMERA_KEYPOINTS`` projecting into the image (``off_image``) or measured there
    (``no_depth``), or with fewer agreeing with the depth image at their pixels
    (``depth_mismatch``, :func:`lift.depth_agrees`, as MediaPipe's lifted hand is judged).

    Returns the per-frame gate codes (0 where passed or not ``valid``) and the median
    ratio of keypoint depth to measured depth (NaN where not measured; 1000 is
    millimetres, a far-off ratio another capture or depth scale)."""
    from h2s2r.perception.hand_track.lift import depth_agrees, keypoint_depths

    n = len(valid)
    gate = np.zeros(n, dtype=np.int64)
    ratio = np.full(n, np.nan)
    for i in np.flatnonzero(valid):
        P = kp[i, present]
        if not np.all(P[:, 2] > 0):
            gate[i] = GATE_BITS["behind_camera"]
            continue
        uv = project_points(cap.K, P)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < cap.width) & (uv[:, 1] >= 0)
        inside &= uv[:, 1] < cap.height
        if inside.sum() < MIN_CAMERA_KEYPOINTS:
            gate[i] = GATE_BITS["off_image"]
            continue
        d = keypoint_depths(cap.read_depth_m(i), uv)
        if (d > 0).sum() < MIN_CAMERA_KEYPOINTS:
            gate[i] = GATE_BITS["no_depth"]
            continue
        ratio[i] = float(np.median(P[d > 0, 2] / d[d > 0]))
        if depth_agrees(P[:, 2], d).sum() < MIN_CAMERA_KEYPOINTS:
            gate[i] = GATE_BITS["depth_mismatch"]
    return gate, ratio


# OpenGL's camera (x right, y up, looking down -z) to OpenCV's (x right, y down, z forward).
OPENGL_TO_OPENCV = np.array([1.0, -1.0, -1.0])


def refuse_off_camera_import(
    kp: np.ndarray,
    valid: np.ndarray,
    present: np.ndarray,
    gate: np.ndarray,
    ratio: np.ndarray,
    cap: Capture,
    cfg: TrackHandConfig,
    ws: Path,
) -> None:
    """Refuse imported keypoints when fewer than half of the frames that have them pass
    :func:`camera_gate`, naming ``--hamer-output`` and the likely cause: OpenGL camera
    axes (said when the keypoints with y and z negated pass), another unit (a hand size
    far off: :func:`check_hand_size`'s message; or a depth ratio far from 1), or keypoints
    for another capture."""
    imported = int(valid.sum())
    passed = int((valid & (gate == 0)).sum())
    if not imported or passed >= imported / 2:
        return
    check_hand_size(np.linalg.norm(kp[valid, 9] - kp[valid, 0], axis=1), cfg, ws)
    counts = ", ".join(
        f"{name} {int(((gate[valid] & bit) > 0).sum())}"
        for name, bit in GATE_BITS.items()
        if ((gate[valid] & bit) > 0).any()
    )
    head = (
        f"--hamer-output {cfg.hamer_output}: the keypoints of only {passed} of {imported} "
        f"frames lie in front of the camera, on the image and at the depth measured there "
        f"(frames per reason: {counts})"
    )
    flipped, _ = camera_gate(kp * OPENGL_TO_OPENCV, valid, present, cap)
    if int((valid & (flipped == 0)).sum()) >= imported / 2:
        raise H2S2RError(
            f"{head}, but with y and z negated {int((valid & (flipped == 0)).sum())} do: they "
            "are in OpenGL camera axes (x right, y up, z backwards) — negate y and z of every "
            "keypoint (to OpenCV's x right, y down, z forward: what hamer_depth writes and "
            "h2s2r reads) and run track-hand again"
        )
    r = float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else float("nan")
    unit = (
        f"; the keypoints lie {r:.3g}× as far as the depth says: another unit than metres, "
        "or another depth scale than capture/'s"
        if np.isfinite(r) and not 0.5 < r < 2
        else ""
    )
    raise H2S2RError(
        f"{head}{unit} — check the keypoints' axes (OpenCV's x right, y down, z forward; "
        "from OpenGL's y up, z backwards negate y and z) and unit (metres), and that "
        f"hamer_depth ran on this capture ({ws / 'capture'})"
    )


def check_hand_size(bone_m: np.ndarray, cfg: TrackHandConfig, ws: Path) -> None:
    """Refuse a hand whose median wrist-to-middle-knuckle length (``bone_m``, metres, one
    per valid frame) is far outside an adult's (:data:`HAND_SIZE_RANGE_M`): the keypoints
    are in the wrong unit, and retarget would otherwise blame the calibration."""
    if not len(bone_m):
        return
    size = float(np.median(bone_m))
    lo, hi = HAND_SIZE_RANGE_M
    if lo <= size <= hi:
        return
    what = "large" if size > hi else "small"
    got = (
        f"wrist to middle knuckle {size * 100:.1f} cm (median of {len(bone_m)} frames), "
        f"not a human hand's {lo * 100:.0f}–{hi * 100:.0f} cm"
    )
    if cfg.method == "hamer":
        unit = "millimetres or centimetres" if size > hi else "another unit"
        raise H2S2RError(
            f"{cfg.hamer_output}: the hamer_depth keypoints give a hand far too {what}: "
            f"{got} — the JSON is likely in {unit}, not metres (hamer_depth writes metres): "
            "convert it back to metres, or re-run hamer_depth with the right depth scale"
        )
    if cfg.method == "ground-truth":
        raise H2S2RError(
            f"--method ground-truth: {ws / 'ground_truth'} holds a hand far too {what}: "
            f"{got} — its keypoints are likely not in metres; re-run `h2s2r synth`"
        )
    raise H2S2RError(
        f"--method mediapipe on {ws / 'capture'}: the hand lifted with the depth is far too "
        f"{what}: {got} — the depth is likely in the wrong unit (millimetres read as "
        f"metres, or a wrong depth scale): check depth_scale_m in "
        f"{ws / 'capture' / 'meta.json'} and re-import with the right --depth-scale"
    )


def _gate_keypoints(kp, valid, handedness, present) -> np.ndarray:
    """The gate on keypoints given in metres (ground truth, hamer_depth): shape and size."""
    from h2s2r.perception.hand_track.skeleton import GATE_BITS, keypoint_gate

    gate = np.where(valid, 0, GATE_BITS["no_hand"]).astype(np.int64)
    for i in np.nonzero(valid)[0]:
        gate[i] |= keypoint_gate(kp[i], handedness, present)[0]
    return gate


def _refuse_all_gated(valid, gate, palm_m, cfg, ws: Path, bones) -> None:
    """Every frame with a hand failed the gate: one line with the reasons and the fix.
    ``palm_m``: the gated hands' wrist-to-middle-knuckle lengths (or None)."""
    from h2s2r.perception.hand_track.skeleton import GATE_BITS, hand_length

    if valid.any():
        return
    found = (gate & GATE_BITS["no_hand"]) == 0
    if palm_m is not None and len(palm_m):
        # A size far off (a unit error) gets check_hand_size's message naming the unit.
        check_hand_size(palm_m, cfg, ws)
    counts = {
        name: int(((gate[found] & bit) > 0).sum())
        for name, bit in GATE_BITS.items()
        if ((gate[found] & bit) > 0).any()
    }
    size = (
        f"; the fitted hand length is {hand_length(bones) * 100:.1f} cm"
        if bones is not None
        else ""
    )
    raise H2S2RError(
        f"--method {cfg.method} on {ws / 'capture'}: a hand was found in {int(found.sum())} "
        f"frames but none is a plausible human hand (frames per reason: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f"{size}): "
        + (
            "check the depth's unit and alignment (capture/meta.json), record the whole "
            "hand in view, or loosen --frame-size-tolerance / --max-reprojection-palm"
            if cfg.method == "mediapipe"
            else "check the keypoints' unit (metres) and joint order (MediaPipe's)"
        )
    )


def _gate_metrics(kp, valid, quality, bones) -> dict[str, float]:
    """metrics.json: the gate's counts, the video's bones, and each frame's signals
    (``frame_NNNNN_<signal>``; ``gate`` is the bit code, 0 = passed, names in meta.json)."""
    from h2s2r.perception.hand_track.skeleton import BONES, GATE_BITS, bone_lengths

    gate = np.asarray(quality["gate"])
    out: dict[str, float] = {
        f"gate_{name}_frames": int(((gate & bit) > 0).sum()) for name, bit in GATE_BITS.items()
    }
    if valid.any():
        measured = bone_lengths(kp[valid])
        out["bone_length_spread_m"] = float((measured.max(axis=0) - measured.min(axis=0)).max())
    if bones is not None:
        for (p, c), ell in zip(BONES, bones, strict=True):
            out[f"bone_{p}_{c}_m"] = float(ell)
    for i in range(len(gate)):
        out[f"frame_{i:05d}_gate"] = int(gate[i])
        for k, v in quality.items():
            if k != "gate" and np.isfinite(v[i]):
                out[f"frame_{i:05d}_{k}"] = float(v[i])
    return out


def run_track_hand(
    ws: str | Path, cfg: TrackHandConfig = TrackHandConfig(), progress=None
) -> HandTrack:
    ws = Path(ws)
    cap = Capture.load(ws / "capture")
    check_smoothing_window(cfg.smooth_half_window, cap.fps, warn_s=0.5)
    upstream = [ws / "capture" / "meta.json"]
    t0 = time.perf_counter()
    if cfg.method == "ground-truth":
        if not (ws / "ground_truth").is_dir():
            raise H2S2RError(
                f"--method ground-truth needs {ws / 'ground_truth'} (only "
                "`h2s2r synth` writes it); use --method mediapipe"
            )
        gt = GroundTruth.load(ws / "ground_truth")
        kp = gt.hand_keypoints_cam.copy()
        px = project_points(cap.K, kp)
        valid, present, metrics = np.ones(len(kp), dtype=bool), np.ones(21, dtype=bool), {}
        handedness = gt.handedness
        if cfg.hand != handedness:
            print(
                f"note: --hand {cfg.hand} ignored: the synthetic demo's one hand (ground_truth/) "
                f"is a {handedness} hand, tracked as such",
                file=sys.stderr,
            )
        upstream.append(ws / "ground_truth" / "meta.json")
    elif cfg.method == "hamer":
        if cfg.hand != "right":
            raise H2S2RError(
                f"--hand {cfg.hand}: hamer_depth fits the right MANO hand only; track a left "
                "hand with --method mediapipe --hand left"
            )
        kp, px, valid, present, metrics = _hamer(cap, cfg)
        handedness = "right"  # hamer_depth fits the right MANO hand
    bones = None
    if cfg.method == "mediapipe":
        kp, px, valid, present, metrics, quality, bones, lifted = _mediapipe(cap, cfg, progress)
        handedness = cfg.hand
        # The one size of the video (every lifted frame has it), for the unit check.
        palm_m = np.array([bones[BONES.index((0, 9))]]) if lifted.any() else None
    else:
        quality, lifted = {"gate": _gate_keypoints(kp, valid, handedness, present)}, valid.copy()
        if cfg.method == "hamer":  # imported: are they in this camera's frame and depth?
            cam, quality["depth_ratio"] = camera_gate(kp, valid, present, cap)
            refuse_off_camera_import(kp, valid, present, cam, quality["depth_ratio"], cap, cfg, ws)
            quality["gate"] |= cam
        palm_m = np.linalg.norm(kp[valid, 9] - kp[valid, 0], axis=1)
        gated = valid & (quality["gate"] != 0)
        kp[gated], px[gated] = np.nan, np.nan
        valid = valid & ~gated
    elapsed = time.perf_counter() - t0
    if cfg.smooth_half_window > 0 and cfg.method != "ground-truth":
        kp = smooth_keypoints(kp, valid, cfg.smooth_half_window)
    if bones is not None:  # smoothing moves joints: back onto the video's one skeleton
        from h2s2r.perception.hand_track.skeleton import rebuild

        for i in np.nonzero(valid)[0]:
            kp[i] = rebuild(kp[i], bones)
    _refuse_all_gated(valid, quality["gate"], palm_m, cfg, ws, bones)
    bone = np.linalg.norm(kp[valid, 9] - kp[valid, 0], axis=1)
    check_hand_size(bone, cfg, ws)  # before hand_track/ is replaced
    metrics.update(_gate_metrics(kp, valid, quality, bones))
    metrics.update(
        valid_fraction=float(valid.mean()),
        num_frames=cap.num_frames,
        wrist_to_middle_mcp_m=float(np.median(bone)) if len(bone) else 0.0,
    )
    if (ws / "ground_truth").is_dir() and cfg.method != "ground-truth":
        gt = GroundTruth.load(ws / "ground_truth")
        err = np.linalg.norm(
            kp[valid][:, present] - gt.hand_keypoints_cam[valid][:, present], axis=-1
        )
        metrics.update(
            keypoint_err_mean_m=float(err.mean()),
            keypoint_err_p95_m=float(np.percentile(err, 95)),
            wrist_err_mean_m=float(err[:, 0].mean()),
        )
        upstream.append(ws / "ground_truth" / "meta.json")
    art = HandTrack(
        keypoints_cam=kp,
        keypoints_px=px,
        valid=valid,
        handedness=handedness,
        method=cfg.method,
        present=present,
        metrics=metrics,
        provenance=Provenance.of_files(ws, upstream, config=asdict(cfg)),
        quality=quality,
        gate_bits=GATE_BITS,
    )
    with staged_folder(ws / "hand_track") as out:
        art.save(out)
        write_timing(out, {"fps": cap.num_frames / max(elapsed, 1e-9)})
    return art
