"""Hand synergies of each robot hand: the committed components and their loader.

The anchor's policy commands five hand-synergy coefficients instead of 16 finger joints.
Its synergies are principal components of hand postures; ours are computed the same way
from a real recording (:mod:`h2s2r.sim.retarget.synergies` retargets dex-retargeting's
``human_joint_right`` keypoints to the robot hand and takes the PCA of its joint angles).
The result is committed per robot as ``core/robots/synergies/<robot>.json`` (with the
source file's hash and the explained variance) so that training and deployment need no
data download; regenerate it with::

    python -m h2s2r.sim.retarget.synergies ../shared/data/hand_keypoints/human_joint_right.npz

Semantics: ``matrix[:, k]`` is the joint motion (rad) of component ``k`` at two standard
deviations of the recorded data, so an action coefficient of ±1 spans ±2σ of real hands.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from h2s2r.core.errors import H2S2RError

SYNERGY_DIR = Path(__file__).parent / "synergies"
N_SYNERGIES = 5


@dataclass(frozen=True)
class HandSynergies:
    robot: str
    joint_names: tuple[str, ...]  # hand joints, registry order
    mean_qpos: np.ndarray  # (n_hand,) mean retargeted posture (rad)
    components: np.ndarray  # (n_hand, k) orthonormal principal directions
    std_rad: np.ndarray  # (k,) standard deviation of the data along each component
    explained_variance: np.ndarray  # (k,) fraction of the total variance
    source: dict

    @property
    def matrix(self) -> np.ndarray:
        """``(n_hand, k)`` joint motion per unit coefficient (± 2σ of the data)."""
        return self.components * (2.0 * self.std_rad)

    def save(self, path: Path) -> None:
        doc = {
            "robot": self.robot,
            "joint_names": list(self.joint_names),
            "mean_qpos": self.mean_qpos.round(6).tolist(),
            "components": self.components.round(6).tolist(),
            "std_rad": self.std_rad.round(6).tolist(),
            "explained_variance": self.explained_variance.round(6).tolist(),
            "source": self.source,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> HandSynergies:
        doc = json.loads(Path(path).read_text())
        return cls(
            robot=doc["robot"],
            joint_names=tuple(doc["joint_names"]),
            mean_qpos=np.asarray(doc["mean_qpos"]),
            components=np.asarray(doc["components"]),
            std_rad=np.asarray(doc["std_rad"]),
            explained_variance=np.asarray(doc["explained_variance"]),
            source=doc["source"],
        )


def load_synergies(robot_name: str) -> HandSynergies:
    path = SYNERGY_DIR / f"{robot_name}.json"
    if not path.is_file():
        raise H2S2RError(
            f"{path}: no hand synergies for robot {robot_name!r} — compute them with "
            "`python -m h2s2r.sim.retarget.synergies <keypoints.npz> --robot " + robot_name + "`"
        )
    return HandSynergies.load(path)
