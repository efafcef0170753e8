"""``task/``: the simulator's only input from the demo (DESIGN.md).

The object trajectory in the robot base frame from the start of motion to the end, the
retargeted pre-manipulation robot configuration, the palm pose relative to the object at
that moment, the retargeted robot trajectory (the replay baseline), the camera's pose and
the table's height. Schema 2 made the last three typed fields (schema 1 kept them in
``extras``; such files still load when they hold them).
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
    require_finite,
    require_rotations,
    save_npz,
)
from h2s2r.core.artifacts.scene import _prov
from h2s2r.core.errors import ArtifactError


@dataclass(frozen=True)
class Task(ArtifactBase):
    """Demo-derived task: object path (base frame, wxyz), pre-manipulation robot state."""

    SCHEMA: ClassVar[str] = "task"
    VERSION: ClassVar[int] = 2
    READS_VERSIONS: ClassVar[tuple[int, ...]] = (1,)
    FOLDER: ClassVar[str] = "task"
    PRODUCER: ClassVar[str] = "h2s2r retarget DIR"
    FILE: ClassVar[str] = "task.npz"

    t: np.ndarray  # (M,) seconds from the first kept frame
    object_pos_base: np.ndarray  # (M, 3)
    object_quat_wxyz_base: np.ndarray  # (M, 4)
    pre_manip_qpos: np.ndarray  # (nq_robot,)
    T_obj_palm: np.ndarray  # (4, 4)
    start_idx: int  # demo frame index of t[0]
    replay_qpos: np.ndarray  # (M, nq_robot) retargeted robot joints at each waypoint
    T_base_cam: np.ndarray  # (4, 4) the demo camera in the robot base frame
    table_height_m: float  # the table top is the plane z = table_height_m (base frame)
    robot: str = "iiwa_allegro"
    object_mesh: str = "object/mesh.obj"  # relative to the workspace
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)  # e.g. ik residuals
    provenance: Provenance = field(default_factory=Provenance)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.validate(folder / self.FILE)
        arrays = {
            "t": self.t,
            "object_pos_base": self.object_pos_base,
            "object_quat_wxyz_base": self.object_quat_wxyz_base,
            "pre_manip_qpos": self.pre_manip_qpos,
            "T_obj_palm": self.T_obj_palm,
            "start_idx": np.int64(self.start_idx),
            "replay_qpos": self.replay_qpos,
            "T_base_cam": self.T_base_cam,
            "table_height_m": np.float64(self.table_height_m),
        }
        arrays.update({f"extra_{k}": np.asarray(v) for k, v in self.extras.items()})
        save_npz(folder / self.FILE, arrays)
        self.write_meta(
            folder,
            self.provenance,
            files=[self.FILE],
            extra={
                "robot": self.robot,
                "object_mesh": self.object_mesh,
                "num_waypoints": len(self.t),
                "frames": {"object_*_base": "object in robot base", "T_obj_palm": "palm in obj"},
            },
        )

    @classmethod
    def load(cls, folder: str | Path) -> Task:
        folder = Path(folder)
        meta = cls.read_meta(folder)
        path = folder / cls.FILE
        keys = {
            "t": ("M",),
            "object_pos_base": ("M", 3),
            "object_quat_wxyz_base": ("M", 4),
            "pre_manip_qpos": (None,),
            "T_obj_palm": (4, 4),
            "start_idx": (),
        }
        typed = {"replay_qpos": ("M", None), "T_base_cam": (4, 4), "table_height_m": ()}
        version = int(meta["schema"]["version"])
        d = load_npz(path, keys | typed if version >= 2 else keys, cls.PRODUCER)
        extras = {k[6:]: v for k, v in d.items() if k.startswith("extra_")}
        if version < 2:  # schema 1 kept the typed fields among the extras
            missing = sorted(set(typed) - set(extras))
            if missing:
                raise ArtifactError(
                    path, f"(schema 1) lacks {missing}", f"{cls._rerun()} to rewrite it"
                )
            d |= {k: extras.pop(k) for k in typed}
        task = cls(
            t=d["t"],
            object_pos_base=d["object_pos_base"],
            object_quat_wxyz_base=d["object_quat_wxyz_base"],
            pre_manip_qpos=d["pre_manip_qpos"],
            T_obj_palm=d["T_obj_palm"],
            start_idx=int(d["start_idx"]),
            replay_qpos=d["replay_qpos"],
            T_base_cam=d["T_base_cam"],
            table_height_m=float(d["table_height_m"]),
            robot=str(meta.get("robot", "?")),
            object_mesh=str(meta.get("object_mesh", "object/mesh.obj")),
            extras=extras,
            provenance=_prov(meta),
        )
        task.validate(path)
        return task

    def validate(self, path: Path) -> None:
        m = len(self.t)
        if m < 2:
            raise ArtifactError(
                path,
                f"trajectory has {m} waypoints; need at least 2",
                "check that the object moves in the demo",
            )
        if self.object_pos_base.shape != (m, 3) or self.object_quat_wxyz_base.shape != (m, 4):
            raise ArtifactError(
                path,
                f"object_pos_base must be (M,3) and object_quat_wxyz_base (M,4) with M={m}",
                self._rerun(),
            )
        n = len(self.pre_manip_qpos)
        if np.shape(self.replay_qpos) != (m, n) or np.shape(self.T_base_cam) != (4, 4):
            raise ArtifactError(
                path,
                f"replay_qpos must be (M, n) = ({m}, {n}) and T_base_cam (4, 4); got "
                f"{np.shape(self.replay_qpos)} and {np.shape(self.T_base_cam)}",
                self._rerun(),
            )
        for name in (
            "t",
            "object_pos_base",
            "object_quat_wxyz_base",
            "pre_manip_qpos",
            "T_obj_palm",
            "replay_qpos",
            "T_base_cam",
            "table_height_m",
        ):
            require_finite(path, name, getattr(self, name), self.PRODUCER)
        require_rotations(path, "T_obj_palm", self.T_obj_palm, self.PRODUCER)
        require_rotations(path, "T_base_cam", self.T_base_cam, self.PRODUCER)
        if np.any(np.diff(self.t) <= 0):
            raise ArtifactError(path, "t must increase strictly", self._rerun())
        norms = np.linalg.norm(self.object_quat_wxyz_base, axis=-1)
        if np.max(np.abs(norms - 1.0)) > 1e-4:
            raise ArtifactError(
                path, "object_quat_wxyz_base holds non-unit quaternions", self._rerun()
            )
