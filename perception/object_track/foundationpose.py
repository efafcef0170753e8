"""The FoundationPose seam: read its per-frame poses into the ``object_track/`` artifact.

FoundationPose (NVlabs) needs an NVIDIA GPU, CUDA extensions and its trained weights, none
of which this package installs. Run it yourself on the capture (the official
Human2Sim2Robot pipeline does: ``run_demo.py`` with ``--test_scene_dir`` pointing at a
folder with ``rgb/``, ``depth/``, ``masks/``, ``cam_K.txt`` — the layout of ``capture/``),
then import its ``ob_in_cam/`` folder: one whitespace-separated 4×4 ``T_cam_obj`` per
frame, named like the frames (``000000.txt``), translation in metres.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from h2s2r.core.artifacts.base import require_pose_in_metres
from h2s2r.core.errors import H2S2RError

FIX = (
    "FoundationPose runs outside h2s2r (it needs an NVIDIA GPU and its weights): run it on "
    "capture/ and pass its output folder with --fp-output DIR (it must hold ob_in_cam/)"
)


def read_ob_in_cam(folder: str | Path, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Poses ``(N, 4, 4)`` and validity ``(N,)``; frames without a file are invalid.

    Raises on a malformed matrix (naming the file) and on translations that look like
    millimetres.
    """
    folder = Path(folder)
    d = folder / "ob_in_cam" if (folder / "ob_in_cam").is_dir() else folder
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
