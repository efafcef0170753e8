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
    mesh; a gap a fingertip could reach into shows as centimetres. Works on open meshes."""
    import open3d as o3d

    v = np.asarray(vertices, np.float64)
    tri = v[ConvexHull(v).simplices]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    rng = np.random.default_rng(seed)
    t = tri[rng.choice(len(tri), samples, p=area / area.sum())]
    r1, r2 = np.sqrt(rng.random(samples))[:, None], rng.random(samples)[:, None]
    points = (1 - r1) * t[:, 0] + r1 * (1 - r2) * t[:, 1] + r1 * r2 * t[:, 2]
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(v.astype(np.float32)), o3d.core.Tensor(np.asarray(faces, np.uint32))
    )
    return float(scene.compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy().max())


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
]
