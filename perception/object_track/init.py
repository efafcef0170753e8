"""First-frame (and re-)initialization: find the object in a depth image, no prior pose.

Hypotheses come from two generators:

1. **Features + RANSAC**: FPFH features of the model and of the scene above the table,
   matched and fitted with RANSAC (several seeds) — general poses, e.g. a held object.
2. **Resting poses**: the object standing on the table plane (found by RANSAC) on one of
   its stable faces, at every 15° of yaw, at each occupied spot of the table — the usual
   start of a tabletop demo, and robust to symmetric and texture-less shapes.

Every hypothesis is scored by depth agreement (:mod:`h2s2r.perception.object_track.model`); the
best few are refined by ICP and re-scored with a z-buffer, so a symmetric or partly
occluded object still comes out right. With a textured mesh and the colour image, the
refined poses and their 180° turns about the box axes are also scored by how well the
print matches the image (NCC): that separates an object from a look-alike of the same
shape and picks the right one of a box's depth-identical poses.

Without a mask, the view is first split into **regions**: connected blobs standing on a
support plane whose size could be the object's. Each is searched as if the user had drawn
a box around it, and the best-scoring result wins. A fully visible look-alike elsewhere
then cannot crowd the partly hidden object out of the few hypotheses that get refined;
without a convincing region (none, or depth agreement < 0.9: say, the object is held
high) the whole view is searched at once as well. Support planes and regions:
:mod:`h2s2r.perception.object_track.scene`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import takewhile

import numpy as np
import open3d as o3d
from scipy.spatial import ConvexHull

from h2s2r.core.geometry import project_points, so3_exp
from h2s2r.perception.object_track.icp import ModelTarget, icp
from h2s2r.perception.object_track.model import (
    boundary_support,
    colour_agreement,
    score_poses,
    texture_agreement,
)
from h2s2r.perception.object_track.scene import (
    TablePlane,
    blurred_hsv,
    colour_regions,
    fit_support_planes,
    grow_box,
    merge_planes,
    parallel_planes,
    propose_regions,
    ransac_planes,
    scene_points,
)

_REG = o3d.pipelines.registration


@dataclass(frozen=True)
class InitResult:
    T_cam_obj: np.ndarray
    score: float  # agreement - 2 violations, per visible sample (z-buffered)
    agreement: float  # agreeing / (agreeing + violating) samples
    visible_samples: int
    n_hypotheses: int
    plane: TablePlane | None


def stable_down_directions(vertices: np.ndarray, max_faces: int = 6) -> list[np.ndarray]:
    """Outward normals (object frame) of the largest convex-hull faces: resting sides."""
    hull = ConvexHull(vertices)
    normals = hull.equations[:, :3]
    areas = np.zeros(len(hull.simplices))
    for k, s in enumerate(hull.simplices):
        a, b, c = vertices[s]
        areas[k] = 0.5 * np.linalg.norm(np.cross(b - a, c - a))
    # Group faces whose normals lie within about 10° of a group's first (largest) face;
    # a group's direction is its area-weighted mean normal: a scanned box's bottom is not
    # one flat face, and its largest facet can lean by 10°.
    groups: list[tuple[np.ndarray, float, np.ndarray]] = []
    for k in np.argsort(-areas, kind="stable"):
        n, a = normals[k], areas[k]
        for g, (gn, ga, gs) in enumerate(groups):
            if gn @ n > 0.985:
                groups[g] = (gn, ga + a, gs + a * n)
                break
        else:
            groups.append((n, a, a * n))
    groups.sort(key=lambda t: -t[1])
    total = sum(a for _, a, _ in groups)
    return [s / np.linalg.norm(s) for _, a, s in groups[:max_faces] if a > 0.03 * total]


def _rotation_taking(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A rotation mapping unit vector a onto unit vector b."""
    v = np.cross(a, b)
    c = float(a @ b)
    if np.linalg.norm(v) < 1e-9:
        if c > 0:
            return np.eye(3)
        perp = np.cross(a, [1.0, 0, 0])
        if np.linalg.norm(perp) < 1e-6:
            perp = np.cross(a, [0, 1.0, 0])
        return so3_exp(np.pi * perp / np.linalg.norm(perp))
    return so3_exp(v / np.linalg.norm(v) * np.arctan2(np.linalg.norm(v), c))


