"""Helpers of the trust tests (issue #19): ``tests/test_trust_artifacts.py`` (the
guarantees) and ``tests/test_trust_probes.py`` (the held-out probe rounds' finds)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from h2s2r.core.artifacts.base import TIMING_FILE
from h2s2r.sim.tasks import make_env

QUIET = {"log": lambda *a: None}


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` but the timings."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != TIMING_FILE
    }


def copy_trained(trained_ws, tmp_path) -> Path:
    """A copy of the trained workspace without its exported policy."""
    ws = tmp_path / "ws"
    shutil.copytree(trained_ws, ws)
    shutil.rmtree(ws / "policy", ignore_errors=True)
    return ws


def push_ws(tmp_path) -> Path:
    """A workspace with the straight-push task and its box (no demo)."""
    from tests.conftest import straight_push_task

    ws = tmp_path / "ws"
    task, mesh = straight_push_task()
    task.save(ws / "task")
    mesh.save(ws / "object")
    return ws


def env_that_at_step(n: int, then, num_envs: int = 8):
    """``make_env`` whose training env (``num_envs`` worlds) calls ``then()`` at its
    ``n``-th step (raising, or sending a signal), then steps on."""
    steps = {"n": 0}

    def factory(req):
        env = make_env(req)
        if req.num_envs != num_envs:
            return env
        step = env.step

        def step_then(*a, **k):
            steps["n"] += 1
            if steps["n"] == n:
                then()
            return step(*a, **k)

        env.step = step_then
        return env

    return factory
