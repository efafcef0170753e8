"""``object/``, ``ground_truth/`` and ``calibration/``: what the demo shows, besides video."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from h2s2r.core.artifacts.base import (
    ArtifactBase,
    Provenance,
    load_npz,
    read_json,
    require_finite,
    require_rotations,
    save_npz,
    sha256_file,
    write_json,
)
from h2s2r.core.errors import ArtifactError


def _prov(meta: dict[str, Any]) -> Provenance:
    return Provenance(
        config=meta.get("config", {}),
        upstream=meta.get("upstream", {}),
        h2s2r_version=meta.get("h2s2r_version", "?"),
    )


# ============================================================================ object/
def write_obj(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Minimal Wavefront OBJ (``v`` and 1-based ``f`` lines)."""
    lines = [f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in np.asarray(vertices)]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(faces)]
    path.write_text("\n".join(lines) + "\n")


def read_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of an OBJ (polygons are fanned; texture/normal refs ignored)."""
    verts: list[list[float]] = []
    faces: list[list[int]] = []
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            verts.append([float(v) for v in parts[1:4]])
        elif parts[0] == "f":
            idx = [int(p.split("/")[0]) for p in parts[1:]]
            idx = [i - 1 if i > 0 else len(verts) + i for i in idx]
            faces.extend([idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1))
    return np.asarray(verts, dtype=np.float64).reshape(-1, 3), np.asarray(
        faces, dtype=np.int64
    ).reshape(-1, 3)


@dataclass(frozen=True)
class ObjectMesh(ArtifactBase):
    """The manipulated object's surface mesh, in metres, in the object frame ``obj``."""

    SCHEMA: ClassVar[str] = "object"
    VERSION: ClassVar[int] = 1
    FOLDER: ClassVar[str] = "object"
    PRODUCER: ClassVar[str] = "h2s2r synth (or copy a mesh with --mesh PATH --mesh-scale S)"
    MESH_FILE: ClassVar[str] = "mesh.obj"
    # A hand-held object is between 5 mm and 1 m across.
    EXTENT_RANGE_M: ClassVar[tuple[float, float]] = (0.005, 1.0)

    vertices: np.ndarray  # (V, 3) metres, object frame
    faces: np.ndarray  # (F, 3) int
    name: str = "object"
    source: str = "unknown"
    scale: float = 1.0  # factor applied to the source mesh to get metres
    # Shape symmetry, for pose-error metrics: "none", "box" (180° about each axis) or
    # "cylinder_z" (any rotation about z, and 180° about x).
    symmetry: str = "none"
    provenance: Provenance = field(default_factory=Provenance)

    @property
    def extents_m(self) -> np.ndarray:
        return self.vertices.max(axis=0) - self.vertices.min(axis=0)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.validate(folder / self.MESH_FILE)
        write_obj(folder / self.MESH_FILE, self.vertices, self.faces)
        self.write_meta(
            folder,
            self.provenance,
            files=[self.MESH_FILE],
            extra={
                "name": self.name,
                "source": self.source,
                "scale": float(self.scale),
                "mesh_file": self.MESH_FILE,
                "units": "m",
                "symmetry": self.symmetry,
                "extents_m": self.extents_m.tolist(),
                "sha256": sha256_file(folder / self.MESH_FILE),
            },
        )

    @classmethod
    def load(cls, folder: str | Path) -> ObjectMesh:
        folder = Path(folder)
        meta = cls.read_meta(folder)
        path = folder / str(meta.get("mesh_file", cls.MESH_FILE))
        if not path.is_file():
            raise ArtifactError(path, "mesh file is missing", cls._rerun())
        v, f = read_obj(path)
        mesh = cls(
            vertices=v,
            faces=f,
            name=str(meta.get("name", "object")),
            source=str(meta.get("source", "unknown")),
            scale=float(meta.get("scale", 1)),
            symmetry=str(meta.get("symmetry", "none")),
            provenance=_prov(meta),
        )
        mesh.validate(path)
        return mesh

    SYMMETRIES: ClassVar[tuple[str, ...]] = ("none", "box", "cylinder_z")

    def validate(self, path: Path) -> None:
        if self.symmetry not in self.SYMMETRIES:
            raise ArtifactError(
                path,
                f"symmetry {self.symmetry!r} is not one of {self.SYMMETRIES}",
                "fix object/meta.json",
            )
        if self.vertices.ndim != 2 or self.vertices.shape[1] != 3 or len(self.vertices) < 4:
            raise ArtifactError(path, "mesh has fewer than 4 vertices", "give a closed mesh")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or len(self.faces) < 4:
            raise ArtifactError(path, "mesh has fewer than 4 triangles", "give a closed mesh")
        require_finite(path, "vertices", self.vertices, self.PRODUCER)
        if self.faces.min() < 0 or self.faces.max() >= len(self.vertices):
            raise ArtifactError(
                path,
                "a face indexes a vertex that does not exist",
                "repair the mesh (e.g. in MeshLab) and import it again",
            )
        ext = float(self.extents_m.max())
        lo, hi = self.EXTENT_RANGE_M
        if ext > hi:
            hint = " (looks like millimetres: pass --mesh-scale 0.001)" if ext > 5 else ""
            raise ArtifactError(
                path,
                f"mesh is {ext:.4g} units across; expected metres ({lo}–{hi} m){hint}",
                "rescale with --mesh-scale S",
            )
        if ext < lo:
            raise ArtifactError(
                path,
                f"mesh is {ext:.4g} units across; expected metres ({lo}–{hi} m)",
                "rescale with --mesh-scale S",
            )