def resting_hypotheses(
    vertices: np.ndarray,
    plane: TablePlane,
    above_cam: np.ndarray,
    support_cam: np.ndarray | None = None,
    cell_m: float = 0.04,
    yaw_step_deg: float = 15.0,
    min_cell_points: int = 20,
) -> np.ndarray:
    """Object-on-the-table poses ``(H, 4, 4)`` at the occupied cells of the table.

    With ``support_cam`` (the plane's inlier points), only cells within two cells of
    visible table are used: things beyond the table's edge do not stand on it.
    """
    up = plane.normal_cam
    # Table axes: e1 along the camera's x projected on the plane, e2 = up × e1.
    e1 = np.array([1.0, 0, 0]) - up * up[0]
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    xy = np.stack([above_cam @ e1, above_cam @ e2], axis=1)
    cells, counts = np.unique(np.floor(xy / cell_m).astype(np.int64), axis=0, return_counts=True)
    cells = cells[counts >= min_cell_points]
    if support_cam is not None and len(support_cam):
        sxy = np.stack([support_cam @ e1, support_cam @ e2], axis=1)
        table = {tuple(c) for c in np.unique(np.floor(sxy / cell_m).astype(np.int64), axis=0)}
        near_table = [
            any((c[0] + a, c[1] + b) in table for a in range(-2, 3) for b in range(-2, 3))
            for c in cells
        ]
        cells = cells[np.asarray(near_table, dtype=bool)] if len(cells) else cells
    centers = (cells + 0.5) * cell_m  # in-plane coordinates; the camera's foot is (0, 0)
    # Objects sit behind their visible surface: push centres away from the camera's foot.
    away = centers / np.maximum(np.linalg.norm(centers, axis=1, keepdims=True), 1e-9)
    hyps = []
    yaws = np.deg2rad(np.arange(0.0, 360.0, yaw_step_deg))
    for down in stable_down_directions(vertices):
        R_rest = _rotation_taking(down, -up)
        for yaw in yaws:
            R = so3_exp(up * yaw) @ R_rest
            rotated = vertices @ R.T
            h = -(rotated @ up).min()  # origin height above the plane when resting
            shift = 0.5 * min(np.ptp(rotated @ e1), np.ptp(rotated @ e2))
            c_off = 0.5 * (rotated.max(0) + rotated.min(0))
            c_off_h = c_off - up * (c_off @ up)  # horizontal offset of the box centre
            p_plane = centers + away * shift
            pos = p_plane[:, :1] * e1 + p_plane[:, 1:] * e2 - plane.offset * up + up * h - c_off_h
            T = np.tile(np.eye(4), (len(pos), 1, 1))
            T[:, :3, :3] = R
            T[:, :3, 3] = pos
            hyps.append(T)
    return np.asarray(hyps).reshape(-1, 4, 4)


def feature_ransac_hypotheses(
    model_pts: np.ndarray,
    model_nrm: np.ndarray,
    scene_pts: np.ndarray,
    voxel_m: float,
    runs: int = 3,
    seed: int = 0,
) -> np.ndarray:
    """FPFH + RANSAC registrations of the model to the scene, one per seed."""
    if len(scene_pts) < 50:
        return np.zeros((0, 4, 4))

    def prep(pts, nrm=None):
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
        if nrm is not None:
            pcd.normals = o3d.utility.Vector3dVector(nrm)
        pcd = pcd.voxel_down_sample(voxel_m)
        if nrm is None:
            pcd.estimate_normals(
                o3d.geometry.KDTreeSearchParamHybrid(radius=3 * voxel_m, max_nn=30)
            )
            pcd.orient_normals_towards_camera_location(np.zeros(3))
        feat = _REG.compute_fpfh_feature(
            pcd, o3d.geometry.KDTreeSearchParamHybrid(radius=5 * voxel_m, max_nn=100)
        )
        return pcd, feat

    src, src_f = prep(model_pts, model_nrm)
    tgt, tgt_f = prep(scene_pts)
    out = []
    for k in range(runs):
        o3d.utility.random.seed(seed + k)
        res = _REG.registration_ransac_based_on_feature_matching(
            src,
            tgt,
            src_f,
            tgt_f,
            False,
            1.5 * voxel_m,
            _REG.TransformationEstimationPointToPoint(False),
            3,
            [
                _REG.CorrespondenceCheckerBasedOnEdgeLength(0.9),
                _REG.CorrespondenceCheckerBasedOnDistance(1.5 * voxel_m),
            ],
            _REG.RANSACConvergenceCriteria(20000, 0.999),
        )
        out.append(np.asarray(res.transformation))
    return np.asarray(out)


