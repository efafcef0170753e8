"""Test environment: offline Menagerie models, local-only ROS 2, headless rendering."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("MENAGERIE_ROOT", str(SHARED_DATA / "mujoco_menagerie"))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"  # no traffic leaves this machine
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


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
