"""``h2s2r track-object``: the object's 6-DoF pose in every frame of the demo.

Example::

    h2s2r track-object runs/box                      # built-in ICP tracker, object/ mesh
    h2s2r track-object runs/mug --mesh mug.ply --mesh-scale 0.001 --masks runs/mug/masks
    h2s2r track-object runs/mug --method foundationpose --fp-output fp_out/

Writes ``object_track/``: ``poses.npz`` (``T_cam_obj``, ``valid``, per-frame fit quality
and ``quality_gate``, the failed checks' bit code), ``metrics.json`` (valid fraction;
frames per failed check; each frame's gate code and signals, ``frame_NNNNN_*``; errors
against ``ground_truth/`` if present),
``timing.json`` (frames/s, first-frame search time; not hashed), ``overlay.mp4`` and
``overlay_strip.png``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from PIL import Image

from h2s2r.core.artifacts import Capture, GroundTruth, ObjectMesh, ObjectTrack, Provenance
from h2s2r.core.artifacts.base import staged_folder, write_timing
from h2s2r.core.config import check_options, option
from h2s2r.core.errors import ArtifactError, H2S2RError
from h2s2r.perception.capture.registration import check_capture, shift_depth
from h2s2r.perception.object_track.foundationpose import check_imported_poses, read_ob_in_cam
from h2s2r.perception.object_track.icp import open3d_threads
from h2s2r.perception.object_track.mesh_io import read_mesh, read_texture
from h2s2r.perception.object_track.metrics import pose_metrics, rotation_error_deg
from h2s2r.perception.object_track.model import ObjectModel, sample_surface
from h2s2r.perception.object_track.overlay import write_overlay
from h2s2r.perception.object_track.plausibility import check_object_scale, measure_track_scale
from h2s2r.perception.object_track.smooth import check_smoothing_window
from h2s2r.perception.object_track.tracker import GATE_BITS, TrackerConfig, track

METHODS = ("icp", "foundationpose")


@dataclass(frozen=True)
class TrackObjectConfig(TrackerConfig):
    """Options of ``h2s2r track-object``."""

    method: str = "icp"  # icp (built in, CPU) | foundationpose (read its ob_in_cam/ output)
    mesh: str = ""  # object mesh file (OBJ/PLY/STL/.msh); default: the workspace's object/
    # factor to metres for --mesh (0.001 for a mesh in millimetres)
    mesh_scale: float = option(1.0, above=0.0)
    texture: str = ""  # texture image of a .msh mesh: its print helps find the object in clutter
    masks: str = ""  # folder of per-frame object masks (white on black, 000000.png …)
    fp_output: str = ""  # FoundationPose output folder (with ob_in_cam/)
    overlay: bool = True  # write overlay.mp4 and overlay_strip.png
    # Depth-to-colour misregistration (DESIGN: depth is aligned to colour): "auto" moves the
    # depth by the offset the check (five frames pooled) measures when it flags one.
    depth_shift: str = "auto"  # auto | none | du,dv: move the depth image onto the colour (px)
    # One Open3D thread: the same inputs give the same poses, bit for bit (and everything
    # downstream stays valid on a re-run); false: all cores, ~35 % more frames/s on 2.
    deterministic: bool = True
    # The tracked object's measured size is checked against the mesh on early frames.
    allow_scale_mismatch: bool = False  # keep a track whose object size disagrees with the mesh

    def __post_init__(self) -> None:
        check_options(self)
        if self.mesh_scale != 1.0 and not self.mesh:
            raise H2S2RError(
                f"--mesh-scale {self.mesh_scale:g} applies to --mesh PATH; object/ is "
                "already in metres (to re-import the mesh: delete object/ and pass --mesh "
                "PATH --mesh-scale S)"
            )
        if self.method not in METHODS:
            raise H2S2RError(f"--method {self.method!r} is unknown; valid: {', '.join(METHODS)}")
        self.fixed_depth_shift()  # validates

    def fixed_depth_shift(self) -> tuple[int, int] | None:
        """``--depth-shift du,dv`` as integers; None for ``auto`` and ``none``."""
        if self.depth_shift in ("auto", "none"):
            return None
        try:
            du, dv = (int(x) for x in self.depth_shift.split(","))
        except ValueError:
            raise H2S2RError(
                f"--depth-shift {self.depth_shift!r}: expected auto, none or two integers "
                "du,dv (pixels the depth image is moved onto the colour image)"
            ) from None
        return du, dv


def _mesh(ws: Path, cfg: TrackObjectConfig) -> ObjectMesh:
    obj = ws / "object"
    if not cfg.mesh:
        if obj.is_file():
            raise ArtifactError(
                obj,
                "is a file, not the object/ folder (a mesh goes in with --mesh, which writes "
                "object/ with the mesh and its meta.json)",
                f"move it away (e.g. `mv {obj} {ws / 'mesh.obj'}`) and pass --mesh "
                "THAT_FILE [--mesh-scale S]",
            )
        if not obj.is_dir():
            raise ArtifactError(
                ws / "object",
                "folder does not exist (no object mesh)",
                "pass --mesh PATH [--mesh-scale S] (it is copied to object/)",
            )
        return ObjectMesh.load(ws / "object")
    v, f = read_mesh(cfg.mesh, cfg.mesh_scale)
    mesh = ObjectMesh(
        vertices=v, faces=f, name=Path(cfg.mesh).stem, source=str(cfg.mesh), scale=cfg.mesh_scale
    )
    ext = float(mesh.extents_m.max())
    if ext > ObjectMesh.EXTENT_RANGE_M[1]:
        guess = 0.001 if ext > 20 else 0.01
        unit = "millimetres" if guess == 0.001 else "centimetres"
        raise H2S2RError(
            f"{cfg.mesh}: the mesh is {ext:.4g} m across after --mesh-scale "
            f"{cfg.mesh_scale}; a hand-held object is at most 1 m — it looks like "
            f"{unit}: pass --mesh-scale {guess * cfg.mesh_scale:g}"
        )
    if (ws / "object").is_dir():
        existing = ObjectMesh.load(ws / "object")
        if existing.vertices.shape != v.shape or not np.allclose(existing.vertices, v):
            raise H2S2RError(
                f"{ws / 'object'} already holds a different mesh "
                f"({existing.source}); delete object/ or omit --mesh"
            )
        return existing
    with staged_folder(ws / "object") as out:
        mesh.save(out)
    return mesh


def _gate_metrics(quality: dict[str, np.ndarray]) -> dict[str, float]:
    """metrics.json: frames per failed check (``gate_<check>_frames``) and each frame's
    signals, ``frame_NNNNN_<signal>``: ``gate`` (bit code of the failed checks, 0 =
    valid; ``GATE_BITS`` in :mod:`~h2s2r.perception.object_track.tracker`),
    ``agreement`` (depth agreement of the visible surface), ``seen_fraction`` (measured
    fraction of it), ``rmse_m`` (ICP inlier RMS), ``jump_m`` (distance from the
    prediction); a signal a frame never reached is left out."""
    gate = np.nan_to_num(quality["gate"]).astype(np.int64)
    out: dict[str, float] = {
        f"gate_{name}_frames": int(((gate & bit) > 0).sum()) for name, bit in GATE_BITS.items()
    }
    for i in range(len(gate)):
        out[f"frame_{i:05d}_gate"] = int(gate[i])
        for k in ("agreement", "seen_fraction", "rmse_m", "jump_m"):
            v = quality[k][i]
            if np.isfinite(v):
                out[f"frame_{i:05d}_{k}"] = float(v)
    return out


def _mask_reader(folder: Path, n: int, shape: tuple[int, int]):
    if not folder.is_dir():
        raise H2S2RError(f"{folder}: masks folder does not exist")
    missing = [i for i in range(n) if not (folder / f"{i:06d}.png").is_file()]
    if missing:
        raise H2S2RError(
            f"{folder / f'{missing[0]:06d}.png'}: mask missing ({len(missing)} of "
            f"{n} frames have none); one white-on-black PNG per frame is needed"
        )

    def read(i: int) -> np.ndarray:
        m = np.asarray(Image.open(folder / f"{i:06d}.png").convert("L")) > 127
        if m.shape != shape:
            raise H2S2RError(
                f"{folder / f'{i:06d}.png'}: mask is {m.shape[1]}×{m.shape[0]}, "
                f"frames are {shape[1]}×{shape[0]} — write the masks at the frames' size "
                "(one white-on-black PNG per frame)"
            )
        return m

    return read


def run_track_object(
    ws: str | Path, cfg: TrackObjectConfig = TrackObjectConfig(), progress=None
) -> ObjectTrack:
    ws = Path(ws)
    cap = Capture.load(ws / "capture")
    check_smoothing_window(cfg.smooth_half_window, cap.fps)
    mesh = _mesh(ws, cfg)
    upstream = [ws / "capture" / "meta.json", ws / "object" / "meta.json"]
    quality: dict[str, np.ndarray] = {}
    metrics: dict[str, float] = {}
    timing: dict[str, float] = {}
    reg = check_capture(cap)
    shift = cfg.fixed_depth_shift() or (
        reg.offset_px if cfg.depth_shift == "auto" and reg.misaligned else (0, 0)
    )
    read_depth = cap.read_depth_m
    if shift != (0, 0):

        def read_depth(i: int) -> np.ndarray:
            return shift_depth(cap.read_depth_m(i), shift)

    t0 = time.perf_counter()
    if cfg.method == "foundationpose":
        if not cfg.fp_output:
            raise H2S2RError(
                "--method foundationpose needs --fp-output DIR — FoundationPose "
                "runs outside h2s2r (NVIDIA GPU and weights); see the README"
            )
        T, valid = read_ob_in_cam(cfg.fp_output, cap.num_frames)
        # The tracker's per-frame checks, for imported poses too (and the size check below).
        model = ObjectModel.from_mesh(mesh.vertices, mesh.faces)
        T, valid, quality = check_imported_poses(
            T, valid, read_depth, cap.K, model, cfg, cfg.fp_output
        )
        metrics.update(_gate_metrics(quality))
    else:
        read_mask = None
        if cfg.masks:
            read_mask = _mask_reader(Path(cfg.masks), cap.num_frames, (cap.height, cap.width))
        tracker_cfg = TrackerConfig(**{f.name: getattr(cfg, f.name) for f in fields(TrackerConfig)})
        with open3d_threads(1 if cfg.deterministic else 0):
            res = track(
                read_depth,
                cap.num_frames,
                cap.K,
                mesh.vertices,
                mesh.faces,
                tracker_cfg,
                read_rgb=cap.read_rgb,
                read_mask=read_mask,
                progress=progress,
                texture=read_texture(cfg.mesh or mesh.source, cfg.texture) if cfg.texture else None,
            )
        T, valid, quality = res.T_cam_obj, res.valid, res.quality
        timing.update(
            fps=(cap.num_frames - 1) / max(res.track_time_s, 1e-9), init_time_s=res.init_time_s
        )
        metrics.update(
            init_agreement=res.init.agreement,
            init_hypotheses=res.init.n_hypotheses,
            reinit_count=len(res.reinit_frames),
        )
        metrics.update(_gate_metrics(quality))
    timing.setdefault("fps", cap.num_frames / max(time.perf_counter() - t0, 1e-9))
    metrics.update(
        depth_colour_offset_u_px=reg.offset_px[0],
        depth_colour_offset_v_px=reg.offset_px[1],
        depth_colour_edge_agreement=reg.agreement_as_recorded,
        depth_colour_edge_agreement_shifted=reg.agreement_best,
        depth_shift_u_px=shift[0],
        depth_shift_v_px=shift[1],
    )
    metrics["valid_fraction"] = float(valid.mean())
    metrics["num_frames"] = cap.num_frames
    # Is the tracked object as large as its mesh? (A wrong depth or mesh scale tracks well.)
    model = ObjectModel.from_mesh(mesh.vertices, mesh.faces)
    scale = measure_track_scale(read_depth, cap.K, T, valid, model)
    if scale is not None:
        metrics.update(scale.metrics())
    if not cfg.allow_scale_mismatch:
        check_object_scale(scale, cap.depth_scale_m, mesh.scale)

    if (ws / "ground_truth").is_dir():
        gt = GroundTruth.load(ws / "ground_truth")
        pts, _ = sample_surface(mesh.vertices, mesh.faces, 3000, seed=2)
        metrics.update(pose_metrics(T, valid, gt.T_cam_obj, pts, mesh.symmetry))
        te = np.linalg.norm(T[:, :3, 3] - gt.T_cam_obj[:, :3, 3], axis=1)
        quality["gt_trans_err_m"] = np.where(valid, te, np.nan)
        re = rotation_error_deg(
            np.where(valid[:, None, None], T[:, :3, :3], np.eye(3)),
            gt.T_cam_obj[:, :3, :3],
            mesh.symmetry,
        )
        quality["gt_rot_err_deg"] = np.where(valid, re, np.nan)
        upstream.append(ws / "ground_truth" / "meta.json")

    config = asdict(cfg)
    track_art = ObjectTrack(
        T_cam_obj=T,
        valid=valid,
        quality=quality,
        method=cfg.method,
        metrics=metrics,
        provenance=Provenance.of_files(ws, upstream, config=config),
    )
    with staged_folder(ws / "object_track") as out:
        track_art.save(out)
        write_timing(out, timing)
        if cfg.overlay:
            write_overlay(
                out,
                cap.read_rgb,
                T,
                valid,
                model,
                cap.K,
                cap.fps,
            )
    return track_art