def local_hypotheses(
    T_center: np.ndarray,
    rng: np.random.Generator,
    n: int = 64,
    trans_m: float = 0.03,
    rot_rad: float = 0.35,
) -> np.ndarray:
    """Perturbations of a pose (re-initialization near where the object was)."""
    out = [T_center]
    for _ in range(n - 1):
        R = so3_exp(rng.normal(0, rot_rad / 2, 3))
        T = T_center.copy()
        T[:3, :3] = T_center[:3, :3] @ R
        T[:3, 3] += rng.normal(0, trans_m / 2, 3)
        out.append(T)
    return np.asarray(out)


def initialize(
    depth_m: np.ndarray,
    K: np.ndarray,
    target: ModelTarget,
    vertices: np.ndarray,
    mask: np.ndarray | None = None,
    prior: np.ndarray | None = None,
    refine_top: int = 12,
    boundary_weight: float = 0.5,
    seed: int = 0,
    rgb: np.ndarray | None = None,
    texture_weight: float = 0.5,
    regions: bool = True,
    planes: list[TablePlane] | None = None,
) -> InitResult:
    """Best pose of the object in a depth image (see the module docstring).

    ``mask`` (an object mask, or a box the user drew) restricts where the object is
    looked for; the support planes are still fitted to the whole view. ``rgb`` (the
    registered colour image) adds the texture score when the model has a texture.
    ``planes``: the whole view's support planes, when already fitted.
    """
    model = target.model
    all_pts = scene_points(depth_m, K, stride=2)
    if mask is None and regions:
        planes = fit_support_planes(all_pts, seed)
        boxes = propose_regions(depth_m, K, planes, model.diameter_m)
        if rgb is not None and model.colour is not None:
            boxes = colour_regions(rgb, depth_m, K, model.colour, model.diameter_m) + boxes
        search = partial(
            initialize,
            depth_m,
            K,
            target,
            vertices,
            prior=prior,
            refine_top=refine_top,
            boundary_weight=boundary_weight,
            seed=seed,
            rgb=rgb,
            texture_weight=texture_weight,
            regions=False,
            planes=planes,
        )
        best_region = max((search(mask=box) for box in boxes), key=lambda r: r.score, default=None)
        if best_region is not None and best_region.agreement >= 0.9:
            return best_region
        # No convincing region (e.g. the object is held high above the table): search the
        # whole view as well and keep the better.
        whole = search(mask=None)
        return max([r for r in (best_region, whole) if r is not None], key=lambda r: r.score)
    # Candidates: the whole view, or only the pixels of a mask / region of interest.
    pts = all_pts if mask is None else scene_points(depth_m, K, stride=2, mask=mask)
    if planes is None:
        planes = fit_support_planes(all_pts, seed)
    if mask is not None:  # the surface under a small object may be small in the whole view
        near = ransac_planes(
            scene_points(depth_m, K, stride=2, mask=grow_box(mask)), seed, 5, min_fraction=0.08
        )
        large = list(takewhile(lambda p: p.inlier_fraction >= 0.15, near[:3]))
        planes = merge_planes(planes + large)
        # A desk above the floor can be outsized by the floor even around the object, and
        # the nearest of parallel planes may be a box's top: smaller levels parallel to
        # a support plane are candidates of their own.
        planes += [
            p
            for p in near[len(large) :]
            if (parallel := [q for q in planes if parallel_planes(p, q)])
            and all(abs(p.offset - q.offset) > 0.02 for q in parallel)
        ]
    hyps = []
    if planes:
        heights = np.stack([pl.height(pts) for pl in planes], axis=1)
        all_heights = np.stack([pl.height(all_pts) for pl in planes], axis=1)
        off_planes = np.all(np.abs(heights) > 0.004, axis=1)
        above_any = np.zeros(len(pts), dtype=bool)
        for k, pl in enumerate(planes):
            above_k = off_planes & (heights[:, k] > 0) & (heights[:, k] < 1.2 * model.diameter_m)
            above_any |= above_k
            if above_k.sum() > 0:
                support = all_pts[np.abs(all_heights[:, k]) <= 0.004]
                hyps.append(resting_hypotheses(vertices, pl, pts[above_k], support))
        above = pts[above_any] if above_any.sum() >= 30 else pts
    else:
        above = pts
    plane = planes[0] if planes else None
    voxel = float(np.clip(model.diameter_m / 30, 0.004, 0.01))
    hyps.append(feature_ransac_hypotheses(model.points, model.normals, above, voxel, seed=seed))
    hyps = [h for h in hyps if len(h)]
    if prior is not None:  # the expected pose first: it is refined whatever its rank
        hyps.insert(0, local_hypotheses(prior, np.random.default_rng(seed)))
    if not hyps:
        return InitResult(np.eye(4), -1.0, 0.0, 0, 0, plane)
    H = np.concatenate(hyps, axis=0)
    grey = _grey_for_texture(rgb, model, K) if rgb is not None and model.grey is not None else None
    hsv = blurred_hsv(rgb) if grey is not None and model.colour is not None else None
    order = _rank(H, depth_m, K, model, refine_top, hsv=hsv, colour_weight=texture_weight)
    if prior is not None:  # the expected pose and its own best neighbours, whatever their rank
        n_local = len(hyps[0])
        near = _rank(H[:n_local], depth_m, K, model, refine_top // 3, hsv=hsv)
        order = [*order, *(k for k in [0, *near] if k not in order)]

    def evaluate(Tv: np.ndarray) -> InitResult:
        s = score_poses(
            Tv[None], model.points[::4], model.normals[::4], depth_m, K, tol_m=0.01, zbuffer=True
        )
        # Depth agreement of the surface, plus a depth jump all around the outline, plus
        # (textured) the print's correlation with the image.
        total = float(s.score[0]) + boundary_weight * boundary_support(Tv, model.points, depth_m, K)
        if grey is not None:
            total += texture_weight * max(texture_agreement(Tv, model, grey, depth_m, K), 0.0)
        if hsv is not None:
            total += texture_weight * colour_agreement(Tv, model, hsv, depth_m, K)
        # The demo starts with the object in view: a pose partly outside the image (where
        # a few samples at the border agree easily) is a last resort.
        if in_view_fraction(Tv, model.points[::4], K, depth_m.shape) < 0.9:
            total -= 1.0
        return InitResult(Tv, total, float(s.agreement[0]), int(s.visible[0]), len(H), plane)

    def refine(T: np.ndarray, scene: np.ndarray = above) -> np.ndarray:
        crop = _points_near(scene, T, target, 0.04)
        if len(crop) < 30:
            return T
        return icp(target, crop, T, radii_m=(0.03, 0.015, 0.006, 0.003), iterations=20).T_cam_obj

    best: InitResult | None = None
    turned = False
    local = set(range(len(hyps[0]))) if prior is not None else set()
    for k in order:
        candidates = [refine(H[k])]
        if k in local:
            # Near the expected pose also fitted to every point around it: the few points
            # above the table beside an occluder (the robot's fingers) can hold ICP off
            # the object, the table's points around it do not. And the expected pose
            # as it is.
            candidates += [refine(H[k], pts)] + [H[k]] * (k == 0)
        for T in candidates:
            for i, F in enumerate([np.eye(4)] if grey is None else _half_turns(model.center_obj)):
                cand = evaluate(T @ F)
                if best is None or cand.score > best.score:
                    best, turned = cand, i > 0
    if turned:  # the print chose a half-turn: fit it to the depth as well
        again = evaluate(refine(best.T_cam_obj))
        best = again if again.score >= best.score else best
    assert best is not None
    return best


def _half_turns(center: np.ndarray) -> list[np.ndarray]:
    """Identity and the 180° turns about the three axes through ``center`` (object frame)."""
    out = [np.eye(4)]
    for axis in range(3):
        F = np.eye(4)
        F[:3, :3] = -np.eye(3)
        F[axis, axis] = 1.0
        F[:3, 3] = center - F[:3, :3] @ center
        out.append(F)
    return out


def _grey_for_texture(rgb: np.ndarray, model, K: np.ndarray) -> np.ndarray:
    """The image in grey, blurred to about the spacing of the model's surface samples at
    a typical tabletop distance (0.8 m)."""
    import cv2

    spacing_m = np.sqrt(_surface_area(model) / len(model.points))
    sigma = float(np.clip(K[0, 0] * spacing_m / 0.8, 1.0, 6.0))
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)
    return cv2.GaussianBlur(grey.astype(np.float32) / 255, (0, 0), sigma)


