"""Fit a robot hand's synergies to a real recording (writes ``core/robots/synergies/``).

The 621 frames of dex-retargeting's ``human_joint_right`` (MediaPipe keypoints of a right
hand opening, closing and pinching in a video) are retargeted to the robot hand with
:class:`h2s2r.sim.retarget.ik.RetargetIK` (palm held fixed, fingertips scaled by the
registry's ``retarget_scale``), and PCA of the resulting hand joint angles gives the
components (:class:`h2s2r.core.robots.synergies.HandSynergies`). Run::

    python -m h2s2r.sim.retarget.synergies ../shared/data/hand_keypoints/human_joint_right.npz
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from h2s2r.core.errors import H2S2RError
from h2s2r.core.robots.synergies import N_SYNERGIES, SYNERGY_DIR, HandSynergies


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
    from h2s2r.core.geometry import make_T, transform_points
    from h2s2r.core.robots import get_robot
    from h2s2r.sim.retarget.ik import RetargetIK
    from h2s2r.sim.retarget.stage import robot_targets
    from h2s2r.sim.scene import build_task_scene
    from h2s2r.sim.synth.tasks import box_mesh

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
    from h2s2r.core.robots import get_robot

    robot = get_robot(robot_name)
    n_arm = sum(1 for n in robot.joint_names if not n.startswith(robot.hand_prefix))
    frames = retarget_keypoint_frames(robot_name, joints, progress)
    return np.asarray([r.qpos[n_arm:] for r in frames])


def compute_synergies(
    robot_name: str, keypoints_path: Path, k: int = N_SYNERGIES, progress=None
) -> HandSynergies:
    from h2s2r.core.robots import get_robot

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


def main(argv: list[str] | None = None) -> None:
    from rich.progress import Progress

    from h2s2r.core.robots import ROBOTS

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
