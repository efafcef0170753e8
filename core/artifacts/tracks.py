"""``object_track/`` and ``hand_track/``: per-frame estimates from the demo video.

Frames an estimator cannot trust are flagged ``valid = False``; their values are NaN,
never a guess. Valid frames must be finite.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from h2s2r.core.artifacts.base import (
    ArtifactBase,
    Provenance,
    load_npz,
    read_json,
    require_finite,
    require_rotations,
    save_npz,
    write_json,
)
from h2s2r.core.artifacts.scene import _prov
from h2s2r.core.errors import ArtifactError

METRICS_FILE = "metrics.json"


def write_metrics(folder: Path, metrics: Mapping[str, float]) -> None:
    """``metrics.json``: flat, numbers only (DESIGN.md)."""
    for k, v in metrics.items():
        if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool):
            raise TypeError(f"metric {k!r} must be a number, got {type(v).__name__}")
    write_json(folder / METRICS_FILE, {k: float(v) for k, v in metrics.items()})


def read_metrics(folder: Path, producer: str) -> dict[str, float]:
    path = folder / METRICS_FILE
    if not path.is_file():
        return {}
    data = read_json(path, producer)
    bad = [k for k, v in data.items() if not isinstance(v, (int, float)) or isinstance(v, bool)]
    if bad:
        raise ArtifactError(path, f"values must be numbers; not: {bad}", f"re-run `{producer}`")
    return {k: float(v) for k, v in data.items()}


def _check_valid_flags(path: Path, valid: np.ndarray, producer: str) -> np.ndarray:
    valid = np.asarray(valid)
    if valid.dtype != bool:
        raise ArtifactError(path, f"valid must be boolean, got {valid.dtype}", producer)
    return valid


@dataclass(frozen=True)
class ObjectTrack(ArtifactBase):
    """Object pose per frame in the camera frame, with fit quality."""

    SCHEMA: ClassVar[str] = "object_track"
    VERSION: ClassVar[int] = 1
    FOLDER: ClassVar[str] = "object_track"
    PRODUCER: ClassVar[str] = "h2s2r track-object DIR"
    FILE: ClassVar[str] = "poses.npz"

    T_cam_obj: np.ndarray  # (N, 4, 4); NaN where not valid
    valid: np.ndarray  # (N,) bool
    quality: Mapping[str, np.ndarray] = field(default_factory=dict)  # name -> (N,)
    method: str = "icp"
    metrics: Mapping[str, float] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.validate(folder / self.FILE)
        arrays = {"T_cam_obj": self.T_cam_obj, "valid": self.valid}
        arrays.update({f"quality_{k}": np.asarray(v) for k, v in self.quality.items()})
        save_npz(folder / self.FILE, arrays)
        write_metrics(folder, self.metrics)
        self.write_meta(
            folder,
            self.provenance,
            files=[self.FILE, METRICS_FILE],
            extra={
                "method": self.method,
                "num_frames": len(self.valid),
                "quality_keys": sorted(self.quality),
            },
        )

    @classmethod
    def load(cls, folder: str | Path) -> ObjectTrack:
        folder = Path(folder)
        meta = cls.read_meta(folder)
        d = load_npz(folder / cls.FILE, {"T_cam_obj": ("N", 4, 4), "valid": ("N",)}, cls.PRODUCER)
        quality = {k[len("quality_") :]: v for k, v in d.items() if k.startswith("quality_")}
        tr = cls(
            T_cam_obj=d["T_cam_obj"],
            valid=d["valid"],
            quality=quality,
            method=str(meta.get("method", "?")),
            metrics=read_metrics(folder, cls.PRODUCER),
            provenance=_prov(meta),
        )
        tr.validate(folder / cls.FILE)
        return tr

    def validate(self, path: Path) -> None:
        valid = _check_valid_flags(path, self.valid, self.PRODUCER)
        if self.T_cam_obj.shape != (len(valid), 4, 4):
            raise ArtifactError(
                path,
                f"T_cam_obj {self.T_cam_obj.shape} does not match valid ({len(valid)},)",
                self._rerun(),
            )
        require_finite(path, "T_cam_obj of valid frames", self.T_cam_obj[valid], self.PRODUCER)
        require_rotations(path, "T_cam_obj of valid frames", self.T_cam_obj[valid], self.PRODUCER)


@dataclass(frozen=True)
class HandTrack(ArtifactBase):
    """21 hand keypoints per frame (MediaPipe order) in the camera frame and in pixels."""

    SCHEMA: ClassVar[str] = "hand_track"
    VERSION: ClassVar[int] = 1
    FOLDER: ClassVar[str] = "hand_track"
    PRODUCER: ClassVar[str] = "h2s2r track-hand DIR"
    FILE: ClassVar[str] = "keypoints.npz"

    keypoints_cam: np.ndarray  # (N, 21, 3) metres; NaN where not valid
    keypoints_px: np.ndarray  # (N, 21, 2)
    valid: np.ndarray  # (N,) bool
    handedness: str = "right"
    method: str = "mediapipe"
    # (21,) which keypoints the method provides (HaMeR-depth gives 8 of 21); NaN elsewhere.
    present: np.ndarray = field(default_factory=lambda: np.ones(21, dtype=bool))
    metrics: Mapping[str, float] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)
    # name -> (N,) per-frame quality signals; ``gate`` holds the plausibility gate's bits
    # (0: passed; names in meta.json ``gate_bits``). Workspaces written before the gate
    # existed have none and load with an empty mapping.
    quality: Mapping[str, np.ndarray] = field(default_factory=dict)
    gate_bits: Mapping[str, int] = field(default_factory=dict)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.validate(folder / self.FILE)
        arrays = {
            "keypoints_cam": self.keypoints_cam,
            "keypoints_px": self.keypoints_px,
            "valid": self.valid,
            "handedness": np.str_(self.handedness),
            "present": np.asarray(self.present, dtype=bool),
        }
        arrays.update({f"quality_{k}": np.asarray(v) for k, v in self.quality.items()})
        save_npz(folder / self.FILE, arrays)
        write_metrics(folder, self.metrics)
        extra = {
            "method": self.method,
            "handedness": self.handedness,
            "keypoint_order": "mediapipe",
            "num_frames": len(self.valid),
        }
        if self.quality:
            extra["quality_keys"] = sorted(self.quality)
        if self.gate_bits:
            extra["gate_bits"] = dict(self.gate_bits)
        self.write_meta(folder, self.provenance, files=[self.FILE, METRICS_FILE], extra=extra)

    def gate_reason(self, frame: int) -> str:
        """Why frame ``frame`` failed the plausibility gate (``""`` when it passed or the
        track has no gate)."""
        code = int(np.asarray(self.quality.get("gate", np.zeros(len(self.valid))))[frame])
        bits = sorted(self.gate_bits.items(), key=lambda nb: int(nb[1]))
        return "+".join(n for n, b in bits if code & int(b))

    @classmethod
    def load(cls, folder: str | Path) -> HandTrack:
        folder = Path(folder)
        meta = cls.read_meta(folder)
        d = load_npz(
            folder / cls.FILE,
            {
                "keypoints_cam": ("N", 21, 3),
                "keypoints_px": ("N", 21, 2),
                "valid": ("N",),
                "handedness": (),
            },
            cls.PRODUCER,
        )
        tr = cls(
            keypoints_cam=d["keypoints_cam"],
            keypoints_px=d["keypoints_px"],
            valid=d["valid"],
            handedness=str(d["handedness"]),
            present=d.get("present", np.ones(21, dtype=bool)),
            method=str(meta.get("method", "?")),
            metrics=read_metrics(folder, cls.PRODUCER),
            provenance=_prov(meta),
            quality={k[len("quality_") :]: v for k, v in d.items() if k.startswith("quality_")},
            gate_bits={str(k): int(v) for k, v in dict(meta.get("gate_bits", {})).items()},
        )
        tr.validate(folder / cls.FILE)
        return tr

    def validate(self, path: Path) -> None:
        valid = _check_valid_flags(path, self.valid, self.PRODUCER)
        for k, v in self.quality.items():
            if np.shape(v) != (len(valid),):
                raise ArtifactError(
                    path,
                    f"quality_{k} {np.shape(v)} does not match valid ({len(valid)},)",
                    self._rerun(),
                )
        if self.handedness not in ("right", "left"):
            raise ArtifactError(
                path,
                f"handedness must be 'right' or 'left', got {self.handedness!r}",
                self._rerun(),
            )
        n = len(valid)
        if self.keypoints_cam.shape != (n, 21, 3) or self.keypoints_px.shape != (n, 21, 2):
            raise ArtifactError(
                path,
                f"keypoints must be (N,21,3) and (N,21,2) with N={n}, got "
                f"{self.keypoints_cam.shape} and {self.keypoints_px.shape}",
                self._rerun(),
            )
        present = np.asarray(self.present, dtype=bool)
        if present.shape != (21,) or not present[0]:
            raise ArtifactError(
                path, "present must be (21,) booleans including the wrist", self._rerun()
            )
        require_finite(
            path,
            "keypoints_cam of valid frames",
            self.keypoints_cam[valid][:, present],
            self.PRODUCER,
        )
        require_finite(
            path,
            "keypoints_px of valid frames",
            self.keypoints_px[valid][:, present],
            self.PRODUCER,
        )
