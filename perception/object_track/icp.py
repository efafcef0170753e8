"""Point-to-plane ICP of measured points onto the object model, robust to occluders.

Measured points (camera frame) are the ICP *source* and the model surface (object frame,
with normals) the *target*, so a partial view registers onto the full model. A Tukey
kernel and shrinking correspondence distances keep the hand and the table from pulling.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import open3d as o3d
from scipy.ndimage import minimum_filter
from scipy.spatial import cKDTree

from h2s2r.core.geometry import T_inv, transform_points
from h2s2r.perception.object_track.appearance import AppearanceGate
from h2s2r.perception.object_track.model import ObjectModel

_REG = o3d.pipelines.registration


@contextlib.contextmanager
def open3d_threads(n: int) -> Iterator[None]:
    """Open3D on ``n`` threads inside the block (0: all). One thread makes the tracker
    reproducible: Open3D's parallel RANSAC and ICP reductions give different bits from
    run to run, even seeded, and the difference grows over a track (2–3 mm between two
    runs of a synthetic demo). It costs about a quarter of the frames/s on 2 cores."""
    before = o3d.utility.get_max_threads()
    if n:
        o3d.utility.set_max_threads(n)
    try:
        yield
    finally:
        o3d.utility.set_max_threads(before)


@dataclass(frozen=True)
class IcpResult:
    T_cam_obj: np.ndarray
    fitness: float  # fraction of measured points with a model point within the last radius
    rmse_m: float  # RMS distance of those inliers
    n_points: int


class ModelTarget:
    """The model as an Open3D target cloud and a KD-tree, built once per track."""

    def __init__(self, model: ObjectModel):
        self.model = model
        self.pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(model.points))
        self.pcd.normals = o3d.utility.Vector3dVector(model.normals)
        self.tree = cKDTree(model.points)

    def distance(self, points_obj: np.ndarray) -> np.ndarray:
        return self.tree.query(points_obj, k=1)[0]

    def nearest(self, points_obj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance to, and index of, the nearest model sample."""
        return self.tree.query(points_obj, k=1)


def icp(
    target: ModelTarget,
    points_cam: np.ndarray,
    T_init: np.ndarray,
    radii_m: tuple[float, ...] = (0.02, 0.01, 0.005),
    iterations: int = 15,
) -> IcpResult:
    """Refine ``T_cam_obj`` from ``T_init`` (coarse-to-fine correspondence radii)."""
    src = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points_cam))
    T = T_inv(T_init)  # T_obj_cam: measured points → model
    res = None
    for r in radii_m:
        est = _REG.TransformationEstimationPointToPlane(_REG.TukeyLoss(k=r))
        crit = _REG.ICPConvergenceCriteria(
            relative_fitness=1e-6, relative_rmse=1e-6, max_iteration=iterations
        )
        res = _REG.registration_icp(src, target.pcd, r, T, est, crit)
        T = np.asarray(res.transformation)
    assert res is not None
    return IcpResult(
        T_cam_obj=T_inv(T),
        fitness=float(res.fitness),
        rmse_m=float(res.inlier_rmse),
        n_points=len(points_cam),
    )


