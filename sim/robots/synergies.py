"""Hand synergies by PCA of real human hand poses retargeted to each robot hand.

The anchor's policy commands five hand-synergy coefficients instead of 16 finger joints.
Its synergies are principal components of hand postures; ours are computed the same way
from a real recording: the 621 frames of dex-retargeting's ``human_joint_right`` (MediaPipe
keypoints of a right hand opening, closing and pinching in a video) are retargeted to the
robot hand with :class:`sim.retarget.ik.RetargetIK` (palm held fixed, fingertips scaled by
the registry's ``retarget_scale``), and PCA of the resulting hand joint angles gives the
components. The result is committed per robot as ``sim/robots/synergies/<robot>.json``
(with the source file's hash and the explained variance) so that training and deployment
need no data download; regenerate it with::

    python -m sim.robots.synergies ../shared/data/hand_keypoints/human_joint_right.npz

Semantics: ``matrix[:, k]`` is the joint motion (rad) of component ``k`` at two standard
deviations of the recorded data, so an action coefficient of ±1 spans ±2σ of real hands.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import H2S2RError

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


def pca(samples: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, ``(d, k)`` components, their standard deviations and explained-variance
    fractions of ``samples (N, d)``. Signs are fixed so each component's largest entry is
    positive (deterministic output)."""
    mean = samples.mean(axis=0)
    _, s, vt = np.linalg.svd(samples - mean, full_matrices=False)
    comps = vt[:k].T
    signs = np.sign(comps[np.argmax(np.abs(comps), axis=0), np.arange(k)])
    comps = comps * signs
    var = s**2 / max(len(samples) - 1, 1)
    return mean, comps, np.sqrt(var[:k]), var[:k] / var.sum()


def retarget_keypoint_frames(robot_name: str, joints: np.ndarray, progress=None):
    """IK results, frame by frame (each warm-started from the last), for human keypoints
    ``(N, 21, 3)`` (wrist frame, metres) held palm-down in front of the robot."""
    from pipeline.geometry import make_T, transform_points
    from sim.retarget.ik import RetargetIK
    from sim.retarget.stage import robot_targets
    from sim.robots import get_robot
    from sim.scene import build_task_scene
    from sim.synth.tasks import box_mesh

    robot = get_robot(robot_name)
    v, f = box_mesh((0.05, 0.05, 0.05))
    scene = build_task_scene(robot, v, f, table_height_m=0.0)
    ik = RetargetIK(scene, robot)
    ik.set_object_pose(make_T(np.eye(3), [0.3, -0.6, 0.025]))  # out of the way
    palm_down = np.stack([[0, 0, -1.0], [0, 1.0, 0], [1.0, 0, 0]], axis=1)
    T_base_hand = make_T(palm_down, [0.55, 0.0, 0.30])
    q = np.asarray(robot.home_qpos)
    for i, kp in enumerate(joints):
        palm, tips = robot_targets(
            np.eye(4),
            transform_points(T_base_hand, kp),
            "right",
            np.ones(21, bool),
            robot.finger_map,
            robot.retarget_scale,
        )
        result = ik.solve(palm, tips, q)
        q = result.qpos
        yield result
        if progress:
            progress(i + 1, len(joints))


def retarget_hand_poses(robot_name: str, joints: np.ndarray, progress=None) -> np.ndarray:
    """Robot hand joint angles ``(N, n_hand)`` for human keypoints ``(N, 21, 3)``."""
    from sim.robots import get_robot

    robot = get_robot(robot_name)
    n_arm = sum(1 for n in robot.joint_names if not n.startswith(robot.hand_prefix))
    frames = retarget_keypoint_frames(robot_name, joints, progress)
    return np.asarray([r.qpos[n_arm:] for r in frames])


def compute_synergies(
    robot_name: str, keypoints_path: Path, k: int = N_SYNERGIES, progress=None
) -> HandSynergies:
    from sim.robots import get_robot

    keypoints_path = Path(keypoints_path)
    if not keypoints_path.is_file():
        raise H2S2RError(f"{keypoints_path}: no such file (an .npz with 'joints' (N, 21, 3))")
    joints = np.load(keypoints_path)["joints"].astype(np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (21, 3) or not np.isfinite(joints).all():
        raise H2S2RError(f"{keypoints_path}: 'joints' must be finite (N, 21, 3) metres")
    q = retarget_hand_poses(robot_name, joints, progress)
    mean, comps, std, frac = pca(q, k)
    robot = get_robot(robot_name)
    return HandSynergies(
        robot=robot_name,
        joint_names=tuple(n for n in robot.joint_names if n.startswith(robot.hand_prefix)),
        mean_qpos=mean,
        components=comps,
        std_rad=std,
        explained_variance=frac,
        source={
            "file": keypoints_path.name,
            "sha256": hashlib.sha256(keypoints_path.read_bytes()).hexdigest(),
            "frames": len(joints),
            "method": "RetargetIK palm-down, PCA of hand joint angles",
        },
    )


def load_synergies(robot_name: str) -> HandSynergies:
    path = SYNERGY_DIR / f"{robot_name}.json"
    if not path.is_file():
        raise H2S2RError(
            f"{path}: no hand synergies for robot {robot_name!r} — compute them with "
            "`python -m sim.robots.synergies <keypoints.npz> --robot " + robot_name + "`"
        )
    return HandSynergies.load(path)


def main(argv: list[str] | None = None) -> None:
    from rich.progress import Progress

    from sim.robots import ROBOTS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("keypoints", type=Path, help="npz with 'joints' (N, 21, 3), wrist frame, m")
    ap.add_argument("--robot", action="append", help="robot name (default: every robot)")
    args = ap.parse_args(argv)
    for name in args.robot or sorted(ROBOTS):
        with Progress() as bar:
            job = bar.add_task(f"retarget {name}", total=None)
            syn = compute_synergies(
                name,
                args.keypoints,
                progress=lambda i, n, job=job: bar.update(job, completed=i, total=n),
            )
        syn.save(SYNERGY_DIR / f"{name}.json")
        print(
            f"{name}: {N_SYNERGIES} components explain "
            f"{100 * syn.explained_variance.sum():.1f} % of the variance "
            f"({', '.join(f'{100 * v:.1f}' for v in syn.explained_variance)} %); "
            f"σ = {np.round(syn.std_rad, 3).tolist()} rad"
        )


if __name__ == "__main__":
    main()