# ============================================================================ ground_truth/
@dataclass(frozen=True)
class GroundTruth(ArtifactBase):
    """What a synthetic demo really did (only ``synth`` writes this).

    ``start_idx`` is the first frame in which the object has moved from its rest pose;
    ``pre_manip_idx`` the last frame before it, with the hand in its manipulation pose.
    """

    SCHEMA: ClassVar[str] = "ground_truth"
    VERSION: ClassVar[int] = 1
    FOLDER: ClassVar[str] = "ground_truth"
    PRODUCER: ClassVar[str] = "h2s2r synth --task TASK --out DIR"
    FILE: ClassVar[str] = "gt.npz"

    T_cam_obj: np.ndarray  # (N, 4, 4)
    hand_keypoints_cam: np.ndarray  # (N, 21, 3) metres, MediaPipe order
    T_base_cam: np.ndarray  # (4, 4)
    start_idx: int
    pre_manip_idx: int
    release_idx: int  # first frame of the release (hand opens)
    handedness: str = "right"
    task: str = ""
    provenance: Provenance = field(default_factory=Provenance)

    @property
    def num_frames(self) -> int:
        return len(self.T_cam_obj)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.validate(folder / self.FILE)
        save_npz(
            folder / self.FILE,
            {
                "T_cam_obj": self.T_cam_obj,
                "hand_keypoints_cam": self.hand_keypoints_cam,
                "T_base_cam": self.T_base_cam,
                "start_idx": np.int64(self.start_idx),
                "pre_manip_idx": np.int64(self.pre_manip_idx),
                "release_idx": np.int64(self.release_idx),
            },
        )
        self.write_meta(
            folder,
            self.provenance,
            files=[self.FILE],
            extra={
                "handedness": self.handedness,
                "task": self.task,
                "num_frames": self.num_frames,
                "start_idx": int(self.start_idx),
                "pre_manip_idx": int(self.pre_manip_idx),
                "release_idx": int(self.release_idx),
                "keypoint_order": "mediapipe",
                "frames": {"T_cam_obj": "obj in cam (OpenCV)", "T_base_cam": "cam in robot base"},
            },
        )

    @classmethod
    def load(cls, folder: str | Path) -> GroundTruth:
        folder = Path(folder)
        meta = cls.read_meta(folder)
        d = load_npz(
            folder / cls.FILE,
            {
                "T_cam_obj": ("N", 4, 4),
                "hand_keypoints_cam": ("N", 21, 3),
                "T_base_cam": (4, 4),
                "start_idx": (),
                "pre_manip_idx": (),
                "release_idx": (),
            },
            cls.PRODUCER,
        )
        gt = cls(
            T_cam_obj=d["T_cam_obj"],
            hand_keypoints_cam=d["hand_keypoints_cam"],
            T_base_cam=d["T_base_cam"],
            start_idx=int(d["start_idx"]),
            pre_manip_idx=int(d["pre_manip_idx"]),
            release_idx=int(d["release_idx"]),
            handedness=str(meta.get("handedness", "right")),
            task=str(meta.get("task", "")),
            provenance=_prov(meta),
        )
        gt.validate(folder / cls.FILE)
        return gt

    def validate(self, path: Path) -> None:
        for name in ("T_cam_obj", "hand_keypoints_cam", "T_base_cam"):
            require_finite(path, name, getattr(self, name), self.PRODUCER)
        require_rotations(path, "T_cam_obj", self.T_cam_obj, self.PRODUCER)
        require_rotations(path, "T_base_cam", self.T_base_cam, self.PRODUCER)
        n = self.num_frames
        if not 0 < self.pre_manip_idx < self.start_idx < self.release_idx < n:
            raise ArtifactError(
                path,
                f"frame indices must satisfy 0 < pre_manip_idx < start_idx < release_idx < "
                f"N; got {self.pre_manip_idx}, {self.start_idx}, {self.release_idx}, N={n}",
                f"re-run `{self.PRODUCER}` with more --frames",
            )


