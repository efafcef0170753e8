"""Data-parallel training across processes: ``torchrun`` starts one ``h2s2r train`` per
device, each steps its own worlds, and PPO all-reduces the gradients (rsl-rl's multi-GPU
mode).

rsl-rl's runner reads ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (set by ``torchrun``) and
joins an NCCL group on ``cuda:LOCAL_RANK``. :func:`runner_class` keeps that and also runs
on CPUs: a process whose learner is on the CPU joins over gloo. So the same command trains
on several GPUs of one node (NCCL), on several nodes, or on two CPU processes here (gloo,
how it is tested)::

    torchrun --standalone --nproc-per-node 4 .venv/bin/h2s2r train WS --backend warp
    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 8 \\
        --rdzv-backend c10d --rdzv-endpoint HOST:29500 .venv/bin/h2s2r train WS --backend warp

Each process trains ``--num-envs`` worlds of its own (seeds offset by the rank), so the
batch per update is ``world_size × num_envs × steps_per_env``. Rank 0 alone writes
``train/`` (checkpoints, logs, validation) and decides when the budget is spent; the
others follow it. Observation normalizers are updated per process from its own worlds
(as in rsl-rl), the network weights stay identical.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from h2s2r.core.errors import H2S2RError

SEED_STRIDE = 1_000  # rank r's worlds use seed + r × SEED_STRIDE


@dataclass(frozen=True)
class Rank:
    """This process's place in a ``torchrun`` job."""

    rank: int
    local_rank: int
    world_size: int

    @property
    def main(self) -> bool:
        return self.rank == 0


SINGLE = Rank(0, 0, 1)


# torchrun sets this for the processes it starts (with WORLD_SIZE, RANK, LOCAL_RANK).
TORCHRUN_MARK = "TORCHELASTIC_RUN_ID"
# How long a process waits for the others of its job to join (s).
JOIN_TIMEOUT_S = float(os.environ.get("H2S2R_JOIN_TIMEOUT_S", "300"))


def current_rank() -> Rank:
    """The ``torchrun`` rank of this process (``SINGLE`` when not started by torchrun).

    ``WORLD_SIZE`` > 1 left in a shell's environment (an earlier job's exports) would make
    a plain ``h2s2r train`` wait for processes that never come: without torchrun's own
    variable it is refused."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as e:
        raise H2S2RError(f"WORLD_SIZE / RANK / LOCAL_RANK must be integers ({e})") from e
    if world <= 1:
        return SINGLE
    if TORCHRUN_MARK not in os.environ:
        raise H2S2RError(
            f"WORLD_SIZE={world} is set but this process was not started by torchrun — "
            "for one process run `unset WORLD_SIZE RANK LOCAL_RANK` first; for a job use "
            "`torchrun --nproc-per-node N h2s2r train …` (docs/gpu.md)"
        )
    return Rank(rank, local, world)


def process_group_backend(device: str) -> str:
    """``nccl`` for a CUDA learner, ``gloo`` for a CPU one."""
    return "nccl" if str(device).startswith("cuda") else "gloo"


def local_device(device: str, rank: Rank) -> str:
    """The warp backend's device for this rank: in a multi-process job each process
    takes GPU ``LOCAL_RANK`` (for ``cuda``, ``cuda:N`` or the automatic choice where a GPU
    exists); ``cpu`` stays, and so does everything outside a job."""
    if rank.world_size <= 1 or device == "cpu":
        return device
    if device == "":
        import torch

        if not torch.cuda.is_available():
            return device
    return f"cuda:{rank.local_rank}"


def broadcast_flag(value: bool) -> bool:
    """Rank 0's ``value`` on every rank (a no-op outside a process group)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    flag = torch.tensor([int(value)], device=device)
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def runner_class():
    """rsl-rl's ``OnPolicyRunner``, joining the process group over gloo when its device is
    the CPU (rsl-rl's own code asks for NCCL and ``cuda:LOCAL_RANK``)."""
    import torch
    import torch.distributed as dist
    from rsl_rl.runners import OnPolicyRunner

    class DataParallelRunner(OnPolicyRunner):
        def _configure_multi_gpu(self) -> None:
            rank = current_rank()
            self.gpu_world_size = rank.world_size
            self.is_distributed = rank.world_size > 1
            self.gpu_local_rank, self.gpu_global_rank = rank.local_rank, rank.rank
            if not self.is_distributed:
                self.cfg["multi_gpu"] = None
                return
            self.cfg["multi_gpu"] = {
                "global_rank": rank.rank,
                "local_rank": rank.local_rank,
                "world_size": rank.world_size,
            }
            backend = process_group_backend(self.device)
            if backend == "nccl":
                if str(self.device) != f"cuda:{rank.local_rank}":
                    raise ValueError(f"rank {rank.rank}: device {self.device} is not its GPU")
                torch.cuda.set_device(rank.local_rank)
            if not dist.is_initialized():
                master = os.environ.get("MASTER_ADDR", "?")
                where = f"{master}:{os.environ.get('MASTER_PORT', '?')}"
                try:
                    dist.init_process_group(
                        backend=backend,
                        rank=rank.rank,
                        world_size=rank.world_size,
                        timeout=datetime.timedelta(seconds=JOIN_TIMEOUT_S),
                    )
                except (RuntimeError, dist.DistStoreError) as e:
                    raise H2S2RError(
                        f"rank {rank.rank}: the other processes of the job did not join at "
                        f"{where} within {JOIN_TIMEOUT_S:.0f} s ({e}); check that every "
                        "node runs the same torchrun command (H2S2R_JOIN_TIMEOUT_S sets "
                        "the wait)"
                    ) from e

    return DataParallelRunner


__all__ = [
    "JOIN_TIMEOUT_S",
    "SEED_STRIDE",
    "SINGLE",
    "TORCHRUN_MARK",
    "Rank",
    "broadcast_flag",
    "current_rank",
    "local_device",
    "process_group_backend",
    "runner_class",
]
