"""Benchmark of ``h2s2r track-object`` (built-in ICP tracker) on this machine.

Accuracy over ``synth --noise`` demos (both tasks, three seeds each), frames/s at 640×480
and first-frame initialization time; then the initializer on the real YCB frames of
``../shared/data`` (depth agreement of the posed mesh, with and without a box hint and the texture).

    .venv/bin/python bench/track_object.py [--frames 120] [--seeds 1 2 3] [--out FILE]

Prints a table and writes JSON (default ``bench/results/track_object.json``). Timings are
wall clock on a shared machine: compare them within one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

from h2s2r.core.artifacts.base import read_timing  # noqa: E402
from h2s2r.perception.capture.registration import depth_color_registration, shift_depth  # noqa: E402
from h2s2r.perception.object_track.icp import ModelTarget, open3d_threads  # noqa: E402
from h2s2r.perception.object_track.init import initialize  # noqa: E402
from h2s2r.perception.object_track.mesh_io import read_mesh, read_texture  # noqa: E402
from h2s2r.perception.object_track.model import ObjectModel, score_poses  # noqa: E402
from h2s2r.perception.object_track.stage import TrackObjectConfig, run_track_object  # noqa: E402
from h2s2r.perception.object_track.tracker import TrackerConfig  # noqa: E402
from h2s2r.sim.synth import SynthConfig, run_synth  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
REAL_CASES = [  # object, frame, first-frame box (u0, v0, u1, v1) drawn around it
    ("006_mustard_bottle", 1, "315,190,410,460"),
    ("006_mustard_bottle", 4, "325,230,452,458"),
    ("003_cracker_box", 1, "295,120,485,340"),
    ("003_cracker_box", 5, "90,30,280,250"),
]
COLUMNS = (
    "trans_err_mean_m",
    "trans_err_p95_m",
    "trans_err_max_m",
    "rot_err_mean_deg",
    "add_s_auc",
    "valid_fraction",
    "fps",
    "init_time_s",
)


def synthetic(frames: int, seeds: list[int]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in ("box_push", "can_lift"):
            for seed in seeds:
                ws = run_synth(
                    SynthConfig(task=task, seed=seed, frames=frames, noise=True),
                    Path(tmp) / f"{task}_{seed}",
                )
                m = run_track_object(ws, TrackObjectConfig(overlay=False)).metrics
                m = {**m, **read_timing(ws / "object_track")}
                rows.append({"task": task, "seed": seed, **{k: m[k] for k in COLUMNS}})
    return rows


def real() -> list[dict]:
    rows = []
    K = np.loadtxt(SHARED / "posecnn_ycbv_demo" / "cam_K.txt")
    from PIL import Image

    for obj, frame, roi in REAL_CASES:
        mesh = SHARED / "YCB_sim" / "meshes" / f"{obj}.msh"
        v, f = read_mesh(mesh)
        uv, tex = read_texture(mesh, SHARED / "YCB_sim" / "textures" / f"{obj}.png")
        png = SHARED / "posecnn_ycbv_demo" / f"{frame:06d}-depth.png"
        depth = np.asarray(Image.open(png)).astype(np.float32) / 1e4
        rgb = np.asarray(Image.open(str(png).replace("-depth", "-color")))[..., :3]
        reg = depth_color_registration(rgb, depth)
        offset = reg.offset_px
        if reg.misaligned:  # as `track-object --depth-shift auto` does
            depth = shift_depth(depth, offset)
        # none / roi: depth only; +tex: the mesh's texture compared with the colour image.
        for hint in ("none", "none+tex", "roi", "roi+tex"):
            textured = hint.endswith("+tex")
            model = ObjectModel.from_mesh(v, f, uv=uv if textured else None, texture=tex)
            target = ModelTarget(model)
            mask = TrackerConfig(roi=roi).roi_mask(depth.shape) if "roi" in hint else None
            t0 = time.perf_counter()
            with open3d_threads(1):  # as track-object runs it (--deterministic, the default)
                res = initialize(depth, K, target, v, mask=mask, rgb=rgb if textured else None)
            dt = time.perf_counter() - t0
            s = score_poses(
                res.T_cam_obj[None], model.points, model.normals, depth, K, tol_m=0.01, zbuffer=True
            )
            c = K @ (res.T_cam_obj[:3, :3] @ model.center_obj + res.T_cam_obj[:3, 3])
            u, vv = c[:2] / c[2]
            u0, v0, u1, v1 = (int(x) for x in roi.split(","))
            rows.append(
                {
                    "object": obj,
                    "frame": frame,
                    "hint": hint,
                    "depth_agreement_1cm": float(s.agreement[0]),
                    "agreeing_of_visible": float(s.agree[0] / max(s.visible[0], 1)),
                    "centre_in_box": bool(u0 <= u <= u1 and v0 <= vv <= v1),
                    "init_time_s": dt,
                    "depth_colour_offset_px": offset,
                    "depth_shifted": reg.misaligned,
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "track_object.json")
    args = ap.parse_args()

    syn = synthetic(args.frames, args.seeds)
    print(
        f"{'task':<9}{'seed':>5}{'t mean mm':>10}{'t p95 mm':>9}{'t max mm':>9}"
        f"{'r mean °':>9}{'ADD-S AUC':>10}{'valid':>7}{'fps':>7}{'init s':>7}"
    )
    for r in syn:
        print(
            f"{r['task']:<9}{r['seed']:>5}{r['trans_err_mean_m'] * 1e3:>10.2f}"
            f"{r['trans_err_p95_m'] * 1e3:>9.2f}{r['trans_err_max_m'] * 1e3:>9.2f}"
            f"{r['rot_err_mean_deg']:>9.2f}{r['add_s_auc']:>10.3f}{r['valid_fraction']:>7.2f}"
            f"{r['fps']:>7.1f}{r['init_time_s']:>7.2f}"
        )
    summary = {k: float(np.mean([r[k] for r in syn])) for k in COLUMNS}
    summary["trans_err_max_m"] = float(np.max([r["trans_err_max_m"] for r in syn]))
    print(
        f"{'all':<14}{summary['trans_err_mean_m'] * 1e3:>10.2f}"
        f"{summary['trans_err_p95_m'] * 1e3:>9.2f}{summary['trans_err_max_m'] * 1e3:>9.2f}"
        f"{summary['rot_err_mean_deg']:>9.2f}{summary['add_s_auc']:>10.3f}"
        f"{summary['valid_fraction']:>7.2f}{summary['fps']:>7.1f}{summary['init_time_s']:>7.2f}"
    )

    rl = real()
    print(
        f"\n{'object':<20}{'frame':>6}{'hint':>9}{'agree 1cm':>10}{'of visible':>11}"
        f"{'in box':>8}{'init s':>8}{'depth offset px':>16}{'shifted':>8}"
    )
    for r in rl:
        print(
            f"{r['object']:<20}{r['frame']:>6}{r['hint']:>9}{r['depth_agreement_1cm']:>10.3f}"
            f"{r['agreeing_of_visible']:>11.3f}{r['centre_in_box']!s:>8}{r['init_time_s']:>8.2f}"
            f"{r['depth_colour_offset_px']!s:>16}{r['depth_shifted']!s:>8}"
        )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": {
                    "cpu_count": __import__("os").cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "frames": args.frames,
                "synthetic": syn,
                "synthetic_mean": summary,
                "real": rl,
            },
            indent=2,
        )
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
