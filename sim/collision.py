"""Collision geometry of the demo's object: its convex hull, or a convex decomposition.

MuJoCo collides a mesh geom as its convex hull. That is exact for a box or a can, but a
mug, a bowl or a drill would come out as a solid lump that fingers cannot reach into. So:

- ``hull``: one geom, the mesh (collided as its hull);
- ``coacd``: the mesh split into convex parts by CoACD (approximate convex decomposition,
  Wei et al., SIGGRAPH 2022), one collision geom each;
- ``auto`` (default): ``coacd`` when the hull's surface strays more than
  ``max_concavity_m`` (1.5 cm, about a fingertip) from the mesh's, else the hull, and
  that hull as a **box primitive** when it is a box (every corner of its bounding box
  within ``box_tolerance_m`` of a hull vertex): the same shape through MuJoCo's analytic
  box colliders instead of the general convex one, about 7 % less physics time in the
  box push. Of the six YCB meshes in ``shared/data`` only the power drill (6 cm) is
  decomposed; the scanned boxes and cans stay within 0.9 cm, and none is a box to 1 mm
  (rounded edges): only exact boxes, such as ``h2s2r synth``'s, become primitives.

Decompositions take seconds to minutes for scanned meshes, so they are cached by the
mesh's bytes and the options in ``$H2S2R_CACHE`` (default ``~/.cache/h2s2r``)/coacd.
Mass and inertia always come from the whole mesh (a visual geom carries the density;
the parts are massless), so overlapping parts do not inflate the mass.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import ConvexHull

from h2s2r.core.errors import H2S2RError

log = logging.getLogger(__name__)
METHODS = ("auto", "hull", "coacd")


@dataclass(frozen=True)
class CollisionConfig:
    method: str = "auto"  # auto | hull | coacd
    max_concavity_m: float = 0.015  # auto: decompose when the hull strays farther (m)
    box_tolerance_m: float = 0.001  # auto: a box primitive when the hull is a box to this
    coacd_threshold: float = 0.05  # CoACD concavity threshold (smaller: more, tighter parts)
    max_parts: int = 16  # at most this many convex parts (-1: no limit)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"collision method {self.method!r}: one of {list(METHODS)}")


@dataclass(frozen=True)
class BoxPrimitive:
    """A mesh whose convex hull is a box, collided as MuJoCo's box primitive."""

    center_m: np.ndarray  # (3,) box centre in the object (mesh) frame
    rotation: np.ndarray  # (3, 3) box axes as columns, in the object frame (det +1)
    half_extents_m: np.ndarray  # (3,) along those axes


def fit_box(vertices: np.ndarray, tol_m: float = 0.001) -> BoxPrimitive | None:
    """The box that the mesh's convex hull is, or ``None``: the hull's facets must face
    three mutually perpendicular directions only, and every corner of the box they bound
    must lie within ``tol_m`` of a hull vertex."""
    v = np.asarray(vertices, np.float64)
    hull = ConvexHull(v)
    axes: list[np.ndarray] = []
    for n in hull.equations[:, :3]:
        if not any(abs(n @ a) > 0.9999 for a in axes):
            axes.append(n / np.linalg.norm(n))
            if len(axes) > 3:
                return None
    if len(axes) != 3:
        return None
    R = np.stack(axes, axis=1)
    if np.abs(R.T @ R - np.eye(3)).max() > 1e-3:
        return None
    if np.linalg.det(R) < 0:
        R[:, 2] = -R[:, 2]
    local = v[hull.vertices] @ R
    lo, hi = local.min(axis=0), local.max(axis=0)
    corners = np.array(list(itertools.product(*zip(lo, hi, strict=True))))
    gap = np.linalg.norm(corners[:, None] - local[None], axis=-1).min(axis=1).max()
    if gap > tol_m:
        return None
    return BoxPrimitive(R @ (0.5 * (lo + hi)), R, 0.5 * (hi - lo))


def concavity(vertices: np.ndarray, faces: np.ndarray, samples: int = 4000, seed: int = 0) -> float:
    """How far (m) the convex hull's surface strays from the mesh's surface: the largest
    distance of points sampled on the hull (area-weighted) to the mesh. 0 for a convex
    mesh; a gap a fingertip could reach into shows as centimetres. Works on open meshes.
    Exact point-to-triangle distances (:func:`mesh_distance`), numpy and scipy only, so a
    training machine needs no perception stack."""
    v = np.asarray(vertices, np.float64)
    tri = v[ConvexHull(v).simplices]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    rng = np.random.default_rng(seed)
    t = tri[rng.choice(len(tri), samples, p=area / area.sum())]
    r1, r2 = np.sqrt(rng.random(samples))[:, None], rng.random(samples)[:, None]
    points = (1 - r1) * t[:, 0] + r1 * (1 - r2) * t[:, 1] + r1 * r2 * t[:, 2]
    return float(mesh_distance(points, v, faces).max())


