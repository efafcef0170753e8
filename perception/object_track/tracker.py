"""Frame-to-frame object tracking with loss detection and re-initialization.

Per frame: predict the pose (constant velocity on SE(3)), take the measured points
near the predicted object — minus occluders in front of it and pixels whose colour the
object never showed (:mod:`appearance`) — refine with point-to-plane ICP, and check the
fit (ICP inlier RMS, depth agreement of the model's visible surface, how much of it is
measured, the jump from the prediction). A failed check triggers a local
re-initialization around the last good pose; a frame that still fails is flagged invalid
(NaN pose), never guessed. Finally the valid poses are smoothed without lag
(:mod:`smooth`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from h2s2r.core.config import check_options, option
from h2s2r.core.errors import H2S2RError
from h2s2r.core.geometry import T_inv, backproject_depth, se3_exp, se3_log, transform_points
from h2s2r.perception.object_track.appearance import AppearanceGate
from h2s2r.perception.object_track.icp import (
    ModelTarget,
    crop_points,
    icp,
    silhouette,
)
from h2s2r.perception.object_track.init import InitResult, initialize, relocalize
from h2s2r.perception.object_track.model import ObjectModel, score_poses
from h2s2r.perception.object_track.smooth import smooth_poses


@dataclass(frozen=True)
class TrackerConfig:
    """Options of the built-in ICP tracker (``h2s2r track-object --method icp``)."""

    # depth agreement needed to accept the first pose
    min_init_agreement: float = option(0.75, lo=0.0, hi=1.0)
    # depth agreement of a tracked frame (fraction)
    min_agreement: float = option(0.7, lo=0.0, hi=1.0)
    # visible model samples that must be measured
    min_seen_fraction: float = option(0.15, lo=0.0, hi=1.0)
    max_rmse_m: float = option(0.008, above=0.0, hi=0.1)  # ICP inlier RMS of a tracked frame, m
    # largest believable deviation from the prediction, m
    max_jump_m: float = option(0.03, above=0.0, hi=1.0)
    # fraction of the last frame's motion predicted (0: static)
    velocity_gain: float = option(1.0, lo=0.0, hi=2.0)
    # measured points this far in front of the object are occluders
    occluder_m: float = option(0.01, lo=0.0, hi=0.2)
    use_color: bool = True  # drop pixels whose colour the object never showed
    # Savitzky–Golay half window (frames); 0 = off
    smooth_half_window: int = option(3, lo=0, hi=100)
    max_points: int = option(2500, lo=100, hi=1_000_000)  # measured points per frame for ICP
    # coarse-to-fine ICP radii, m
    icp_radii_m: tuple[float, ...] = option((0.02, 0.01, 0.005, 0.003), above=0.0, hi=1.0)
    seed: int = option(0, lo=0)  # random seed (RANSAC, subsampling)
    roi: str = ""  # first-frame box around the object, "u0,v0,u1,v1" in pixels (a hint for clutter)

    def __post_init__(self) -> None:
        check_options(self)

    def roi_mask(self, shape: tuple[int, int]) -> np.ndarray | None:
        """The --roi box as a boolean image (None without --roi)."""
        if not self.roi:
            return None
        try:
            u0, v0, u1, v1 = (int(x) for x in self.roi.split(","))
        except ValueError:
            raise H2S2RError(f"--roi {self.roi!r}: expected four integers u0,v0,u1,v1") from None
        h, w = shape
        if not (0 <= u0 < u1 <= w and 0 <= v0 < v1 <= h):
            raise H2S2RError(
                f"--roi {self.roi}: must lie inside the {w}×{h} image with u0<u1, v0<v1"
            )
        m = np.zeros(shape, dtype=bool)
        m[v0:v1, u0:u1] = True
        return m


@dataclass
class TrackResult:
    T_cam_obj: np.ndarray  # (N, 4, 4), NaN where invalid
    valid: np.ndarray  # (N,)
    quality: dict[str, np.ndarray]  # per-frame fit quality
    init: InitResult
    init_time_s: float
    track_time_s: float  # frames 1..N-1, wall clock, including frame decoding
    reinit_frames: list[int] = field(default_factory=list)


def _predict(poses: list[np.ndarray | None], gain: float) -> np.ndarray | None:
    """Constant-velocity prediction (scaled by ``gain``) from the last two good poses."""
    last = next((T for T in reversed(poses) if T is not None), None)
    if last is None or len(poses) < 2 or poses[-1] is None or poses[-2] is None:
        return last
    delta = poses[-1] @ T_inv(poses[-2])  # one frame of motion, camera frame
    return se3_exp(gain * se3_log(delta)) @ poses[-1]


def learn_appearance(
    rgb: np.ndarray, depth: np.ndarray, K: np.ndarray, T: np.ndarray, target: ModelTarget
) -> AppearanceGate:
    """Object colours: silhouette pixels whose depth lies on the model; context: the rest
    of the object's neighbourhood."""
    model = target.model
    sil = silhouette(T, model, K, depth.shape, dilate_px=0)
    near = silhouette(T, model, K, depth.shape, dilate_px=40)
    ctx = near & ~silhouette(T, model, K, depth.shape, dilate_px=6)
    pts = backproject_depth(K, depth)
    on_surface = np.zeros_like(sil)
    idx = np.nonzero(sil & (depth > 0))
    if len(idx[0]):
        d = target.distance(transform_points(T_inv(T), pts[idx]))
        on_surface[idx] = d < 0.005
    return AppearanceGate.learn(rgb, on_surface, ctx)


