"""The FoundationPose seam: read its per-frame poses into the ``object_track/`` artifact.

FoundationPose (NVlabs) needs an NVIDIA GPU, CUDA extensions and its trained weights, none
of which this package installs. Run it yourself on the capture (the official
Human2Sim2Robot pipeline does: ``run_demo.py`` with ``--test_scene_dir`` pointing at a
folder with ``rgb/``, ``depth/``, ``masks/``, ``cam_K.txt`` — the layout of ``capture/``),
then import its ``ob_in_cam/`` folder: one whitespace-separated 4×4 ``T_cam_obj`` per
frame, named like the frames (``000000.txt``), translation in metres.

Imported poses pass the built-in tracker's per-frame checks (:func:`check_imported_poses`:
depth agreement and measured fraction of the posed mesh's visible surface; a frame that
fails is invalid, with its gate code, never kept) before the stage's mesh-size check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from h2s2r.core.artifacts.base import require_pose_in_metres
from h2s2r.core.errors import H2S2RError
from h2s2r.perception.object_track.model import ObjectModel
from h2s2r.perception.object_track.tracker import (
    GATE_BITS,
    TrackerConfig,
    depth_signals,
    fit_gate,
)

# An imported pose whose visible model surface is measured at fewer of the model's ~400
# coarse samples cannot be judged (agreement of 2 samples is chance): few_points. Ground
# truth poses of the synthetic demos measure 122–148; a tracked frame passing
# --min-seen-fraction 0.15 about 20 or more.
MIN_MEASURED_SAMPLES = 15

FIX = (
    "FoundationPose runs outside h2s2r (it needs an NVIDIA GPU and its weights): run it on "
    "capture/ and pass its output folder with --fp-output DIR (it must hold ob_in_cam/)"
)


def pose_folder(folder: str | Path) -> Path:
    """The folder of pose files: ``DIR/ob_in_cam/``, or ``DIR`` itself without one."""
    folder = Path(folder)
    return folder / "ob_in_cam" if (folder / "ob_in_cam").is_dir() else folder


def read_ob_in_cam(folder: str | Path, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Poses ``(N, 4, 4)`` and validity ``(N,)``; frames without a file are invalid.

    Raises on a malformed matrix (naming the file) and on translations that look like
    millimetres.
    """
    folder = Path(folder)
    d = pose_folder(folder)
    if not d.is_dir():
        raise H2S2RError(f"{folder}: no ob_in_cam/ folder — {FIX}")
    files = sorted(d.glob("*.txt"))
    if not files:
        raise H2S2RError(f"{d}: holds no pose files (000000.txt …) — {FIX}")
    T = np.full((num_frames, 4, 4), np.nan)
    valid = np.zeros(num_frames, dtype=bool)
    for f in files:
        try:
            i = int(f.stem)
        except ValueError:
            raise H2S2RError(f"{f}: pose files must be named by frame index (000000.txt)") from None
        if not 0 <= i < num_frames:
            raise H2S2RError(f"{f}: frame {i} is outside the capture's 0..{num_frames - 1}")
        try:
            M = np.loadtxt(f, dtype=np.float64).reshape(4, 4)
        except ValueError as e:
            raise H2S2RError(f"{f}: not a 4×4 matrix of numbers ({e})") from e
        if not np.all(np.isfinite(M)):
            continue  # FoundationPose lost the object in this frame
        T[i], valid[i] = require_pose_in_metres(M, f), True
    # A frame without a file counts as lost; poses that stop before the last frame, or
    # cover less than half of them, are a run that stopped early, not a track.
    have = {int(f.stem) for f in files}
    if num_frames - 1 not in have or len(have) < num_frames / 2:
        first = next(i for i in range(num_frames) if i not in have)
        raise H2S2RError(
            f"{d}: has poses for {len(have)} of {num_frames} frames ({first:06d}.txt is the "
            "first missing): did FoundationPose stop early? Run it on every frame"
        )
    return T, valid


