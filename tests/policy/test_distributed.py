"""Data-parallel PPO over two CPU processes (gloo): the same weights on every rank after
learning from different worlds, and weights that moved (the gradients were shared, not
skipped)."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("rsl_rl")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, port: int, out: str) -> None:
    os.environ.update(
        WORLD_SIZE="2",
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        TORCHELASTIC_RUN_ID="test",  # as torchrun sets it
    )
    import torch.distributed as dist

    from h2s2r.policy.config import TrainConfig, ppo_config
    from h2s2r.policy.distributed import SEED_STRIDE, runner_class
    from h2s2r.policy.rsl_env import RslVecEnv
    from h2s2r.sim.tasks.examples import straight_push
    from h2s2r.sim.tasks.track_demo import TrackDemoEnv, make_task_cfg

    torch.manual_seed(rank)  # different initial weights: the broadcast must align them
    task, mesh = straight_push()
    env = TrackDemoEnv(
        task, mesh, make_task_cfg("small"), num_envs=4, nthread=1, seed=rank * SEED_STRIDE
    )
    cfg = TrainConfig(num_envs=4, steps_per_env=8)
    runner = runner_class()(RslVecEnv(env), ppo_config(cfg), log_dir=None, device="cpu")
    assert runner.is_distributed and dist.get_backend() == "gloo"
    runner.learn(1)  # broadcasts rank 0's weights before collecting
    start = torch.nn.utils.parameters_to_vector(runner.alg.actor.parameters()).detach().clone()
    runner.learn(2)
    end = torch.nn.utils.parameters_to_vector(runner.alg.actor.parameters()).detach()
    np.savez(f"{out}/rank{rank}.npz", start=start.numpy(), end=end.numpy())
    dist.destroy_process_group()
    env.close()


def test_two_processes_share_gradients_over_gloo(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_rank_main, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = np.load(tmp_path / "rank0.npz"), np.load(tmp_path / "rank1.npz")
    np.testing.assert_allclose(r0["start"], r1["start"], atol=1e-7)  # aligned at the start
    np.testing.assert_allclose(r0["end"], r1["end"], atol=1e-6)  # and after two updates
    assert np.abs(r0["end"] - r0["start"]).max() > 1e-4  # that did change the weights


def test_torchrun_train_two_cpu_processes(tmp_path):
    """``torchrun --nproc-per-node 2 h2s2r train``: one run in train/ (rank 0 holds the
    workspace lock and writes; rank 1 writes nothing), env-steps counted over both."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from h2s2r.sim.tasks.examples import straight_push

    task, mesh = straight_push()
    task.save(tmp_path / "task")
    mesh.save(tmp_path / "object")
    bin_dir = Path(sys.executable).parent
    r = subprocess.run(
        [
            str(bin_dir / "torchrun"),
            "--standalone",
            "--nproc-per-node",
            "2",
            str(bin_dir / "h2s2r"),
            "train",
            str(tmp_path),
            "--num-envs",
            "4",
            "--total-steps",
            "512",
            "--validate-every",
            "2",
            "--validate-episodes",
            "2",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "data-parallel training: 2 processes" in r.stdout
    state = json.loads((tmp_path / "train" / "state.json").read_text())
    assert state == {**state, "env_steps": 512, "iteration": 3}  # 4 iterations × 2 × 64
    assert (tmp_path / "train" / "meta.json").is_file()
    assert len(list((tmp_path / "train").glob("events.out.tfevents.*"))) == 1


def test_world_size_left_in_the_environment_is_refused(monkeypatch):
    """Round-4 probe: WORLD_SIZE=2 left from an earlier job made a plain `train` wait
    forever for a second process."""
    from h2s2r.core.errors import H2S2RError
    from h2s2r.policy.distributed import current_rank

    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(H2S2RError, match="not started by torchrun"):
        current_rank()
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job")
    assert current_rank().world_size == 2


def test_only_train_runs_under_torchrun(monkeypatch, tmp_path, capsys):
    """Round-4 probe: `torchrun … h2s2r eval` ran eval twice, each locking the other out."""
    from h2s2r.cli.main import main

    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["eval", str(tmp_path)]) == 1
    assert "only `h2s2r train` runs as a torchrun job" in capsys.readouterr().err
