"""The object model for tracking: surface samples with normals, and depth-agreement scores.

The score of a pose hypothesis compares the model's visible surface, projected into the
depth image, with the measured depth at the same pixels: a sample *agrees* when the
measured depth is within ``tol`` of the model's, is *occluded* when something is measured
in front of it (the hand, another object: allowed), and *violates* free space when the
camera sees farther than the model's surface (the object cannot be there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from h2s2r.core.geometry import transform_points


def sample_surface(
    vertices: np.ndarray, faces: np.ndarray, n: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` area-uniform surface samples and their (outward) face normals."""
    pts, nrm, _, _ = _sample_surface(vertices, faces, n, seed)
    return pts, nrm


def sample_texture(
    faces: np.ndarray,
    uv: np.ndarray,
    texture: np.ndarray,
    face_idx: np.ndarray,
    bary: np.ndarray,
    size: int = 256,
) -> np.ndarray:
    """Grey level (0..1) of the texture at surface samples given by face and barycentric
    coordinates; ``uv`` are per-vertex texture coordinates with v = 0 at the image's first
    row (MuJoCo's .msh convention). The texture is box-filtered to ``size`` first: a sample
    stands for a patch of the surface, not one texel."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(texture[..., :3]), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA).astype(np.float64) / 255
    t = np.einsum("nk,nkj->nj", bary, uv[faces[face_idx]])
    col = np.clip(((t[:, 0] % 1.0) * size).astype(int), 0, size - 1)
    row = np.clip(((t[:, 1] % 1.0) * size).astype(int), 0, size - 1)
    return grey[row, col]


def sample_texture_rgb(
    faces: np.ndarray,
    uv: np.ndarray,
    texture: np.ndarray,
    face_idx: np.ndarray,
    bary: np.ndarray,
    size: int = 256,
) -> np.ndarray:
    """RGB (uint8, ``(n, 3)``) of the texture at surface samples, like
    :func:`sample_texture`."""
    import cv2

    small = cv2.resize(
        np.ascontiguousarray(texture[..., :3]), (size, size), interpolation=cv2.INTER_AREA
    )
    t = np.einsum("nk,nkj->nj", bary, uv[faces[face_idx]])
    col = np.clip(((t[:, 0] % 1.0) * size).astype(int), 0, size - 1)
    row = np.clip(((t[:, 1] % 1.0) * size).astype(int), 0, size - 1)
    return np.asarray(small[row, col], dtype=np.uint8)


def _sample_surface(vertices, faces, n, seed):
    v = np.asarray(vertices, dtype=np.float64)
    tri = v[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = 0.5 * np.linalg.norm(cross, axis=1)
    normals = cross / np.maximum(2 * area[:, None], 1e-12)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(faces), size=n, p=area / area.sum())
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    bary = np.stack([1 - s, s * (1 - r2), s * r2], axis=1)
    pts = np.einsum("nk,nkj->nj", bary, tri[idx])
    return pts, normals[idx], idx, bary


@dataclass(frozen=True)
class DepthScore:
    agree: np.ndarray  # (H,) samples within tol of the measured depth
    violate: np.ndarray  # (H,) samples the camera sees through
    occluded: np.ndarray  # (H,) samples behind something measured in front
    visible: np.ndarray  # (H,) samples facing the camera inside the image
    facing: np.ndarray  # (H,) samples facing the camera, inside the image or not

    @property
    def score(self) -> np.ndarray:
        """Agreement minus twice the free-space violations, per sample facing the camera
        (samples that fall outside the image count as unexplained)."""
        return (self.agree - 2.0 * self.violate) / np.maximum(self.facing, 1)

    @property
    def agreement(self) -> np.ndarray:
        """Fraction of the unoccluded visible samples that agree with the depth."""
        return self.agree / np.maximum(self.agree + self.violate, 1)


@dataclass(frozen=True)
class ObjectModel:
    """Surface samples of the object (object frame) at two densities."""

    points: np.ndarray  # (P, 3) dense, for ICP targets and outlines
    normals: np.ndarray  # (P, 3)
    coarse_points: np.ndarray  # (Q, 3) for scoring many hypotheses
    coarse_normals: np.ndarray
    extents_m: np.ndarray  # (3,)
    center_obj: np.ndarray  # (3,) bounding-box centre
    diameter_m: float
    grey: np.ndarray | None = None  # (P,) texture grey level of ``points`` (textured meshes)
    colour: np.ndarray | None = None  # (P, 3) uint8 texture RGB of ``points`` (textured meshes)

    @staticmethod
    def from_mesh(
        vertices: np.ndarray,
        faces: np.ndarray,
        n_dense: int = 6000,
        n_coarse: int = 400,
        uv: np.ndarray | None = None,
        texture: np.ndarray | None = None,
    ) -> ObjectModel:
        pts, nrm, idx, bary = _sample_surface(vertices, faces, n_dense, seed=0)
        cpts, cnrm = sample_surface(vertices, faces, n_coarse, seed=1)
        lo, hi = vertices.min(axis=0), vertices.max(axis=0)
        grey = colour = None
        if uv is not None and texture is not None:
            grey = sample_texture(faces, uv, texture, idx, bary)
            colour = sample_texture_rgb(faces, uv, texture, idx, bary)
        return ObjectModel(
            points=pts,
            normals=nrm,
            coarse_points=cpts,
            coarse_normals=cnrm,
            extents_m=hi - lo,
            center_obj=(lo + hi) / 2,
            diameter_m=float(np.linalg.norm(hi - lo)),
            grey=grey,
            colour=colour,
        )


def score_poses(
    T_cam_obj: np.ndarray,
    points_obj: np.ndarray,
    normals_obj: np.ndarray,
    depth_m: np.ndarray,
    K: np.ndarray,
    tol_m: float = 0.01,
    zbuffer: bool = False,
    min_cos: float = 0.3,
) -> DepthScore:
    """Depth agreement of hypotheses ``T_cam_obj (H, 4, 4)`` with a depth image.

    Visibility: samples whose normals face the camera by more than ``min_cos`` (grazing
    samples project onto silhouette edges, where real depth is unreliable); with
    ``zbuffer`` also only the nearest sample per pixel (self-occlusion), per hypothesis.
    """
    T = np.asarray(T_cam_obj, dtype=np.float64).reshape(-1, 4, 4)
    h, w = depth_m.shape
    p = transform_points(T, points_obj)  # (H, P, 3)
    n = normals_obj @ np.swapaxes(T[:, :3, :3], -1, -2)  # (H, P, 3)
    z = p[..., 2]
    cos = -np.einsum("hpi,hpi->hp", n, p) / np.maximum(np.linalg.norm(p, axis=-1), 1e-9)
    facing = cos > min_cos
    zs = np.where(z > 1e-3, z, 1.0)
    u = np.rint(K[0, 0] * p[..., 0] / zs + K[0, 2]).astype(np.int64)
    v = np.rint(K[1, 1] * p[..., 1] / zs + K[1, 2]).astype(np.int64)
    facing &= z > 1e-3
    vis = facing & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    uc, vc = np.clip(u, 0, w - 1), np.clip(v, 0, h - 1)
    if zbuffer:
        hyp = np.broadcast_to(np.arange(len(T))[:, None], z.shape)
        key = (hyp * h + vc) * w + uc
        zb = np.full(len(T) * h * w, np.inf)
        np.minimum.at(zb, key[vis], z[vis])
        vis &= z <= zb[key] + 0.003
    d = depth_m[vc, uc]
    measured = vis & (d > 0)
    r = d - z
    agree = measured & (np.abs(r) < tol_m)
    violate = measured & (r >= tol_m)
    occluded = measured & (r <= -tol_m)
    return DepthScore(
        agree=agree.sum(-1),
        violate=violate.sum(-1),
        occluded=occluded.sum(-1),
        visible=vis.sum(-1),
        facing=facing.sum(-1),
    )


def boundary_support(
    T_cam_obj: np.ndarray,
    points_obj: np.ndarray,
    depth_m: np.ndarray,
    K: np.ndarray,
    ring_px: int = 4,
    step_m: float = 0.02,
) -> float:
    """Fraction of the pixels just outside the object's silhouette whose depth jumps.

    An object's outline is a depth discontinuity: just outside it the camera sees the
    background (farther) or an occluder (nearer), not the continuation of the object's own
    surface. A hypothesis that fits a patch of a larger surface (the front of another box)
    has no such jumps. Pixels without depth count half (sensors drop edges).
    """
    import cv2
    from scipy.ndimage import grey_erosion

    h, w = depth_m.shape
    p = transform_points(T_cam_obj, points_obj)
    p = p[p[:, 2] > 0.05]
    u = np.rint(K[0, 0] * p[:, 0] / p[:, 2] + K[0, 2]).astype(int)
    v = np.rint(K[1, 1] * p[:, 1] / p[:, 2] + K[1, 2]).astype(int)
    ok = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    if ok.sum() < 10:
        return 0.0
    model_depth = np.full((h, w), np.inf)
    np.minimum.at(model_depth, (v[ok], u[ok]), p[ok, 2])
    sil = np.isfinite(model_depth).astype(np.uint8)
    sil = cv2.morphologyEx(sil, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    outer = cv2.dilate(sil, np.ones((2 * ring_px + 1,) * 2, np.uint8))
    inner = cv2.dilate(sil, np.ones((3, 3), np.uint8))
    ring = (outer > 0) & (inner == 0)
    if not ring.any():
        return 0.0
    # Depth of the nearest part of the model: a min filter spreads it over the ring.
    edge_depth = grey_erosion(
        np.where(np.isfinite(model_depth), model_depth, 1e3), size=2 * ring_px + 5
    )
    d = depth_m[ring]
    jump = np.abs(d - edge_depth[ring]) > step_m
    return float(np.mean(np.where(d > 0, jump, 0.5)))


def texture_agreement(
    T_cam_obj: np.ndarray,
    model: ObjectModel,
    grey_image: np.ndarray,
    depth_m: np.ndarray,
    K: np.ndarray,
    tol_m: float = 0.01,
    min_samples: int = 50,
) -> float:
    """Normalized cross-correlation between the model's texture and the image, over the
    visible samples that agree with the depth (-1..1; 0 without texture or samples).

    Depth cannot tell a box from its 180° turn, or a cereal box from a look-alike box;
    the print can. NCC ignores the camera's gain, offset and white balance.
    ``grey_image`` should be blurred to about the samples' spacing in pixels.
    """
    if model.grey is None:
        return 0.0
    h, w = depth_m.shape
    p = transform_points(T_cam_obj, model.points)
    n = model.normals @ T_cam_obj[:3, :3].T
    z = p[:, 2]
    facing = -(n * p).sum(1) > 0.3 * np.linalg.norm(p, axis=1)
    zs = np.where(z > 1e-3, z, 1.0)
    u = np.rint(K[0, 0] * p[:, 0] / zs + K[0, 2]).astype(np.int64)
    v = np.rint(K[1, 1] * p[:, 1] / zs + K[1, 2]).astype(np.int64)
    ok = facing & (z > 1e-3) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    uc, vc = np.clip(u, 0, w - 1), np.clip(v, 0, h - 1)
    ok &= (depth_m[vc, uc] > 0) & (np.abs(depth_m[vc, uc] - z) < tol_m)
    if ok.sum() < min_samples:
        return 0.0
    a = model.grey[ok]
    b = grey_image[vc[ok], uc[ok]].astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 1e-9 else 0.0


def colour_agreement(
    T_cam_obj: np.ndarray,
    model: ObjectModel,
    hsv_image: np.ndarray,
    depth_m: np.ndarray,
    K: np.ndarray,
    tol_m: float = 0.01,
    min_sat: int = 60,
    max_hue_diff: int = 12,
    min_samples: int = 30,
    step: int = 1,
) -> np.ndarray | float:
    """Fraction of the model's coloured samples (texture saturation ≥ ``min_sat``) that,
    visible and agreeing with the depth, see a coloured pixel of about their hue (within
    ``max_hue_diff`` of OpenCV's 0..180 hue; 0 without texture or samples).

    The grey print's correlation (:func:`texture_agreement`) ignores colour: a look-alike
    box in other colours, or a plain surface, can still correlate; the hue of a red box
    against a blue one cannot. Hue survives the camera's gain and most of its white
    balance. ``hsv_image``: the colour image in OpenCV's HSV (uint8). ``T_cam_obj``: one
    pose (returns a float) or ``(H, 4, 4)`` (returns ``(H,)``); ``step``: every
    ``step``-th surface sample."""
    single = np.ndim(T_cam_obj) == 2
    T = np.asarray(T_cam_obj, dtype=np.float64).reshape(-1, 4, 4)
    if model.colour is None:
        return 0.0 if single else np.zeros(len(T))
    import cv2

    mhsv = cv2.cvtColor(np.ascontiguousarray(model.colour[None, ::step]), cv2.COLOR_RGB2HSV)[0]
    coloured = mhsv[:, 1] >= min_sat
    h, w = depth_m.shape
    p = transform_points(T, model.points[::step])  # (H, P, 3)
    n = model.normals[::step] @ np.swapaxes(T[:, :3, :3], -1, -2)
    z = p[..., 2]
    facing = -(n * p).sum(-1) > 0.3 * np.linalg.norm(p, axis=-1)
    zs = np.where(z > 1e-3, z, 1.0)
    u = np.rint(K[0, 0] * p[..., 0] / zs + K[0, 2]).astype(np.int64)
    v = np.rint(K[1, 1] * p[..., 1] / zs + K[1, 2]).astype(np.int64)
    ok = coloured & facing & (z > 1e-3) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    uc, vc = np.clip(u, 0, w - 1), np.clip(v, 0, h - 1)
    d = depth_m[vc, uc]
    ok &= (d > 0) & (np.abs(d - z) < tol_m)
    img = hsv_image[vc, uc].astype(np.int64)  # (H, P, 3)
    dh = np.abs(img[..., 0] - mhsv[:, 0].astype(np.int64))
    dh = np.minimum(dh, 180 - dh)
    match = ok & (dh <= max_hue_diff) & (img[..., 1] >= min_sat // 2)
    n_ok = ok.sum(-1)
    out = np.where(n_ok >= min_samples, match.sum(-1) / np.maximum(n_ok, 1), 0.0)
    return float(out[0]) if single else out