def crop_points(
    depth_m: np.ndarray,
    K: np.ndarray,
    T_pred: np.ndarray,
    target: ModelTarget,
    margin_px: int = 20,
    max_dist_m: float = 0.03,
    occluder_m: float = 0.015,
    max_points: int = 2500,
    mask: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    rgb: np.ndarray | None = None,
    gate: AppearanceGate | None = None,
    min_gate_keep: float = 0.4,
) -> np.ndarray:
    """Measured points near the predicted object, without occluders in front of it.

    Pixels in the predicted silhouette's box (plus ``margin_px``) are lifted to 3D; those
    more than ``max_dist_m`` from the predicted surface are dropped, and so are those more
    than ``occluder_m`` in front of the predicted surface (a hand over the object). With an
    appearance ``gate`` (and the frame's ``rgb``), pixels of colours the object never
    showed are dropped too, unless that would drop more than ``1 - min_gate_keep`` of them.
    """
    h, w = depth_m.shape
    model = target.model
    p = transform_points(T_pred, model.points)
    z = p[:, 2]
    ok = z > 0.05
    if not np.any(ok):
        return np.zeros((0, 3))
    u = K[0, 0] * p[ok, 0] / z[ok] + K[0, 2]
    v = K[1, 1] * p[ok, 1] / z[ok] + K[1, 2]
    u0, u1 = int(max(np.floor(u.min()) - margin_px, 0)), int(min(np.ceil(u.max()) + margin_px, w))
    v0, v1 = int(max(np.floor(v.min()) - margin_px, 0)), int(min(np.ceil(v.max()) + margin_px, h))
    if u1 <= u0 or v1 <= v0:
        return np.zeros((0, 3))
    # Predicted depth of the model in the box (splatted samples, holes closed by a min filter).
    pred = np.full((v1 - v0, u1 - u0), np.inf)
    ui, vi = np.rint(u).astype(int) - u0, np.rint(v).astype(int) - v0
    inside = (ui >= 0) & (ui < u1 - u0) & (vi >= 0) & (vi < v1 - v0)
    np.minimum.at(pred, (vi[inside], ui[inside]), z[ok][inside])
    pred = minimum_filter(pred, size=5)
    d = depth_m[v0:v1, u0:u1]
    keep = (d > 0) & ~(d < pred - occluder_m)
    if mask is not None:
        keep &= mask[v0:v1, u0:u1]
    if gate is not None and rgb is not None:
        looks_right = keep & gate.pixel_ok(rgb[v0:v1, u0:u1])
        if looks_right.sum() >= min_gate_keep * keep.sum():
            keep = looks_right
    vv, uu = np.nonzero(keep)
    zz = d[vv, uu].astype(np.float64)
    pts = np.stack(
        [(uu + u0 - K[0, 2]) * zz / K[0, 0], (vv + v0 - K[1, 2]) * zz / K[1, 1], zz], axis=1
    )
    if len(pts) > 4 * max_points:  # thin before the distance query
        pts = pts[(rng or np.random.default_rng(0)).choice(len(pts), 4 * max_points, replace=False)]
    dist, idx = target.nearest(transform_points(T_inv(T_pred), pts))
    near = dist < max_dist_m
    return normal_space_sample(
        pts[near], model.normals[idx[near]], max_points, rng or np.random.default_rng(0)
    )


def normal_space_sample(
    points: np.ndarray, normals_obj: np.ndarray, max_points: int, rng: np.random.Generator
) -> np.ndarray:
    """At most ``max_points`` points, balanced over six normal directions.

    Normal-space sampling (Rusinkiewicz & Levoy 2001): when most points lie on one plane
    (a box's top), the few on the faces that pin the sliding directions keep their weight.
    Normals are those of the nearest model samples, binned by dominant object axis.
    """
    if len(points) <= max_points:
        return points
    axis = np.argmax(np.abs(normals_obj), axis=1)
    sign = np.take_along_axis(normals_obj, axis[:, None], axis=1)[:, 0] > 0
    bins = axis * 2 + sign
    counts = np.bincount(bins, minlength=6)
    # Water-filling: the largest per-bin quota that keeps the total within max_points.
    quota = max_points
    for q in range(max_points, 0, -1):
        if np.minimum(counts, q).sum() <= max_points:
            quota = q
            break
    keep = []
    for b in range(6):
        members = np.nonzero(bins == b)[0]
        if len(members) > quota:
            members = rng.choice(members, quota, replace=False)
        keep.append(members)
    return points[np.sort(np.concatenate(keep))]


def silhouette(
    T_cam_obj: np.ndarray,
    model: ObjectModel,
    K: np.ndarray,
    shape: tuple[int, int],
    dilate_px: int = 2,
) -> np.ndarray:
    """Boolean image of the object's projected silhouette (splatted dense samples)."""
    import cv2

    h, w = shape
    p = transform_points(T_cam_obj, model.points)
    p = p[p[:, 2] > 0.05]
    u = np.rint(K[0, 0] * p[:, 0] / p[:, 2] + K[0, 2]).astype(int)
    v = np.rint(K[1, 1] * p[:, 1] / p[:, 2] + K[1, 2]).astype(int)
    ok = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    m = np.zeros((h, w), np.uint8)
    m[v[ok], u[ok]] = 1
    k = 2 * dilate_px + 1
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    return cv2.dilate(m, np.ones((k, k), np.uint8)).astype(bool)
