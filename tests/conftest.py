"""Test environment: offline Menagerie models, local-only ROS 2, headless rendering."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
    """A 0.25 m straight push in 2 s, the robot starting at its home posture
    (:func:`h2s2r.sim.tasks.examples.straight_push`)."""
    from h2s2r.sim.tasks.examples import straight_push

    return straight_push(robot)


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


@pytest.fixture
def synth_copy(synth_box, tmp_path) -> Path:
    """A copy of the synthetic box workspace, free to break."""
    ws = tmp_path / "ws"
    shutil.copytree(synth_box, ws)
    return ws
