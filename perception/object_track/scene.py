"""The scene around the object: its support planes (RANSAC) and the regions of a view
that could hold it (blobs standing on a support plane, or blobs of the object's colours),
used by :mod:`h2s2r.perception.object_track.init` to decide where to look."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d

from h2s2r.core.geometry import backproject_depth


@dataclass(frozen=True)
class TablePlane:
    normal_cam: np.ndarray  # (3,) unit, pointing toward the camera side (up)
    offset: float  # n·x + offset = 0 on the plane
    inlier_fraction: float

    def height(self, points_cam: np.ndarray) -> np.ndarray:
        return points_cam @ self.normal_cam + self.offset


def scene_points(
    depth_m: np.ndarray, K: np.ndarray, stride: int = 2, mask: np.ndarray | None = None
) -> np.ndarray:
    pts = backproject_depth(K, depth_m)[::stride, ::stride]
    valid = depth_m[::stride, ::stride] > 0
    if mask is not None:
        valid &= mask[::stride, ::stride]
    return pts[valid]


def fit_support_planes(
    points_cam: np.ndarray, seed: int = 0, max_planes: int = 3, min_fraction: float = 0.08
) -> list[TablePlane]:
    """Large planes (RANSAC, one after the other), oriented toward the camera.

    The table is usually the largest, but a floor or a wall can be larger in view; every
    plane that covers ``min_fraction`` of the points can support the object.
    """
    # Of parallel planes (a table over the floor, a desk behind the table) the one nearest
    # the camera is the working surface; the others are dropped.
    return merge_planes(ransac_planes(points_cam, seed, max_planes, min_fraction))


def ransac_planes(
    points_cam: np.ndarray, seed: int, max_planes: int, min_fraction: float
) -> list[TablePlane]:
    """Up to ``max_planes`` planes of at least ``min_fraction`` of the points, largest
    first, oriented toward the camera; parallel ones are all kept."""
    if len(points_cam) < 500:
        return []
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points_cam))
    pcd = pcd.voxel_down_sample(0.01)
    total = len(pcd.points)
    o3d.utility.random.seed(seed)
    planes = []
    for _ in range(max_planes):
        if len(pcd.points) < 100:
            break
        plane, inliers = pcd.segment_plane(distance_threshold=0.008, ransac_n=3, num_iterations=500)
        frac = len(inliers) / total
        if frac < min_fraction:
            break
        n = np.asarray(plane[:3], dtype=np.float64)
        d = float(plane[3])
        norm = np.linalg.norm(n)
        n, d = n / norm, d / norm
        if d < 0:  # the camera (origin) must be on the positive side: n·0 + d > 0
            n, d = -n, -d
        planes.append(TablePlane(normal_cam=n, offset=d, inlier_fraction=frac))
        pcd = pcd.select_by_index(inliers, invert=True)
    return planes


def merge_planes(planes: list[TablePlane]) -> list[TablePlane]:
    """Drop duplicates and, of parallel planes, keep the one nearest the camera."""
    kept: list[TablePlane] = []
    for pl in sorted(planes, key=lambda p: p.offset):
        if not any(parallel_planes(pl, k) for k in kept):
            kept.append(pl)
    return kept


def parallel_planes(a: TablePlane, b: TablePlane) -> bool:
    """Normals within about 18° of each other."""
    return abs(a.normal_cam @ b.normal_cam) >= 0.95


def grow_box(mask: np.ndarray) -> np.ndarray:
    """The mask's bounding box, grown by its own size on every side."""
    vs, us = np.nonzero(mask)
    h, w = mask.shape
    du, dv = us.max() - us.min() + 1, vs.max() - vs.min() + 1
    out = np.zeros_like(mask)
    out[
        max(vs.min() - dv, 0) : min(vs.max() + dv, h), max(us.min() - du, 0) : min(us.max() + du, w)
    ] = True
    return out


def propose_regions(
    depth_m: np.ndarray,
    K: np.ndarray,
    planes: list[TablePlane],
    diameter_m: float,
    min_pixels: int = 300,
    margin_px: int = 10,
) -> list[np.ndarray]:
    """Boxes (boolean images) around the blobs standing on the support planes whose
    extent is 0.3–2.5× the object's diameter (blobs may join touching objects)."""
    valid = depth_m > 0
    if not planes or not valid.any():
        return []
    pts = backproject_depth(K, depth_m)
    hts = np.stack([pl.height(pts) for pl in planes])
    above = valid & np.any((hts > 0.01) & (hts < 1.2 * diameter_m), axis=0)
    above &= np.all(np.abs(hts) > 0.01, axis=0)
    extents = (0.3 * diameter_m, 2.5 * diameter_m)
    blobs = _sized_blobs(above, 8, depth_m, K, min_pixels, extents, margin_px)
    return [box for _, box in blobs]