# Why a frame is invalid: the checks its last attempt failed, one bit each (0: valid).
# Written per frame to object_track/ (quality_gate in poses.npz, frame_NNNNN_gate in
# metrics.json) with the signals they test.
GATE_BITS = {
    "no_depth": 1,  # the frame has no depth (or its mask is empty)
    # under 30 measured points near the predicted object (an imported pose: under
    # MIN_MEASURED_SAMPLES of its model's samples measured, e.g. posed outside the image)
    "few_points": 2,
    "low_agreement": 4,  # depth agreement < --min-agreement
    "low_seen": 8,  # measured fraction of the visible surface < --min-seen-fraction
    "high_rmse": 16,  # ICP inlier RMS > --max-rmse-m
    "jump": 32,  # moved more than --max-jump-m from the prediction
    "no_prior": 64,  # no earlier good pose to predict from or re-initialize around
    "no_pose": 128,  # an imported pose (FoundationPose) is missing or not finite
}


def depth_signals(
    model: ObjectModel, T_cam_obj: np.ndarray, depth: np.ndarray, K: np.ndarray
) -> tuple[float, float, int]:
    """A posed model against a depth image: (depth agreement of its visible surface,
    fraction of that surface measured, number of its coarse samples measured). The
    tracker's per-frame check, also applied to poses imported from elsewhere
    (FoundationPose)."""
    s = score_poses(T_cam_obj[None], model.coarse_points, model.coarse_normals, depth, K)
    measured = int(s.agree[0] + s.violate[0])
    return float(s.agreement[0]), float(measured / max(s.visible[0], 1)), measured


def fit_gate(
    cfg: TrackerConfig, agree: float, seen: float, rmse: float = 0.0, jump: float = 0.0
) -> int:
    """GATE_BITS of the checks a pose fails (0: it passes); ``rmse``/``jump`` default to
    passing for a pose that had no ICP fit or no prediction."""
    return (
        (GATE_BITS["low_agreement"] if not agree >= cfg.min_agreement else 0)
        | (GATE_BITS["low_seen"] if not seen >= cfg.min_seen_fraction else 0)
        | (GATE_BITS["high_rmse"] if not rmse <= cfg.max_rmse_m else 0)
        | (GATE_BITS["jump"] if not jump <= cfg.max_jump_m else 0)
    )


@dataclass
class FrameResult:
    """One frame's outcome in :class:`StreamTracker`. The signals are those of the last
    attempt (ICP, or the re-initialization after it), also for a rejected frame."""

    ok: bool
    T_cam_obj: np.ndarray | None  # the object's pose, None when not found
    agreement: float = np.nan  # depth agreement of the model's visible surface
    seen_fraction: float = np.nan  # visible model samples that were measured
    rmse_m: float = np.nan  # ICP inlier RMS (NaN after a re-initialization)
    fitness: float = np.nan
    reinitialized: bool = False
    jump_m: float = np.nan  # ICP pose's distance from the prediction
    gate: int = 0  # GATE_BITS of the failed checks; 0 when ok