def _gate(cfg: TrackerConfig, agree: float, seen: float, measured: int) -> int:
    few = GATE_BITS["few_points"] if measured < MIN_MEASURED_SAMPLES else 0
    return few | fit_gate(cfg, agree, seen)


def check_imported_poses(
    T_cam_obj: np.ndarray,
    valid: np.ndarray,
    read_depth: Callable[[int], np.ndarray],
    K: np.ndarray,
    model: ObjectModel,
    cfg: TrackerConfig,
    folder: str | Path,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Score each imported pose as the tracker scores its frames: depth agreement of the
    posed model's visible surface (``--min-agreement``) and its measured fraction
    (``--min-seen-fraction``), with at least ``MIN_MEASURED_SAMPLES`` of it measured
    (``few_points``); ICP RMS and the jump from a prediction do not apply.

    Returns the poses (NaN where invalid), validity and the per-frame ``quality`` arrays
    (``gate``: ``GATE_BITS``; ``no_pose`` where the file is missing or not finite).
    Raises when fewer than half of the imported poses pass, naming ``ob_in_cam/`` and the
    likely cause: poses written inverted (``T_obj_cam``; checked: do their inverses
    pass?) or another mesh, mesh scale or capture.
    """
    n = len(valid)
    q = {
        k: np.full(n, np.nan)
        for k in ("agreement", "seen_fraction", "rmse_m", "fitness", "jump_m", "gate")
    }
    q["gate"][:] = np.where(valid, 0, GATE_BITS["no_pose"])
    out_T, out_valid = np.array(T_cam_obj, dtype=np.float64), np.array(valid, dtype=bool)
    inverse_ok = 0
    for i in np.flatnonzero(valid):
        depth = read_depth(i)
        if not np.any(depth > 0):
            q["gate"][i] = GATE_BITS["no_depth"]
        else:
            agree, seen, measured = depth_signals(model, T_cam_obj[i], depth, K)
            q["agreement"][i], q["seen_fraction"][i] = agree, seen
            q["gate"][i] = _gate(cfg, agree, seen, measured)
            if q["gate"][i]:
                inv = np.linalg.inv(T_cam_obj[i])
                inverse_ok += _gate(cfg, *depth_signals(model, inv, depth, K)) == 0
        if q["gate"][i]:
            out_valid[i] = False
            out_T[i] = np.nan
    imported = int(valid.sum())
    passed = int(out_valid.sum())
    if passed >= imported / 2:
        return out_T, out_valid, q
    d = pose_folder(folder)
    med_a = float(np.nanmedian(q["agreement"])) if np.isfinite(q["agreement"]).any() else 0.0
    med_s = (
        float(np.nanmedian(q["seen_fraction"])) if np.isfinite(q["seen_fraction"]).any() else 0.0
    )
    head = (
        f"{d}/: only {passed} of the {imported} imported poses match the depth images "
        f"(median depth agreement {med_a:.2f}, needs ≥ {cfg.min_agreement:g}; measured "
        f"fraction {med_s:.2f}, needs ≥ {cfg.min_seen_fraction:g})"
    )
    if inverse_ok >= imported / 2:
        raise H2S2RError(
            f"{head}, but their inverses match in {inverse_ok} of {imported}: the "
            "files hold T_obj_cam (the camera in the object frame), not T_cam_obj (the "
            "object in the camera frame, what ob_in_cam/ means) — invert each 4×4 matrix "
            "(numpy.linalg.inv) and import again"
        )
    raise H2S2RError(
        f"{head}; their inverses (T_obj_cam instead of T_cam_obj) do not match either "
        f"({inverse_ok} of {imported}) — was FoundationPose run with another mesh or mesh "
        "units than object/ (its poses are for the mesh it was given), or on another "
        "capture? Run it on this capture/ with object/'s mesh (in metres), or track with "
        "--method icp"
    )
