"""Benchmark of the hand's one size per video (``track-hand``'s lifting) and its gate.

1. Rendered hands of known size (``synth --noise``: RealSense-like depth noise growing with
   z², holes, the object hiding fingers), both tasks, three seeds: MediaPipe-like inputs
   made from the true hand (2D keypoints + 1.5 px noise; a relative 3D shape of the wrong
   size, ×0.85 and ×1.15, with 2 mm noise on every joint). The video's fitted hand length
   against the truth, and its bones' spread over frames; beside it the per-frame lifting of
   before (one scale per frame, :func:`lift.lift_hand`) on the same inputs.
2. MediaPipe itself on the rendered frames of one seed per task (``track-hand``).
3. Real MediaPipe hands: the 621 frames of ``shared/data/hand_keypoints`` (the gate, the
   one skeleton's hand length) and the recorded landmarks of the photos in
   ``shared/data/hands``. No real RGB-D hand video is in ``shared/data``: the size on real
   depth is not measured here.

    .venv/bin/python bench/hand_size.py [--frames 60] [--seeds 1 2 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

from h2s2r.core.artifacts import Capture, GroundTruth  # noqa: E402
from h2s2r.core.geometry import project_points  # noqa: E402
from h2s2r.perception.hand_track.lift import lift_hand, lift_sequence  # noqa: E402
from h2s2r.perception.hand_track.skeleton import (  # noqa: E402
    bone_lengths,
    hand_length,
    shape_gate,
)
from h2s2r.perception.hand_track.stage import TrackHandConfig, run_track_hand  # noqa: E402
from h2s2r.sim.synth import SynthConfig, run_synth  # noqa: E402


def known_size(ws: Path, size_error: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    cap = Capture.load(ws / "capture")
    gt = GroundTruth.load(ws / "ground_truth")
    kp = gt.hand_keypoints_cam
    n = len(kp)
    px = project_points(cap.K, kp) + rng.normal(0, 1.5, (n, 21, 2))
    world = size_error * (kp - kp.mean(axis=1, keepdims=True)) + rng.normal(0, 0.002, (n, 21, 3))
    depths = [cap.read_depth_m(i) for i in range(n)]
    true_len = hand_length(bone_lengths(kp[0]))
    t0 = time.perf_counter()
    res = lift_sequence(px, world, depths, cap.K, np.ones(n, bool))
    t_seq = time.perf_counter() - t0
    own = bone_lengths(res.keypoints_cam[res.lifted])
    err = np.linalg.norm(res.keypoints_cam - kp, axis=-1)[res.lifted]
    # Before: one scale and offset per frame.
    palm_before, err_before = [], []
    for i in range(n):
        r = lift_hand(px[i], world[i], depths[i], cap.K)
        if r is not None:
            palm_before.append(hand_length(bone_lengths(r.keypoints_cam)))
            err_before.append(np.linalg.norm(r.keypoints_cam - kp[i], axis=-1).mean())
    palm_before = np.array(palm_before)
    return {
        "true_hand_length_m": true_len,
        "hand_length_m": hand_length(res.bone_lengths_m),
        "hand_length_err_pct": 100 * (hand_length(res.bone_lengths_m) / true_len - 1),
        "bone_spread_over_frames_m": float((own.max(axis=0) - own.min(axis=0)).max()),
        "keypoint_err_mean_m": float(err.mean()),
        "lifted_fraction": float(res.lifted.mean()),
        "frame_size_ratio_min": float(np.nanmin(res.frame_scale_ratio)),
        "frame_size_ratio_max": float(np.nanmax(res.frame_scale_ratio)),
        "fit_s": t_seq,
        "before_hand_length_median_err_pct": 100 * (np.median(palm_before) / true_len - 1),
        "before_hand_length_min_m": float(palm_before.min()),
        "before_hand_length_max_m": float(palm_before.max()),
        "before_keypoint_err_mean_m": float(np.mean(err_before)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "hand_size.json")
    args = ap.parse_args()
    out: dict = {
        "machine": platform.node(),
        "frames": args.frames,
        "known_size": [],
        "mediapipe": [],
    }
    model = SHARED / "models" / "hand_landmarker.task"
    with tempfile.TemporaryDirectory() as tmp:
        for task in ("box_push", "can_lift"):
            for seed in args.seeds:
                ws = run_synth(
                    SynthConfig(task=task, seed=seed, frames=args.frames, noise=True),
                    Path(tmp) / f"{task}_{seed}",
                )
                for size_error in (0.85, 1.15):
                    r = known_size(ws, size_error, seed)
                    r.update(task=task, seed=seed, mediapipe_shape_size=size_error)
                    out["known_size"].append(r)
                    print(
                        f"{task:9s} seed {seed} shape ×{size_error:.2f}: hand length "
                        f"{r['hand_length_m'] * 100:.2f} cm "
                        f"(true {r['true_hand_length_m'] * 100:.2f}, "
                        f"{r['hand_length_err_pct']:+.1f} %), bone spread "
                        f"{r['bone_spread_over_frames_m']:.1e} m, keypoints "
                        f"{r['keypoint_err_mean_m'] * 1000:.1f} mm | before: per-frame "
                        f"{r['before_hand_length_min_m'] * 100:.1f}–"
                        f"{r['before_hand_length_max_m'] * 100:.1f} cm, keypoints "
                        f"{r['before_keypoint_err_mean_m'] * 1000:.1f} mm"
                    )
                if seed == args.seeds[0]:
                    art = run_track_hand(ws, TrackHandConfig(model=str(model)))
                    m = art.metrics
                    true_len = hand_length(
                        bone_lengths(GroundTruth.load(ws / "ground_truth").hand_keypoints_cam[0])
                    )
                    row = {
                        "task": task,
                        "seed": seed,
                        "true_hand_length_m": true_len,
                        **{
                            k: v
                            for k, v in m.items()
                            if not k.startswith(("frame_", "bone_")) or k == "bone_length_spread_m"
                        },
                    }
                    out["mediapipe"].append(row)
                    print(
                        f"{task:9s} seed {seed} MediaPipe: hand length "
                        f"{m['hand_length_m'] * 100:.2f} cm (true {true_len * 100:.2f}), "
                        f"detected {m['detected_fraction']:.0%}, valid {m['valid_fraction']:.0%}, "
                        f"keypoints {m['keypoint_err_mean_m'] * 1000:.1f} mm"
                    )
                shutil.rmtree(ws)
    joints = np.load(SHARED / "hand_keypoints" / "human_joint_right.npz")["joints"].astype(float)
    flagged = [i for i, j in enumerate(joints) if shape_gate(j, "right")[0]]
    template = np.median(bone_lengths(joints), axis=0)
    own = np.array([hand_length(b) for b in bone_lengths(joints)])
    photos = []
    for f in sorted((SHARED / "hands").glob("*/*.mediapipe.json")):
        for h in json.loads(f.read_text())["hands"]:
            code, why = shape_gate(np.asarray(h["world_landmarks_m_xyz"]), h["handedness"].lower())
            photos.append({"file": f.name, "gate": code, "why": why})
    out["real"] = {
        "hand_keypoints_frames": len(joints),
        "hand_keypoints_flagged": flagged,
        "one_skeleton_hand_length_m": hand_length(template),
        "per_frame_hand_length_min_m": float(own.min()),
        "per_frame_hand_length_max_m": float(own.max()),
        "photos": photos,
    }
    print(
        f"real video (621 MediaPipe frames): {len(flagged)} flagged; one skeleton's hand "
        f"length {hand_length(template) * 100:.1f} cm (MediaPipe per frame "
        f"{own.min() * 100:.1f}–{own.max() * 100:.1f} cm); photos flagged: "
        f"{sum(p['gate'] != 0 for p in photos)} of {len(photos)}"
    )
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