class StreamTracker:
    """The tracker frame by frame, for a stream (the deploy pose node) or a recording
    (:func:`track`): :meth:`start` finds the object in a first frame, :meth:`update`
    follows it in each new one (predict, ICP, check; re-initialize around the last good
    pose when the check fails)."""

    def __init__(
        self,
        K: np.ndarray,
        vertices: np.ndarray,
        faces: np.ndarray,
        cfg: TrackerConfig = TrackerConfig(),
        texture: tuple[np.ndarray, np.ndarray] | None = None,
        use_rgb: bool = True,
    ):
        uv, tex = texture if texture is not None else (None, None)
        self.K, self.cfg, self.vertices = np.asarray(K, dtype=np.float64), cfg, vertices
        self.model = ObjectModel.from_mesh(vertices, faces, uv=uv, texture=tex)
        self.target = ModelTarget(self.model)
        self.rng = np.random.default_rng(cfg.seed)
        self.use_rgb = cfg.use_color and use_rgb
        self.init: InitResult | None = None
        self.gate: AppearanceGate | None = None
        self.poses: list[np.ndarray | None] = []

    def start(
        self,
        depth: np.ndarray,
        rgb: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        rgb_for_init: np.ndarray | None = None,
        prior: np.ndarray | None = None,
    ) -> InitResult:
        """Find the object in a first frame (the whole image, or ``mask``/``--roi``);
        raises when it is not found. The next :meth:`update` takes this frame. ``prior``
        (``T_cam_obj``): where the object is expected (the deploy node: the demo's start
        pose, or the last pose it tracked); poses near it join the whole-view search."""
        cfg = self.cfg
        init_mask = mask if mask is not None else cfg.roi_mask(depth.shape)
        init = initialize(
            depth,
            self.K,
            self.target,
            self.vertices,
            mask=init_mask,
            prior=prior,
            seed=cfg.seed,
            rgb=rgb if rgb is not None else rgb_for_init,
        )
        if init.agreement < cfg.min_init_agreement or init.visible_samples < 50:
            raise H2S2RError(
                f"object not found in frame 0 (best depth agreement {init.agreement:.2f} < "
                f"{cfg.min_init_agreement}, {init.visible_samples} visible samples): make sure "
                "it is in view and not hidden in the first frame, that the mesh is in metres "
                "(--mesh-scale), or point at it with --roi u0,v0,u1,v1 or --masks DIR"
            )
        self.init = init
        self.gate = (
            learn_appearance(rgb, depth, self.K, init.T_cam_obj, self.target)
            if self.use_rgb and rgb is not None
            else None
        )
        self.poses = []
        return init

    def _evaluate(self, T: np.ndarray, depth: np.ndarray) -> tuple[float, float]:
        return depth_signals(self.model, T, depth, self.K)[:2]

    def update(
        self, depth: np.ndarray, rgb: np.ndarray | None = None, mask: np.ndarray | None = None
    ) -> FrameResult:
        """Follow the object into a new frame."""
        cfg, target, K, rng = self.cfg, self.target, self.K, self.rng
        if self.init is None:
            raise H2S2RError("StreamTracker.update before start: no first pose")
        first = not self.poses
        rgb = rgb if self.use_rgb else None
        T_pred = self.init.T_cam_obj if first else _predict(self.poses, cfg.velocity_gain)
        ok, T_new, rmse, fit, agree, seen = False, None, np.nan, np.nan, np.nan, np.nan
        reinit, jump, gate = False, np.nan, 0
        usable = (mask is None or mask.any()) and bool(np.any(depth > 0))
        if not usable:
            gate = GATE_BITS["no_depth"]
        elif T_pred is None:
            gate = GATE_BITS["no_prior"]
        if T_pred is not None and usable:
            pts = crop_points(
                depth,
                K,
                T_pred,
                target,
                max_dist_m=0.015,
                occluder_m=cfg.occluder_m,
                max_points=cfg.max_points,
                mask=mask,
                rng=rng,
                rgb=rgb,
                gate=self.gate,
            )
            gate = GATE_BITS["few_points"]
            if len(pts) >= 30:
                r = icp(target, pts, T_pred, radii_m=cfg.icp_radii_m)
                agree, seen = self._evaluate(r.T_cam_obj, depth)
                jump = float(np.linalg.norm(r.T_cam_obj[:3, 3] - T_pred[:3, 3]))
                gate = self._gate(agree, seen, r.rmse_m, jump)
                ok = gate == 0
                T_new, rmse, fit = r.T_cam_obj, r.rmse_m, r.fitness
            if not ok and first:  # the initializer's pose passed its stricter check
                ok, T_new, gate = True, self.init.T_cam_obj, 0
                agree, seen = self._evaluate(T_new, depth)
            if not ok and not first:  # lost: re-initialize around the last good pose
                prior = next((T for T in reversed(self.poses) if T is not None), None)
                if prior is None:
                    gate |= GATE_BITS["no_prior"]
                else:
                    near = crop_points(
                        depth,
                        K,
                        prior,
                        target,
                        max_dist_m=0.08,
                        occluder_m=cfg.occluder_m,
                        margin_px=60,
                        max_points=2 * cfg.max_points,
                        mask=mask,
                        rng=rng,
                        rgb=rgb,
                        gate=self.gate,
                    )
                    T_r, _ = relocalize(depth, K, target, prior, near, rng)
                    agree, seen = self._evaluate(T_r, depth)
                    rmse, fit, jump = np.nan, np.nan, np.nan
                    gate = self._gate(agree, seen)
                    ok = gate == 0
                    if ok:
                        T_new, reinit = T_r, True
        self.poses.append(T_new if ok else None)
        if ok:
            return FrameResult(True, T_new, agree, seen, rmse, fit, reinit, jump, 0)
        return FrameResult(False, None, agree, seen, rmse, fit, False, jump, gate)

    def _gate(self, agree: float, seen: float, rmse: float = 0.0, jump: float = 0.0) -> int:
        """GATE_BITS of the checks a fitted pose fails (0: it passes)."""
        return fit_gate(self.cfg, agree, seen, rmse, jump)

    def lost_for(self) -> int:
        """How many frames in a row the object has not been found."""
        n = 0
        for T in reversed(self.poses):
            if T is not None:
                break
            n += 1
        return n