def _sized_blobs(
    mask: np.ndarray,
    connectivity: int,
    depth_m: np.ndarray,
    K: np.ndarray,
    min_pixels: int,
    extents_m: tuple[float, float],
    margin_px: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The connected blobs of ``mask`` of at least ``min_pixels`` whose larger side, at
    their median depth, lies within ``extents_m``: each as ``(its pixels, a box around it
    grown by margin_px)``, in label order."""
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=connectivity
    )
    h, w = depth_m.shape
    out = []
    for i in range(1, n):
        x, y, bw, bh, area = (int(s) for s in stats[i])
        if area < min_pixels:
            continue
        on = labels == i
        extent_m = max(bw, bh) * float(np.median(depth_m[on])) / K[0, 0]
        if not extents_m[0] <= extent_m <= extents_m[1]:
            continue
        box = np.zeros((h, w), dtype=bool)
        box[
            max(0, y - margin_px) : y + bh + margin_px, max(0, x - margin_px) : x + bw + margin_px
        ] = True
        out.append((on, box))
    return out


def _depth_edges(depth_m: np.ndarray, rel: float = 0.02, min_m: float = 0.02) -> np.ndarray:
    """Pixels next to a depth jump (larger than ``min_m`` and ``rel`` of the depth within
    a 3×3 neighbourhood): the outlines that separate objects touching in the image."""
    import cv2

    valid = depth_m > 0
    d = np.where(valid, depth_m, 0).astype(np.float32)
    k = np.ones((3, 3), np.uint8)
    hi = cv2.dilate(d, k)
    lo = -cv2.dilate(-np.where(valid, d, 1e3).astype(np.float32), k)
    return (hi - lo) > np.maximum(min_m, rel * d)


def colour_likelihood(
    rgb: np.ndarray, colours: np.ndarray, bins: tuple[int, int] = (24, 2), min_sat: int = 60
) -> np.ndarray:
    """Per-pixel likelihood (0..1) that a pixel shows the object, from the colours of its
    texture: histogram back-projection (Swain & Ballard, 1991) of hue and saturation, the
    model's histogram against the image's, ``M / (M + I)``. Only coloured pixels
    count (saturation ≥ ``min_sat`` of 255): the hue of grey, white and black is noise."""
    import cv2

    hsv = blurred_hsv(rgb)
    mhsv = cv2.cvtColor(np.ascontiguousarray(colours[None, :, :3]), cv2.COLOR_RGB2HSV)[0]

    def binned(x):
        hb = np.minimum(x[..., 0].astype(np.int64) * bins[0] // 180, bins[0] - 1)
        s = (x[..., 1].astype(np.int64) - min_sat) * bins[1] // (256 - min_sat)
        return np.where(x[..., 1] >= min_sat, hb * bins[1] + np.minimum(s, bins[1] - 1), -1)

    def hist(idx):
        out = np.bincount(idx[idx >= 0].ravel(), minlength=bins[0] * bins[1]).astype(float)
        return out / max(len(idx.ravel()), 1)

    mi, ii = binned(mhsv), binned(hsv)
    m, i = hist(mi), hist(ii)
    ratio = m / np.maximum(m + i, 1e-9)
    return np.where(ii >= 0, ratio[np.maximum(ii, 0)], 0.0)


def colour_regions(
    rgb: np.ndarray,
    depth_m: np.ndarray,
    K: np.ndarray,
    colours: np.ndarray,
    diameter_m: float,
    max_regions: int = 3,
    min_pixels: int = 300,
    margin_px: int = 10,
) -> list[np.ndarray]:
    """Boxes around the image's blobs of the object's colours (its texture), split at
    depth jumps, whose extent could be the object's: up to ``max_regions``, most
    object-coloured first. Independent of support planes: found on a small desk or in a
    crowd of touching objects as well."""
    import cv2

    like = cv2.GaussianBlur(colour_likelihood(rgb, colours).astype(np.float32), (0, 0), 4.0)
    valid = depth_m > 0
    if not valid.any() or like.max() <= 0:
        return []
    blob = (like >= 0.5) & valid & ~_depth_edges(depth_m)
    blob = cv2.morphologyEx(blob.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    extents = (0.2 * diameter_m, 1.5 * diameter_m)
    blobs = _sized_blobs(blob, 4, depth_m, K, min_pixels, extents, margin_px)
    found = [(float(like[on].sum()), i, box) for i, (on, box) in enumerate(blobs)]
    found.sort(key=lambda t: (-t[0], t[1]))
    return [b for _, _, b in found[:max_regions]]


def blurred_hsv(rgb: np.ndarray) -> np.ndarray:
    """The colour image, lightly blurred (sensor noise), in OpenCV's HSV."""
    import cv2

    img = cv2.GaussianBlur(np.ascontiguousarray(rgb[..., :3]), (0, 0), 1.5)
    return cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