def mesh_distance(
    points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, chunk: int = 1 << 20
) -> np.ndarray:
    """Exact distance ``(N,)`` (m) from each point ``(N, 3)`` to a triangle mesh.

    The nearest vertex bounds each point's distance from above (``u``); only triangles
    whose bounding sphere comes within ``u`` of the point can be nearer, so those are
    found with a k-d tree on the triangle centres and measured exactly, ``chunk`` pairs
    at a time."""
    from scipy.spatial import cKDTree

    p = np.asarray(points, np.float64)
    v = np.asarray(vertices, np.float64)
    tri = v[np.asarray(faces, np.int64)]
    # Degenerate triangles (no area) are covered by their neighbours' edges.
    area2 = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    tri = tri[area2 > 1e-12 * max(float(area2.max()), 1e-30)]
    center = tri.mean(axis=1)
    radius = np.linalg.norm(tri - center[:, None], axis=2).max(axis=1)
    used = np.unique(np.asarray(faces).ravel())
    u = cKDTree(v[used]).query(p)[0]
    near = cKDTree(center).query_ball_point(p, u + radius.max())
    counts = np.fromiter((len(n) for n in near), dtype=np.int64, count=len(p))
    pi = np.repeat(np.arange(len(p)), counts)
    ti = np.fromiter((t for n in near for t in n), dtype=np.int64, count=int(counts.sum()))
    keep = np.linalg.norm(p[pi] - center[ti], axis=1) - radius[ti] <= u[pi]
    pi, ti = pi[keep], ti[keep]
    best = u.copy()
    for s in range(0, len(pi), chunk):
        i, t = pi[s : s + chunk], ti[s : s + chunk]
        d = np.linalg.norm(p[i] - closest_on_triangles(p[i], *np.moveaxis(tri[t], 1, 0)), axis=1)
        np.minimum.at(best, i, d)
    return best


def closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray):
    """The point of each triangle ``(a, b, c)`` nearest to ``p`` (all ``(N, 3)``), by the
    Voronoi regions of its vertices, edges and face (Ericson, *Real-Time Collision
    Detection*, 5.1.5). Triangles must have area."""

    def dot(x, y):
        return np.einsum("ij,ij->i", x, y)

    ab, ac, ap, bp, cp = b - a, c - a, p - a, p - b, p - c
    d1, d2, d3, d4, d5, d6 = (
        dot(ab, ap),
        dot(ac, ap),
        dot(ab, bp),
        dot(ac, bp),
        dot(ab, cp),
        dot(ac, cp),
    )
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = 1.0 / (va + vb + vc)
        face = a + ab * (vb * denom)[:, None] + ac * (vc * denom)[:, None]
        regions = [  # in the order they are tested: the first that holds wins
            ((d1 <= 0) & (d2 <= 0), a),
            ((d3 >= 0) & (d4 <= d3), b),
            ((vc <= 0) & (d1 >= 0) & (d3 <= 0), a + ab * (d1 / (d1 - d3))[:, None]),
            ((d6 >= 0) & (d5 <= d6), c),
            ((vb <= 0) & (d2 >= 0) & (d6 <= 0), a + ac * (d2 / (d2 - d6))[:, None]),
            (
                (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0),
                b + (c - b) * ((d4 - d3) / ((d4 - d3) + (d5 - d6)))[:, None],
            ),
        ]
    out = face
    for cond, point in reversed(regions):
        out = np.where(cond[:, None], point, out)
    return out


def _cache_dir() -> Path:
    return Path(os.environ.get("H2S2R_CACHE", Path.home() / ".cache" / "h2s2r")) / "coacd"


def decompose(
    vertices: np.ndarray, faces: np.ndarray, cfg: CollisionConfig | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """CoACD convex parts ``[(vertices, faces), ...]`` of a mesh (cached)."""
    cfg = cfg or CollisionConfig()
    v = np.ascontiguousarray(vertices, np.float64)
    f = np.ascontiguousarray(faces, np.int64)
    key = hashlib.sha256(v.tobytes() + f.tobytes() + repr(asdict(cfg)).encode()).hexdigest()
    path = _cache_dir() / f"{key[:32]}.npz"
    if path.is_file():
        with np.load(path) as z:
            n = int(z["n"])
            return [(z[f"v{i}"], z[f"f{i}"]) for i in range(n)]
    try:
        import coacd
    except ImportError as e:  # pragma: no cover - a dependency of the project
        raise H2S2RError("convex decomposition needs the `coacd` package: pip install coacd") from e
    coacd.set_log_level("error")
    parts = coacd.run_coacd(
        coacd.Mesh(v, f),
        threshold=cfg.coacd_threshold,
        max_convex_hull=cfg.max_parts,
        seed=cfg.seed,
    )
    parts = [(np.asarray(pv, np.float64), np.asarray(pf, np.int64)) for pv, pf in parts]
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"v{i}": pv for i, (pv, _) in enumerate(parts)}
    arrays |= {f"f{i}": pf for i, (_, pf) in enumerate(parts)}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, n=len(parts), **arrays)
    tmp.replace(path)
    return parts


def collision_geometry(
    vertices: np.ndarray, faces: np.ndarray, cfg: CollisionConfig | None = None
) -> BoxPrimitive | list[tuple[np.ndarray, np.ndarray]] | None:
    """What the object collides as: a box primitive, convex parts, or ``None``: the mesh
    itself (its hull)."""
    cfg = cfg or CollisionConfig()
    if cfg.method == "hull":
        return None
    if cfg.method == "auto":
        gap = concavity(vertices, faces)
        if gap <= cfg.max_concavity_m:  # collided as its hull: a box primitive if it is one
            return fit_box(vertices, cfg.box_tolerance_m)
        log.info("object mesh: hull strays %.1f cm from the surface; decomposing", 100 * gap)
    return decompose(vertices, faces, cfg)


__all__ = [
    "METHODS",
    "BoxPrimitive",
    "CollisionConfig",
    "collision_geometry",
    "concavity",
    "decompose",
    "fit_box",
    "mesh_distance",
]