def track(
    read_depth: Callable[[int], np.ndarray],
    n_frames: int,
    K: np.ndarray,
    vertices: np.ndarray,
    faces: np.ndarray,
    cfg: TrackerConfig = TrackerConfig(),
    read_rgb: Callable[[int], np.ndarray] | None = None,
    read_mask: Callable[[int], np.ndarray | None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    texture: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrackResult:
    """Track the object through the frames of a recording (:class:`StreamTracker`), then
    smooth the valid poses without lag. ``texture`` (per-vertex UVs, RGB image) lets the
    first-frame search compare the object's print with the colour image."""
    tracker = StreamTracker(K, vertices, faces, cfg, texture, use_rgb=read_rgb is not None)
    use_rgb = tracker.use_rgb

    def load(i: int):
        return (
            read_depth(i),
            read_rgb(i) if use_rgb else None,
            read_mask(i) if read_mask else None,
        )

    depth0, rgb0, mask0 = load(0)
    if mask0 is not None and not mask0.any():
        raise H2S2RError(
            "masks/000000.png is empty: the object must be visible in the first "
            "frame — fix the mask or start the video earlier"
        )
    if not np.any(depth0 > 0):
        raise H2S2RError(
            "capture/depth/000000.png has no valid depth (all zero): check the "
            "depth stream and re-import"
        )
    t0 = time.perf_counter()
    rgb_for_init = None
    if rgb0 is None and read_rgb and tracker.model.grey is not None:
        rgb_for_init = read_rgb(0)
    init = tracker.start(depth0, rgb0, mask0, rgb_for_init=rgb_for_init)
    init_time = time.perf_counter() - t0

    n = n_frames
    T_out = np.full((n, 4, 4), np.nan)
    valid = np.zeros(n, dtype=bool)
    q = {
        k: np.full(n, np.nan)
        for k in ("agreement", "seen_fraction", "rmse_m", "fitness", "jump_m", "gate")
    }
    reinit: list[int] = []
    t_track = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:  # decode frames ahead of tracking
        ahead = {i: pool.submit(load, i) for i in range(1, min(n, 4))}
        for i in range(n):
            if i == 0:
                depth, rgb, mask = depth0, rgb0, mask0
            else:
                depth, rgb, mask = ahead.pop(i).result()
                if i + 3 < n:
                    ahead[i + 3] = pool.submit(load, i + 3)
            r = tracker.update(depth, rgb, mask)
            # Every frame's signals, valid or not: they say why a frame was rejected.
            q["agreement"][i], q["seen_fraction"][i] = r.agreement, r.seen_fraction
            q["rmse_m"][i], q["fitness"][i] = r.rmse_m, r.fitness
            q["jump_m"][i], q["gate"][i] = r.jump_m, r.gate
            if r.ok:
                T_out[i], valid[i] = r.T_cam_obj, True
                if r.reinitialized:
                    reinit.append(i)
            if i == 0:
                t_track = time.perf_counter()
            if progress is not None:
                progress(i + 1, n)
    track_time = time.perf_counter() - t_track

    if cfg.smooth_half_window > 0:
        T_out = smooth_poses(T_out, valid, cfg.smooth_half_window)
    return TrackResult(
        T_cam_obj=T_out,
        valid=valid,
        quality=q,
        init=init,
        init_time_s=init_time,
        track_time_s=track_time,
        reinit_frames=reinit,
    )
