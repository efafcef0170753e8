"""Reading object meshes a user brings: OBJ, PLY, STL, OFF, GLB (Open3D) and MuJoCo .msh."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from h2s2r.core.errors import H2S2RError


def read_msh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of a MuJoCo .msh file."""
    v, f, _ = _parse_msh(path)
    return v, f


def read_msh_uv(path: Path) -> np.ndarray | None:
    """Per-vertex texture coordinates of a .msh file (None when it has none)."""
    return _parse_msh(path)[2]


def _parse_msh(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """MuJoCo's legacy binary mesh: 4 int32 counts (nv, nn, nt, nf), then float32 vertices,
    normals, texcoords and int32 faces."""
    raw = path.read_bytes()
    if len(raw) < 16:
        raise H2S2RError(f"{path}: too short for a .msh file")
    nv, nn, nt, nf = (int(x) for x in np.frombuffer(raw[:16], np.int32))
    need = 16 + 4 * (3 * nv + 3 * nn + 2 * nt + 3 * nf)
    if min(nv, nn, nt, nf) < 0 or len(raw) != need:
        raise H2S2RError(f"{path}: not a MuJoCo .msh file (size {len(raw)}, header says {need})")
    v = np.frombuffer(raw, np.float32, 3 * nv, 16).reshape(-1, 3)
    uv_off = 16 + 4 * (3 * nv + 3 * nn)
    uv = np.frombuffer(raw, np.float32, 2 * nt, uv_off).reshape(-1, 2) if nt == nv else None
    f = np.frombuffer(raw, np.int32, 3 * nf, uv_off + 4 * 2 * nt).reshape(-1, 3)
    return v.astype(np.float64), f.astype(np.int64), uv


def read_texture(mesh_path: str | Path, texture_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex UVs of ``mesh_path`` (a MuJoCo .msh) and the RGB texture image."""
    from PIL import Image

    mesh_path, texture_path = Path(mesh_path), Path(texture_path)
    if not texture_path.is_file():
        raise H2S2RError(f"{texture_path}: texture image does not exist — fix --texture PATH")
    if mesh_path.suffix.lower() != ".msh":
        raise H2S2RError(
            f"{mesh_path}: --texture is read for MuJoCo .msh meshes (per-vertex UVs); "
            "drop --texture for other formats"
        )
    uv = read_msh_uv(mesh_path)
    if uv is None:
        raise H2S2RError(f"{mesh_path}: has no per-vertex texture coordinates; drop --texture")
    return uv.astype(np.float64), np.asarray(Image.open(texture_path).convert("RGB"))


def read_mesh(path: str | Path, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (scaled) and triangles of a mesh file."""
    path = Path(path)
    if not path.is_file():
        raise H2S2RError(
            f"{path}: mesh file does not exist — pass --mesh PATH to an existing OBJ/PLY/STL file"
        )
    if path.suffix.lower() == ".msh":
        v, f = read_msh(path)
    else:
        import open3d as o3d

        mesh = o3d.io.read_triangle_mesh(str(path))
        v, f = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.triangles, np.int64)
        if path.stat().st_size == 0:
            raise H2S2RError(
                f"{path}: is empty (0 bytes) — export the mesh again (OBJ, PLY, STL) and pass "
                "--mesh PATH"
            )
        if len(v) and not len(f):
            raise H2S2RError(
                f"{path}: has {len(v)} vertices but no faces: a point cloud, not a mesh — "
                "mesh it first (e.g. Poisson reconstruction in Open3D or MeshLab) or export "
                "the scan with faces"
            )
        if len(v) == 0 or len(f) == 0:
            raise H2S2RError(
                f"{path}: no triangles could be read — export it as OBJ, PLY, STL, OFF or "
                "GLB (or a MuJoCo .msh)"
            )
    if not scale > 0:
        raise H2S2RError(f"--mesh-scale must be > 0, got {scale}")
    return v * scale, f