def _surface_area(model) -> float:
    e = model.extents_m
    return float(2 * (e[0] * e[1] + e[1] * e[2] + e[0] * e[2]))  # bounding box: an upper bound


def _rank(
    H: np.ndarray,
    depth_m: np.ndarray,
    K: np.ndarray,
    model,
    k: int,
    tol_m: float = 0.02,
    hsv: np.ndarray | None = None,
    colour_weight: float = 0.5,
) -> list[int]:
    """Two-stage depth scoring (few samples for all, more for the best 300), then the
    ``k`` best diverse hypotheses. The tolerance is loose: grid hypotheses are a few cm
    and degrees off until ICP refines them. With ``hsv`` (the colour image; a textured
    model) the second stage adds how well the object's colours match the image: a box
    half hidden behind another object shows few samples, but they have its colours."""
    few = max(len(model.coarse_points) // 4, 50)
    pts, nrm = model.coarse_points, model.coarse_normals
    s1 = np.concatenate(
        [
            score_poses(c, pts[:few], nrm[:few], depth_m, K, tol_m=tol_m).score
            for c in np.array_split(H, max(1, len(H) // 4000))
        ]
    )
    top = np.argsort(-s1)[:300]
    s2 = np.full(len(H), -np.inf)
    s2[top] = score_poses(H[top], pts, nrm, depth_m, K, tol_m=tol_m).score
    if hsv is not None:
        step = max(len(model.points) // len(pts), 1)
        s2[top] += colour_weight * np.concatenate(
            [
                colour_agreement(c, model, hsv, depth_m, K, tol_m=tol_m, step=step)
                for c in np.array_split(H[top], max(1, len(top) // 50))
            ]
        )
    return _diverse_top(H, s2, k, min_dist_m=model.diameter_m / 8)


def relocalize(
    depth_m: np.ndarray,
    K: np.ndarray,
    target: ModelTarget,
    prior: np.ndarray,
    points_cam: np.ndarray,
    rng: np.random.Generator,
    refine_top: int = 4,
) -> tuple[np.ndarray, float]:
    """Local re-initialization near ``prior`` (the last good pose); returns the best pose
    and its z-buffered depth score."""
    model = target.model
    H = local_hypotheses(prior, rng)
    best_T, best_s = prior, -np.inf
    for k in _rank(H, depth_m, K, model, refine_top):
        crop = _points_near(points_cam, H[k], target, 0.04)
        if len(crop) < 30:
            continue
        T = icp(target, crop, H[k], radii_m=(0.02, 0.01, 0.005), iterations=15).T_cam_obj
        s = score_poses(
            T[None], model.points[::4], model.normals[::4], depth_m, K, zbuffer=True
        ).score[0]
        if s > best_s:
            best_T, best_s = T, float(s)
    return best_T, best_s


def in_view_fraction(
    T_cam_obj: np.ndarray, points_obj: np.ndarray, K: np.ndarray, shape: tuple[int, int]
) -> float:
    """Fraction of the object's surface samples that lie in front of the camera and
    project inside an image of ``shape``."""
    p = points_obj @ T_cam_obj[:3, :3].T + T_cam_obj[:3, 3]
    front = p[:, 2] > 1e-3
    if not front.any():
        return 0.0
    uv = project_points(K, p[front])
    h, w = shape
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    return float(inside.sum()) / len(p)


def _points_near(
    pts: np.ndarray, T_cam_obj: np.ndarray, target: ModelTarget, dist_m: float
) -> np.ndarray:
    from h2s2r.core.geometry import T_inv, transform_points

    d = target.distance(transform_points(T_inv(T_cam_obj), pts))
    return pts[d < dist_m]


def _diverse_top(H: np.ndarray, score: np.ndarray, k: int, min_dist_m: float) -> list[int]:
    """Indices of the ``k`` best hypotheses, no two closer than ``min_dist_m`` unless they
    differ in orientation by more than 30°."""
    chosen: list[int] = []
    for i in np.argsort(-score):
        if len(chosen) >= k:
            break
        ok = True
        for j in chosen:
            close = np.linalg.norm(H[i, :3, 3] - H[j, :3, 3]) < min_dist_m
            cos = (np.trace(H[i, :3, :3].T @ H[j, :3, :3]) - 1) / 2
            if close and cos > np.cos(np.deg2rad(30)):
                ok = False
                break
        if ok:
            chosen.append(int(i))
    return chosen
