"""Trust before motion: a trained run, or an exported policy, checked against its task.

``eval``, ``export`` and ``deploy`` call these same two functions, so a policy that a robot
runs has passed every check an evaluation makes:

- :func:`verify_trained`: ``train/`` loads (every checkpoint's sha256 as written) and was
  trained on this very ``task/`` and ``object/`` (their ``meta.json`` hashes, which change
  with the robot, the path or the mesh);
- :func:`verify_policy`: ``policy/`` loads, was exported from this ``task/`` (and, when
  ``train/`` is present, from this run: the checkpoint's sha256 and the training config),
  and its header names the task's robot, the registry's joint order and the observation
  table of :mod:`h2s2r.core.observation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from h2s2r.core.artifacts import PolicyExport, Task, TrainRun
from h2s2r.core.artifacts.base import META_FILE, sha256_file, to_jsonable
from h2s2r.core.errors import ArtifactError
from h2s2r.core.observation import layout_table, robot_policy_layout
from h2s2r.core.robots import get_robot


def _require_upstream(folder: Path, upstream: Mapping[str, str], ws: Path, rel: str) -> None:
    """``folder`` was made from ``ws/rel`` exactly as it is now (not just: not stale)."""
    path = ws / rel
    if rel not in upstream:
        raise ArtifactError(
            folder / META_FILE,
            f"does not record {rel} among its inputs",
            f"re-run the stage that writes {folder.name}/",
        )
    if not path.is_file():
        raise ArtifactError(path, f"is missing, but {folder.name}/ was made from it", "restore it")
    if sha256_file(path) != upstream[rel]:
        raise ArtifactError(
            folder / META_FILE,
            f"was made from another {rel} (its sha256 differs)",
            f"re-run the stage that writes {folder.name}/ for this {Path(rel).parent}/",
        )


def verify_trained(ws: str | Path) -> tuple[Task, TrainRun]:
    """``task/`` and ``train/`` of workspace ``ws``, checked to belong together."""
    ws = Path(ws)
    task = Task.load(ws / "task")
    train = ws / "train"
    if train.is_dir() and not (train / META_FILE).is_file() and any(train.glob("model_*.pt")):
        raise ArtifactError(
            train / META_FILE,
            "is missing: training stopped before it finished (its checkpoints are there)",
            f"continue it with `h2s2r train {ws} --resume`",
        )
    run = TrainRun.load(train)  # checks each checkpoint's sha256
    for rel in ("task/meta.json", "object/meta.json"):
        _require_upstream(ws / "train", run.provenance.upstream, ws, rel)
    return task, run


def policy_header_provenance(ws: Path, checkpoint: Path, run: TrainRun) -> dict[str, Any]:
    """What ``export`` writes into ``policy.json`` so that the policy can be checked
    against ``train/`` later: the checkpoint's name and sha256 and the training config."""
    return {
        "checkpoint": checkpoint.name,
        "checkpoint_sha256": sha256_file(checkpoint),
        "training_config": to_jsonable(run.provenance.config),
    }


def verify_policy(
    ws: str | Path, folder: str | Path | None = None
) -> tuple[PolicyExport, Task, list[str]]:
    """``policy/`` (or ``folder``: export checks its staged copy before it replaces
    ``policy/``) and ``task/`` of ``ws``, checked to belong together (and to ``train/``
    when it is there). Returns the policy, the task and notes on what was not checked."""
    ws = Path(ws)
    folder = ws / "policy" if folder is None else Path(folder)
    policy = PolicyExport.load(folder)
    task = Task.load(ws / "task")
    _require_upstream(folder, policy.provenance.upstream, ws, "task/meta.json")
    header = policy.header
    path = folder / PolicyExport.HEADER_FILE
    if header["robot"] != task.robot:
        raise ArtifactError(
            path,
            f"is a policy for {header['robot']!r} but task/ is for {task.robot!r}",
            "re-run `h2s2r train` and `h2s2r export` for this task (or retarget back)",
        )
    robot = get_robot(task.robot)
    if list(header["joint_names"]) != list(robot.joint_names):
        raise ArtifactError(
            path,
            f"joint_names {list(header['joint_names'])} are not {robot.name}'s "
            f"{list(robot.joint_names)}",
            "re-run `h2s2r export`",
        )
    dim = int(header["action_semantics"]["dim"])
    if list(header["observation_layout"]) != layout_table(robot_policy_layout(robot, dim)):
        raise ArtifactError(
            path,
            "observation_layout is not the observation table of this h2s2r",
            "re-run `h2s2r export` (the policy was exported by another version)",
        )
    notes = []
    if (ws / "train").is_dir():
        _, run = verify_trained(ws)
        _require_upstream(folder, policy.provenance.upstream, ws, "train/meta.json")
        name = header.get("checkpoint", "")
        ck = ws / "train" / name
        if name not in run.checkpoints or not ck.is_file():
            raise ArtifactError(
                path, f"names checkpoint {name!r}, which train/ does not hold", "re-export"
            )
        if header.get("checkpoint_sha256") != sha256_file(ck):
            raise ArtifactError(
                path,
                f"was exported from another {name} (sha256 differs)",
                "re-run `h2s2r export`",
            )
        if header.get("training_config") != to_jsonable(run.provenance.config):
            raise ArtifactError(
                path, "training_config differs from train/'s", "re-run `h2s2r export`"
            )
    else:
        notes.append("train/ is absent: policy/ was checked against task/ only")
    return policy, task, notes


__all__ = ["policy_header_provenance", "verify_policy", "verify_trained"]
