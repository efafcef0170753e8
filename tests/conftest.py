"""Test environment: offline Menagerie models, local-only ROS 2, headless rendering."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("MENAGERIE_ROOT", str(SHARED_DATA / "mujoco_menagerie"))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"  # no traffic leaves this machine
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


_DOMAINS = iter(range(1, 100))


@pytest.fixture
def worker_domain() -> int:
    """A ROS_DOMAIN_ID for one test, from 150-229 by this process's id and a counter, so
    two test runs on one machine rarely share one (Fast DDS ports allow up to 232)."""
    return 150 + (os.getpid() * 7 + next(_DOMAINS)) % 80


@pytest.fixture(scope="session")
def synth_box(tmp_path_factory) -> Path:
    """A short noise-free box_push demo (shared by the tests that only read it)."""
    from h2s2r.sim.synth import SynthConfig, run_synth

    return run_synth(
        SynthConfig(task="box_push", seed=7, frames=40), tmp_path_factory.mktemp("ws") / "box"
    )


@pytest.fixture(scope="session")
def synth_can(tmp_path_factory) -> Path:
    from h2s2r.sim.synth import SynthConfig, run_synth

    return run_synth(
        SynthConfig(task="can_lift", seed=3, frames=40), tmp_path_factory.mktemp("ws") / "can"
    )


def straight_push_task(robot: str = "iiwa_allegro"):
    """A 0.25 m straight push in 2 s, the robot starting at its home posture."""
    from h2s2r.core.artifacts import ObjectMesh, Task
    from h2s2r.core.geometry import look_at_T_world_cam, make_T
    from h2s2r.core.robots import get_robot
    from h2s2r.sim.synth.tasks import box_mesh

    n = 61
    t = np.arange(n) / 30.0
    s = 0.5 - 0.5 * np.cos(np.pi * t / t[-1])
    pos = np.c_[np.full(n, 0.62), -0.10 + 0.25 * s, np.full(n, 0.0305)]
    home = np.asarray(get_robot(robot).home_qpos)
    task = Task(
        t=t,
        object_pos_base=pos,
        object_quat_wxyz_base=np.tile([1.0, 0, 0, 0], (n, 1)),
        pre_manip_qpos=home,
        T_obj_palm=make_T(np.eye(3), [0, -0.1, 0.05]),
        start_idx=1,
        replay_qpos=np.tile(home, (n, 1)),
        # Across the table from the robot, looking down at the path (OpenCV frame).
        T_base_cam=look_at_T_world_cam(np.array([1.3, 0.0, 0.6]), np.array([0.62, 0.02, 0.03])),
        table_height_m=0.0,
        robot=robot,
    )
    v, f = box_mesh((0.20, 0.12, 0.06))
    return task, ObjectMesh(vertices=v, faces=f, name="box", symmetry="box")


@pytest.fixture(scope="session")
def trained_ws(tmp_path_factory):
    """A workspace with a (barely) trained policy: enough to test the plumbing."""
    from h2s2r.policy.config import TrainConfig
    from h2s2r.policy.train import run_train
    from h2s2r.sim.tasks import make_env

    ws = tmp_path_factory.mktemp("rl")
    task, mesh = straight_push_task()
    task.save(ws / "task")
    mesh.save(ws / "object")
    run_train(
        ws,
        TrainConfig(
            num_envs=8,
            total_steps=8 * 16 * 3,
            save_every=2,
            threads=2,
            validate_every=1,
            validate_episodes=4,
        ),
        make_env,
        log=lambda *a: None,
    )
    return ws