# ============================================================================ calibration/
@dataclass(frozen=True)
class Calibration(ArtifactBase):
    """Camera pose in the robot base frame, intrinsics and the table plane."""

    SCHEMA: ClassVar[str] = "calibration"
    VERSION: ClassVar[int] = 1
    FOLDER: ClassVar[str] = "calibration"
    PRODUCER: ClassVar[str] = "h2s2r calibrate OUT"
    FILE: ClassVar[str] = "calibration.json"

    T_base_cam: np.ndarray  # (4, 4)
    K: np.ndarray  # (3, 3)
    method: str
    reprojection_rms_px: float = float("nan")
    per_image_rms_px: tuple[float, ...] = ()
    table_plane_base: np.ndarray | None = None  # (4,) n·x + d = 0, n unit, pointing up
    provenance: Provenance = field(default_factory=Provenance)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.FILE
        self.validate(path)
        write_json(
            path,
            {
                "T_base_cam": self.T_base_cam,
                "K": self.K,
                "method": self.method,
                "reprojection_rms_px": None
                if np.isnan(self.reprojection_rms_px)
                else self.reprojection_rms_px,
                "per_image_rms_px": list(self.per_image_rms_px),
                "table_plane_base": None
                if self.table_plane_base is None
                else self.table_plane_base,
            },
        )
        self.write_meta(folder, self.provenance, files=[self.FILE], extra={"method": self.method})

    @classmethod
    def load(cls, folder: str | Path) -> Calibration:
        folder = Path(folder)
        meta = cls.read_meta(folder)
        path = folder / cls.FILE
        d = read_json(path, cls.PRODUCER)
        try:
            plane = d.get("table_plane_base")
            rms = d.get("reprojection_rms_px")
            cal = cls(
                T_base_cam=np.asarray(d["T_base_cam"], dtype=np.float64),
                K=np.asarray(d["K"], dtype=np.float64),
                method=str(d["method"]),
                reprojection_rms_px=float("nan") if rms is None else float(rms),
                per_image_rms_px=tuple(float(x) for x in d.get("per_image_rms_px", [])),
                table_plane_base=None if plane is None else np.asarray(plane, float),
                provenance=_prov(meta),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(path, f"lacks or mangles key {e}", cls._rerun()) from e
        cal.validate(path)
        return cal

    def validate(self, path: Path) -> None:
        if self.T_base_cam.shape != (4, 4) or self.K.shape != (3, 3):
            raise ArtifactError(
                path,
                f"T_base_cam must be 4×4 and K 3×3, got {self.T_base_cam.shape} and {self.K.shape}",
                self._rerun(),
            )
        require_finite(path, "T_base_cam", self.T_base_cam, self.PRODUCER)
        require_finite(path, "K", self.K, self.PRODUCER)
        require_rotations(path, "T_base_cam", self.T_base_cam, self.PRODUCER)
        if np.linalg.norm(self.T_base_cam[:3, 3]) > 10:
            raise ArtifactError(
                path,
                f"camera is {np.linalg.norm(self.T_base_cam[:3, 3]):.1f} "
                "units from the robot base: translation must be in metres",
                "convert the translation to metres and re-import",
            )
